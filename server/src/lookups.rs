//! Who receives a Pix key, from this bank's own copy of the consortium's key directory (every
//! bank keeps one; see `engine::directory`), and the client's accounts at the other banks.

use crate::peers::{PeerError, Peers};
use domain::dto::{BankInfo, Counterparty, LinkStatus, LinkedAccount, ReceiverPreview};
use domain::{AccountId, BankId, PixKey, Refusal};
use engine::wire::{AccountAnswer, AccountMsg};
use engine::{EngineError, EngineHandle, EngineResult, LedgerError};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// What a lookup needs; cheap to clone into a task.
#[derive(Clone)]
pub struct Lookups {
    engine: EngineHandle,
    peers: Peers,
    banks: Arc<Vec<BankInfo>>,
    /// How long another bank has to show a linked account: a client's read, not a ring call, so
    /// a prepare's patience rather than the ring's 200 ms (a busy bank is not "unreachable").
    patience: Duration,
}

impl Lookups {
    pub fn new(
        engine: EngineHandle,
        peers: Peers,
        banks: Vec<BankInfo>,
        patience: Duration,
    ) -> Lookups {
        Lookups {
            engine,
            peers,
            banks: Arc::new(banks),
            patience,
        }
    }

    /// Bank `id` as a client of this bank is shown it (in the client's language when it has no
    /// name here).
    fn bank_info(&self, id: BankId) -> BankInfo {
        match self.banks.iter().find(|b| b.id == id) {
            Some(b) => b.clone(),
            None => BankInfo {
                id,
                name: app::text::unnamed_bank(app::api::ssr::locale(), id),
            },
        }
    }

    /// Who `key` pays, as the payer sees it: the holder's name, masked document and bank. Asked
    /// of nobody: this bank's copy of the directory answers.
    pub async fn lookup(self, key: PixKey) -> EngineResult<ReceiverPreview> {
        let entry = self.engine.lookup_key(key).await?;
        Ok(ReceiverPreview {
            name: entry.name,
            key_masked: entry.document,
            bank: self.bank_info(entry.bank),
        })
    }

    /// A leg's receiver as the payer will see it, or why the leg cannot be paid: the key must
    /// belong to an account at `bank`, the bank the leg names.
    pub async fn receiver(self, bank: BankId, key: PixKey) -> Result<Counterparty, Refusal> {
        match self.lookup(key).await {
            Ok(p) if p.bank.id == bank => Ok(Counterparty {
                name: p.name,
                key_masked: p.key_masked,
                bank,
            }),
            Ok(_) | Err(EngineError::Ledger(LedgerError::UnknownAccount)) => {
                Err(Refusal::UnknownReceiver { bank })
            }
            Err(_) => Err(Refusal::RecordsUnreadable { bank }),
        }
    }

    /// Who bank `bank` says holds its account `account`, for the link `state` it started here:
    /// asked within the ring's patience (`PEER_TIMEOUT_MS`: the consent page is waiting), and
    /// `None` when it does not answer in time, refuses, or answers beyond what a name can be.
    pub async fn link_holder(
        &self,
        bank: BankId,
        account: AccountId,
        state: String,
    ) -> Option<domain::consent::LinkHolder> {
        let msg = engine::wire::HolderMsg { state, account };
        match self.peers.call(bank, &msg).await {
            Ok(Some(holder)) if holder.plausible() => Some(holder),
            Ok(Some(_)) => {
                tracing::warn!(%bank, "a bank named an account's holder beyond any name's bounds");
                None
            }
            Ok(None) => None,
            Err(e) => {
                tracing::info!(%bank, error = %e, "no holder's name for the consent page");
                None
            }
        }
    }

    /// `account`'s links to accounts at other banks, each with what the bank holding it says now:
    /// balances while the consent is active, "ended" when that bank refuses it, "unreachable"
    /// when it does not answer. Nothing is found by CPF/CNPJ.
    pub async fn linked(&self, account: AccountId) -> EngineResult<Vec<LinkedAccount>> {
        let links = self.engine.links(account).await?;
        let mut calls = JoinSet::new();
        for link in links {
            let peers = self.peers.clone();
            let bank = self.bank_info(link.bank);
            let patience = Some(self.patience);
            calls.spawn(async move {
                let msg = AccountMsg {
                    consent: link.grant.consent.clone(),
                    grantee: account,
                };
                let answer: Result<Option<AccountAnswer>, PeerError> =
                    peers.call_within(link.bank, &msg, patience).await;
                let (status, available, blocked) = match answer {
                    Ok(Some(a)) if a.account == link.grant.account => {
                        (LinkStatus::Active, Some(a.available), Some(a.blocked))
                    }
                    Ok(_) => (LinkStatus::Ended, None, None),
                    Err(_) => (LinkStatus::Unreachable, None, None),
                };
                LinkedAccount {
                    bank,
                    consent: link.grant.consent,
                    account: link.grant.account,
                    owner_name: link.grant.owner_name,
                    terms: link.grant.terms,
                    status,
                    available,
                    blocked,
                }
            });
        }
        let mut out: Vec<LinkedAccount> = calls.join_all().await;
        out.sort_by_key(|l| l.bank.id);
        Ok(out)
    }
}
