//! Who receives a Pix key at a bank, asked of that bank, with a short cache; and the client's
//! accounts at the other banks.

use crate::peers::{PeerError, Peers};
use domain::dto::{BankInfo, Counterparty, LinkStatus, LinkedAccount, ReceiverPreview};
use domain::{AccountId, BankId, Refusal, TaxId};
use engine::wire::{AccountAnswer, AccountMsg, LookupMsg, Route};
use engine::{ConsortiumError, EngineError, EngineHandle, EngineResult, LedgerError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

const LOOKUP_TTL: Duration = Duration::from_secs(60);
const LOOKUP_CACHE_MAX: usize = 10_000;

/// Receivers found at other banks in the last minute: a Pix key's owner at a bank does not change
/// (accounts are never renamed or closed), and the bank that holds the account checks the key
/// again when it prepares the credit, so a cached name saves a round trip per leg and risks
/// nothing. Bounded: emptied when full. Its lock is a leaf: nothing else is locked under it.
#[derive(Default)]
struct LookupCache {
    entries: Mutex<HashMap<(BankId, TaxId), (ReceiverPreview, Instant)>>,
}

impl LookupCache {
    fn get(&self, bank: BankId, key: TaxId) -> Option<ReceiverPreview> {
        let entries = self.entries.lock().expect("lookup cache lock");
        entries
            .get(&(bank, key))
            .filter(|(_, at)| at.elapsed() < LOOKUP_TTL)
            .map(|(p, _)| p.clone())
    }

    fn put(&self, bank: BankId, key: TaxId, preview: &ReceiverPreview) {
        let mut entries = self.entries.lock().expect("lookup cache lock");
        if entries.len() >= LOOKUP_CACHE_MAX {
            entries.clear();
        }
        entries.insert((bank, key), (preview.clone(), Instant::now()));
    }
}

/// What a lookup needs; cheap to clone into a task.
#[derive(Clone)]
pub struct Directory {
    me: BankId,
    engine: EngineHandle,
    peers: Peers,
    banks: Arc<Vec<BankInfo>>,
    cache: Arc<LookupCache>,
}

impl Directory {
    pub fn new(engine: EngineHandle, peers: Peers, banks: Vec<BankInfo>) -> Directory {
        Directory {
            me: peers.me,
            engine,
            peers,
            banks: Arc::new(banks),
            cache: Arc::default(),
        }
    }

    /// The owner of `key` at `bank`, asked of that bank (of the engine, for this bank), or a
    /// recent answer of that bank while it is answering.
    pub async fn lookup(self, bank: BankId, key: TaxId) -> EngineResult<ReceiverPreview> {
        if bank == self.me {
            return self.engine.lookup_key(key).await;
        }
        if !self.banks.iter().any(|b| b.id == bank) {
            return Err(ConsortiumError::NoSuchBank(bank).into());
        }
        // A cached answer only while the bank answers: otherwise ask, so that the client hears at
        // once that it is unreachable (and a bank back online is asked afresh).
        if let Some(preview) = self
            .cache
            .get(bank, key)
            .filter(|_| self.peers.answering(bank))
        {
            return Ok(preview);
        }
        match self
            .peers
            .call::<Option<ReceiverPreview>>(bank, Route::Lookup, &LookupMsg { key })
            .await
        {
            Ok(Some(preview)) if preview.bank.id == bank => {
                self.cache.put(bank, key, &preview);
                Ok(preview)
            }
            Ok(_) => Err(LedgerError::UnknownAccount.into()),
            Err(e) => {
                tracing::debug!(%bank, error = %e, "lookup failed");
                Err(ConsortiumError::Unreachable(bank).into())
            }
        }
    }

    /// A leg's receiver as the payer will see it, or why the leg cannot be paid.
    pub async fn receiver(self, bank: BankId, key: TaxId) -> Result<Counterparty, Refusal> {
        match self.lookup(bank, key).await {
            Ok(p) => Ok(Counterparty {
                name: p.name,
                key_masked: p.key_masked,
                bank,
            }),
            Err(EngineError::Ledger(LedgerError::UnknownAccount)) => {
                Err(Refusal::UnknownReceiver { bank })
            }
            Err(EngineError::Consortium(ConsortiumError::Unreachable(_))) => {
                Err(Refusal::Unreachable { bank })
            }
            Err(_) => Err(Refusal::NoAnswer { bank }),
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
            let bank = self
                .banks
                .iter()
                .find(|b| b.id == link.bank)
                .cloned()
                .unwrap_or(BankInfo {
                    id: link.bank,
                    name: format!("Bank {}", link.bank),
                });
            calls.spawn(async move {
                let msg = AccountMsg {
                    consent: link.grant.consent.clone(),
                    grantee: account,
                };
                let answer: Result<Option<AccountAnswer>, PeerError> =
                    peers.call(link.bank, Route::Account, &msg).await;
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
