//! Moving money: deposits, who a Pix key pays, a Pix, a Pix packet and where a packet stands.

use crate::error::AppError;
use domain::dto::{PacketOutcome, ReceiverPreview, TransferReceipt};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::api::ssr;

/// One row of the packet builder, as typed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegInput {
    pub source_bank: String,
    pub receiver_key: String,
    pub receiver_bank: String,
    pub amount: String,
    /// The payer's message to this row's receiver (left out or blank: none).
    #[serde(default)]
    pub message: String,
}

/// Deposits `amount` into the client's account, recorded as made by `method` (`cash`, `boleto`
/// or `qr`; left out, not recorded).
#[server(endpoint = "deposit")]
pub async fn deposit(
    amount: String,
    tx_id: String,
    method: Option<String>,
) -> Result<domain::Cents, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let amount = domain::Cents::parse_amount(&amount).map_err(|e| ssr::field("amount", e))?;
    let method = match method.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(domain::dto::DepositMethod::parse(text).ok_or_else(|| {
            let words = domain::dto::DepositMethod::ALL
                .map(|m| m.as_str())
                .join(", ");
            AppError::field(
                "method",
                crate::i18n::td_string!(ssr::locale(), err.deposit_method, methods = words)
                    .to_string(),
            )
        })?),
    };
    let tx = ssr::tx_id(&tx_id, &engine)?;
    engine
        .deposit_by(tx, account, amount, method)
        .await
        .map_err(ssr::from_engine)?;
    Ok(amount)
}

/// Who receives a Pix sent to `key`: the holder's name, masked document and bank, from this
/// bank's copy of the consortium's key directory. `bank`, when given, must be the key's bank.
/// Requires a session, so that keys cannot be enumerated anonymously, and spends the client's
/// lookup budget (see [`engine::budget`]): a stranger with a free account cannot harvest names
/// or unmask documents by trying keys.
#[server(endpoint = "lookup_receiver")]
pub async fn lookup_receiver(
    key: String,
    bank: Option<String>,
) -> Result<ReceiverPreview, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let key = ssr::pix_key(&key, "key")?;
    lookup::receiver(&engine, account, key, bank.as_deref()).await
}

/// A Pix from the client's account here to the account `key` pays (at the bank the directory
/// names; `bank`, when given, must be that bank), with the payer's `message` if any (at most
/// 140 characters, shown to both). Inside the bank it is immediate; to another bank it is a
/// one-leg packet through the token ring and 2PC.
#[server(endpoint = "send_pix")]
pub async fn send_pix(
    key: String,
    amount: String,
    tx_id: String,
    bank: Option<String>,
    message: Option<String>,
) -> Result<TransferReceipt, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let key = ssr::pix_key(&key, "key")?;
    let amount = domain::Cents::parse_amount(&amount).map_err(|e| ssr::field("amount", e))?;
    let message = ssr::pix_message(message.as_deref(), "message")?;
    let tx = ssr::tx_id(&tx_id, &engine)?;
    let receiver = lookup::receiver(&engine, account, key.clone(), bank.as_deref()).await?;
    let contact = crate::api::contacts::contact_of(&key, &receiver);
    let sent = if receiver.bank.id == engine.bank().id {
        engine
            .pix_with(tx, account, (key, amount), message)
            .await
            .map_err(ssr::from_engine)
    } else {
        let pix = packets::Pix {
            account,
            tx,
            key,
            amount,
            bank: receiver.bank.id,
            message,
        };
        packets::send(&engine, pix).await
    };
    if sent.is_ok() {
        lookup::paid(account);
        // The receiver is now the newest to pay again; a failure to keep it costs the client
        // only that shortcut, never the Pix.
        if let Err(e) = engine.used_contact(account, contact).await {
            tracing::warn!(error = %e, "keeping a receiver to pay again");
        }
    }
    sent
}

/// Key lookups within the client's budget.
#[cfg(feature = "ssr")]
pub(crate) mod lookup {
    use crate::api::ssr;
    use crate::error::AppError;
    use domain::dto::ReceiverPreview;
    use domain::{AccountId, PixKey};
    use engine::budget::{LookupCost, LOOKUP_FOUND_COST, LOOKUP_MISSING_COST};
    use engine::EngineHandle;

    /// Who `key` pays. A lookup is paid for before it is made, at the price of a miss (so that
    /// a spent budget tells nothing about the key); a key that exists gives the difference back.
    pub async fn receiver(
        engine: &EngineHandle,
        account: AccountId,
        key: PixKey,
        bank: Option<&str>,
    ) -> Result<ReceiverPreview, AppError> {
        let expected = bank
            .filter(|b| !b.trim().is_empty())
            .map(|b| ssr::bank_id(Some(b), "bank", engine))
            .transpose()?;
        let (account_key, address_key) = (ssr::account_key(account), ssr::address_key());
        if let Some(budgets) = ssr::budgets() {
            budgets
                .lookup(
                    &account_key,
                    &address_key,
                    LookupCost::Missing,
                    ssr::now_ms(),
                )
                .map_err(|ms| ssr::spent(ssr::Spent::Lookups, ms))?;
        }
        let found = ssr::resolve_key(engine, key)
            .await
            .and_then(|found| match expected {
                Some(b) if b != found.bank.id => {
                    Err(ssr::from_engine(engine::LedgerError::UnknownAccount.into()))
                }
                _ => Ok(found),
            });
        // A key that exists gives back all but the price of a find; an answer that says nothing
        // about the key (the directory's bank did not answer, the bank is busy) costs nothing.
        let back = match &found {
            Ok(_) => Some(LOOKUP_MISSING_COST - LOOKUP_FOUND_COST),
            Err(AppError::Unavailable(_) | AppError::Unexpected) => Some(LOOKUP_MISSING_COST),
            Err(_) => None,
        };
        if let (Some(back), Some(budgets)) = (back, ssr::budgets()) {
            budgets.lookup_refund(&account_key, &address_key, back, ssr::now_ms());
        }
        found
    }

    /// A Pix was paid to a looked-up key: part of its lookup's cost comes back.
    pub fn paid(account: AccountId) {
        if let Some(budgets) = ssr::budgets() {
            budgets.paid(
                &ssr::account_key(account),
                &ssr::address_key(),
                ssr::now_ms(),
            );
        }
    }
}

/// A Pix packet: every leg commits or none does. Each leg draws from the client's account at
/// `source_bank` (that bank checks it is the client's) and pays `receiver_key` at `receiver_bank`.
/// Field errors name the row: `legs.<n>.<field>`. Retrying with the same `tx_id` returns the first
/// outcome.
#[server(endpoint = "send_packet", input = leptos::server_fn::codec::Json)]
pub async fn send_packet(tx_id: String, legs: Vec<LegInput>) -> Result<PacketOutcome, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let packet = packets::packet(&engine, account, &legs).await?;
    let tx = ssr::tx_id(&tx_id, &engine)?;
    let consortium = ssr::require_consortium()?;
    let keys: Vec<domain::PixKey> = packet
        .legs()
        .iter()
        .map(|l| l.receiver_key.clone())
        .collect();
    let outcome = consortium
        .submit(account, tx, packet)
        .await
        .map_err(ssr::from_engine)?;
    // Every receiver paid is one to pay again, newest last paid first (as for a Pix).
    for contact in domain::contacts::paid_in(&keys, &outcome) {
        if let Err(e) = engine.used_contact(account, contact).await {
            tracing::warn!(error = %e, "keeping a packet's receiver to pay again");
        }
    }
    Ok(outcome)
}

/// Where the client's packet `tx_id` stands, while it runs and shortly after.
#[server(endpoint = "packet_progress")]
pub async fn packet_progress(
    tx_id: String,
) -> Result<Option<domain::dto::PacketProgress>, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let tx = domain::TxId::parse(&tx_id).map_err(|e| ssr::field("tx_id", e))?;
    Ok(ssr::consortium().and_then(|c| c.progress(account, &tx)))
}

/// What goes through the consortium: a Pix to another bank (a one-leg packet), a packet's rows.
#[cfg(feature = "ssr")]
pub(crate) mod packets {
    use crate::api::ssr;
    use crate::error::AppError;
    use domain::dto::{PacketLeg, ReceiverPreview, TransferReceipt, TxStatus};
    use domain::packet::Packet;
    use domain::{AccountId, BankId, Cents, PixKey, PixMessage, TxId};
    use engine::EngineHandle;

    /// A Pix from `account` here to `key` at another bank, `bank`.
    pub struct Pix {
        pub account: AccountId,
        pub tx: TxId,
        pub key: PixKey,
        pub amount: Cents,
        pub bank: BankId,
        pub message: PixMessage,
    }

    /// Sends `pix` as a one-leg packet and answers once it is decided: a receipt when it
    /// committed, the refusal in the client's words when it did not.
    pub async fn send(engine: &EngineHandle, pix: Pix) -> Result<TransferReceipt, AppError> {
        let Pix {
            account,
            tx,
            key,
            amount,
            bank,
            message,
        } = pix;
        let consortium = ssr::require_consortium()?;
        let banks = consortium.banks();
        let leg = PacketLeg {
            source_bank: engine.bank().id,
            receiver_key: key.clone(),
            receiver_bank: bank,
            amount,
            message,
        };
        let members: Vec<BankId> = banks.iter().map(|b| b.id).collect();
        let packet = Packet::new(vec![leg], &members).map_err(|e| ssr::from_engine(e.into()))?;
        let outcome = consortium
            .submit(account, tx, packet)
            .await
            .map_err(ssr::from_engine)?;
        if let Some((_, reason)) = outcome.failure() {
            return Err(AppError::Refused(crate::text::refusal(
                ssr::locale(),
                reason,
                &banks,
            )));
        }
        if outcome.status != TxStatus::Committed {
            return Err(AppError::Refused(
                crate::i18n::td_string!(ssr::locale(), err.transfer_cancelled).to_string(),
            ));
        }
        let receiver = outcome.legs.first().and_then(|l| l.receiver.clone());
        let name = receiver
            .as_ref()
            .map(|r| r.name.clone())
            .unwrap_or_default();
        let key_masked = receiver
            .map(|r| r.key_masked)
            .unwrap_or_else(|| key.masked());
        Ok(TransferReceipt {
            tx_id: outcome.tx_id,
            status: outcome.status,
            amount,
            receiver: ReceiverPreview {
                name,
                key_masked,
                bank: crate::text::bank_info(ssr::locale(), bank, &banks),
            },
        })
    }

    /// A packet as the client typed it, read and checked whole as every packet is, whether sent
    /// now or scheduled: at most [`domain::dto::MAX_PACKET_LEGS`] rows, each row read
    /// ([`leg`]), then [`Packet::new`] against the consortium's members. Needs a consortium.
    pub async fn packet(
        engine: &EngineHandle,
        account: AccountId,
        legs: &[super::LegInput],
    ) -> Result<Packet, AppError> {
        if legs.len() > domain::dto::MAX_PACKET_LEGS {
            return Err(ssr::from_engine(
                domain::packet::PacketError::LegCount.into(),
            ));
        }
        let mut parsed = Vec::with_capacity(legs.len());
        for (i, leg) in legs.iter().enumerate() {
            parsed.push(self::leg(engine, account, i, leg).await?);
        }
        let consortium = ssr::require_consortium()?;
        let members: Vec<BankId> = consortium.banks().iter().map(|b| b.id).collect();
        Packet::new(parsed, &members).map_err(|e| ssr::from_engine(e.into()))
    }

    /// Row `i` of a packet, read: the receiver's bank is the one the directory names; a bank
    /// given by the caller is taken as it is (and that bank refuses a key that is not one of
    /// its accounts').
    pub async fn leg(
        engine: &EngineHandle,
        account: AccountId,
        i: usize,
        leg: &super::LegInput,
    ) -> Result<PacketLeg, AppError> {
        let f = |name: &str| format!("legs.{i}.{name}");
        // Checked before the lookup, which spends the client's budget.
        let message = ssr::pix_message(Some(&leg.message), &f("message"))?;
        let receiver_key = ssr::pix_key(&leg.receiver_key, &f("receiver_key"))?;
        let receiver_bank = match leg.receiver_bank.trim() {
            "" => {
                match super::lookup::receiver(engine, account, receiver_key.clone(), None).await {
                    Ok(found) => found.bank.id,
                    Err(AppError::NotFound(m)) => {
                        return Err(AppError::field(&f("receiver_key"), m))
                    }
                    Err(e) => return Err(e),
                }
            }
            given => ssr::bank_id(Some(given), &f("receiver_bank"), engine)?,
        };
        Ok(PacketLeg {
            source_bank: ssr::bank_id(Some(&leg.source_bank), &f("source_bank"), engine)?,
            receiver_key,
            receiver_bank,
            amount: Cents::parse_amount(&leg.amount).map_err(|e| ssr::field(&f("amount"), e))?,
            message,
        })
    }
}
