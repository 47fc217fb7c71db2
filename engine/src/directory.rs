//! The consortium's Pix-key directory, as a pure state machine every bank keeps a full copy of
//! (owned by the engine thread, persisted in the same batch as everything else).
//!
//! There is no central directory. A key operation (register or delete) is a transaction of its
//! own, run by the bank that owns the account while it holds the token, with two-phase commit at
//! **every** member bank: each one reserves the key durably ([`Directory::prepare`]) or refuses
//! (the key belongs to someone else, or another operation on it is in flight), and the operation
//! commits only if every bank reserved it ([`Directory::decide`]). So:
//! - two banks registering the same key at the same moment get exactly one winner: a bank holds
//!   one reservation per key, and a commit needs every bank's;
//! - a committed registration is durable at every bank, and survives any crash (a bank that
//!   crashed prepared has it in doubt and asks the coordinator, as for any transaction);
//! - every bank resolves any key from its own copy: a lookup needs nobody.
//!
//! The price is availability: while a member bank does not answer, keys cannot be registered
//! or deleted (payments by key go on). No bank can register a key for another bank's account,
//! nor delete or take another bank's key: a claim always registers the key for the coordinating
//! bank, only the bank that owns a key may release it, and a key moves only with a permit the
//! owning bank signed, which every bank checks on its own ([`PortPermit`]).

use crate::proof::{BankKey, Keyring, Sig};
use domain::{AccountId, BankId, PixKey, Refusal, TxId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Keys one bank may own in the directory, at most: a rogue bank cannot grow every other bank's
/// copy without bound.
pub const KEYS_PER_BANK_MAX: usize = 2_000_000;
/// Longest holder name and masked document a directory entry carries.
const NAME_MAX_CHARS: usize = 100;
const DOCUMENT_MAX_CHARS: usize = 24;

/// Who a key pays: an account at a bank, and how payers see its holder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirEntry {
    pub key: PixKey,
    pub bank: BankId,
    pub account: AccountId,
    pub name: String,
    /// The holder's masked CPF (or full CNPJ), as payers see it.
    pub document: String,
    pub since_ms: i64,
}

/// A change to the directory, proposed by the bank that owns the account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyOp {
    /// Register `key` for `account` at the coordinating bank.
    Claim {
        key: PixKey,
        account: AccountId,
        name: String,
        document: String,
    },
    /// Delete `key`, which the coordinating bank owns.
    Release { key: PixKey },
    /// Move a key from the bank that owns it to an account at the coordinating bank
    /// (portability), as `permit` says: the owning bank's signed word that its client, logged
    /// in there, let the key go to that account. Every bank checks the signature against the
    /// owning bank's public key before it reserves anything, so a move never depends on the
    /// coordinator having asked the owner.
    Port { permit: PortPermit },
}

/// The owning bank's signed permission for one key move: key `key`, which bank `from` owns now,
/// may move to account `account` at bank `to`, shown as `name` and `document`, until `until_ms`
/// (by `from`'s clock). `from` signs it only when the key's owner, logged in there, allowed bank
/// `to` to take it and one of the new account's holders is the key's holder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortPermit {
    pub key: PixKey,
    pub from: BankId,
    pub to: BankId,
    pub account: AccountId,
    pub name: String,
    pub document: String,
    pub until_ms: i64,
    pub signature: Sig,
}

/// What a bank asks of the bank that owns a key before moving it to one of its accounts: the
/// permit's fields, and the new account's holders (the owner checks one of them holds the key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRequest {
    pub key: PixKey,
    pub account: AccountId,
    pub name: String,
    pub document: String,
    pub holders: Vec<domain::TaxId>,
}

/// What giving `key` to an account takes: an operation this bank runs now, or first a permit
/// from the bank that owns the key (portability).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyClaim {
    Op(KeyOp),
    Port { owner: BankId, request: PortRequest },
}

/// The kind of statement a [`PortPermit`] is, as its signature names it.
const PERMIT_TAG: &str = "consorcio-port-permit/v1";

/// How long a permit is good for: the move runs right after it is given, and banks' clocks
/// may differ by a few seconds.
pub const PERMIT_TTL_MS: i64 = 5 * 60 * 1000;

impl PortPermit {
    /// What the owning bank signs: every field but the signature, in one fixed encoding.
    fn statement(&self) -> Vec<u8> {
        serde_json::to_vec(&(
            &self.key,
            self.from,
            self.to,
            self.account,
            &self.name,
            &self.document,
            self.until_ms,
        ))
        .expect("a permit serialises")
    }

    /// A permit signed by bank `from` with its `key`.
    #[allow(clippy::too_many_arguments)]
    pub fn sign(
        signer: &BankKey,
        (key, from, to): (PixKey, BankId, BankId),
        account: AccountId,
        name: String,
        document: String,
        until_ms: i64,
    ) -> PortPermit {
        let mut permit = PortPermit {
            key,
            from,
            to,
            account,
            name,
            document,
            until_ms,
            signature: Sig([0; 64]),
        };
        permit.signature = signer.sign_statement(PERMIT_TAG, &permit.statement());
        permit
    }

    /// Whether this permit lets `coordinator` move its key now, from the bank that owns it
    /// (`owner`): signed by that bank, for `coordinator`, not expired.
    fn allows(&self, owner: BankId, coordinator: BankId, keys: &Keyring, now_ms: i64) -> bool {
        self.from == owner
            && self.to == coordinator
            && now_ms <= self.until_ms
            && keys.verify(owner, PERMIT_TAG, &self.statement(), &self.signature)
    }
}

impl KeyOp {
    pub fn key(&self) -> &PixKey {
        match self {
            KeyOp::Claim { key, .. } | KeyOp::Release { key } => key,
            KeyOp::Port { permit } => &permit.key,
        }
    }
}

/// A key reserved by a prepared operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub tx: TxId,
    pub coordinator: BankId,
    pub op: KeyOp,
    pub at_ms: i64,
}

/// What a batch changed, for the store.
#[derive(Clone, Debug)]
pub enum DirChange {
    Reserved(Reservation),
    /// The reservation of `key` is gone (decided); the entry is now `entry` (`None`: no owner).
    Decided {
        key: PixKey,
        entry: Option<DirEntry>,
    },
}

/// The directory's entries, shared: the engine thread alone writes them (as operations commit),
/// request handlers read them without a round trip through the engine's queue (a payment's
/// receivers are looked up on every leg). An entry is visible a moment before its batch is
/// durable; should that batch fail, the receiving bank refuses the credit at prepare.
pub type SharedEntries = Arc<RwLock<HashMap<PixKey, DirEntry>>>;

#[derive(Default)]
pub struct Directory {
    entries: SharedEntries,
    per_bank: HashMap<BankId, usize>,
    reservations: HashMap<PixKey, Reservation>,
    by_tx: HashMap<TxId, PixKey>,
    changes: Vec<DirChange>,
}

impl Directory {
    pub fn restore(entries: Vec<DirEntry>, reservations: Vec<Reservation>) -> Directory {
        let mut d = Directory::default();
        {
            let mut map = d.entries.write().expect("directory lock");
            for e in entries {
                *d.per_bank.entry(e.bank).or_default() += 1;
                map.insert(e.key.clone(), e);
            }
        }
        for r in reservations {
            d.by_tx.insert(r.tx.clone(), r.op.key().clone());
            d.reservations.insert(r.op.key().clone(), r);
        }
        d
    }

    pub fn take_changes(&mut self) -> Vec<DirChange> {
        std::mem::take(&mut self.changes)
    }

    /// The entries, for readers outside the engine thread.
    pub fn shared(&self) -> SharedEntries {
        self.entries.clone()
    }

    /// Replaces this directory with `other` (reloaded from the store), keeping the shared table
    /// its readers hold.
    pub fn replace_with(&mut self, other: Directory) {
        let fresh = std::mem::take(&mut *other.entries.write().expect("directory lock"));
        *self.write() = fresh;
        self.per_bank = other.per_bank;
        self.reservations = other.reservations;
        self.by_tx = other.by_tx;
        self.changes = other.changes;
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<PixKey, DirEntry>> {
        self.entries.read().expect("directory lock")
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<PixKey, DirEntry>> {
        self.entries.write().expect("directory lock")
    }

    /// Who `key` pays, if anyone.
    pub fn owner(&self, key: &PixKey) -> Option<DirEntry> {
        self.read().get(key).cloned()
    }

    /// The keys of `account` at `bank`, in a stable order.
    pub fn keys_of(&self, bank: BankId, account: AccountId) -> Vec<DirEntry> {
        let mut keys: Vec<DirEntry> = self
            .read()
            .values()
            .filter(|e| e.bank == bank && e.account == account)
            .cloned()
            .collect();
        keys.sort_by(|a, b| (a.since_ms, &a.key).cmp(&(b.since_ms, &b.key)));
        keys
    }

    /// Claims in flight for `account` at `bank` (they count against its limit of keys).
    pub fn claims_in_flight(&self, bank: BankId, account: AccountId) -> usize {
        self.reservations
            .values()
            .filter(|r| {
                r.coordinator == bank
                    && match &r.op {
                        KeyOp::Claim { account: a, .. } => *a == account,
                        KeyOp::Port { permit } => permit.account == account,
                        KeyOp::Release { .. } => false,
                    }
            })
            .count()
    }

    /// Whether `tx` holds a reservation here.
    pub fn holds(&self, tx: &TxId) -> bool {
        self.by_tx.contains_key(tx)
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    pub fn reserved_count(&self) -> usize {
        self.reservations.len()
    }

    /// Phase one of `op` at this bank (`me`), coordinated by `coordinator`: the key is reserved
    /// for `tx`, or the refusal says why. `keys` checks a move's permit.
    pub fn prepare(
        &mut self,
        (me, keys): (BankId, &Keyring),
        tx: &TxId,
        coordinator: BankId,
        op: KeyOp,
        now_ms: i64,
    ) -> Result<(), Refusal> {
        let key = op.key().clone();
        if let Some(r) = self.reservations.get(&key) {
            return if r.tx == *tx {
                Ok(())
            } else {
                Err(Refusal::KeyBusy { bank: me })
            };
        }
        if self.by_tx.contains_key(tx) {
            return Err(Refusal::InvalidParts { bank: me });
        }
        let existing = self.owner(&key);
        let full =
            |bank: BankId| self.per_bank.get(&bank).copied().unwrap_or(0) >= KEYS_PER_BANK_MAX;
        match (&op, existing.as_ref()) {
            (KeyOp::Claim { name, document, .. }, _) if malformed_holder(name, document) => {
                return Err(Refusal::InvalidParts { bank: me });
            }
            (KeyOp::Claim { .. }, Some(_)) => return Err(Refusal::KeyTaken { bank: me }),
            (KeyOp::Claim { .. }, None) if full(coordinator) => {
                return Err(Refusal::KeyLimit { bank: me });
            }
            (KeyOp::Claim { .. }, None) => {}
            (KeyOp::Release { .. }, Some(e)) if e.bank == coordinator => {}
            (KeyOp::Release { .. }, _) => return Err(Refusal::KeyUnknown { bank: me }),
            (KeyOp::Port { permit }, _) if malformed_holder(&permit.name, &permit.document) => {
                return Err(Refusal::InvalidParts { bank: me });
            }
            // A document is no secret: a CPF/CNPJ key never moves by a claim of the same holder.
            (KeyOp::Port { permit }, _) if permit.key.tax_id().is_some() => {
                return Err(Refusal::InvalidParts { bank: me });
            }
            (KeyOp::Port { .. }, None) => return Err(Refusal::KeyUnknown { bank: me }),
            // Already the coordinator's: nothing to move.
            (KeyOp::Port { .. }, Some(e)) if e.bank == coordinator => {
                return Err(Refusal::InvalidParts { bank: me });
            }
            // Only with the owning bank's signed word, whoever else was asked.
            (KeyOp::Port { permit }, Some(e))
                if !permit.allows(e.bank, coordinator, keys, now_ms) =>
            {
                return Err(Refusal::PortNotAllowed { bank: e.bank });
            }
            (KeyOp::Port { .. }, Some(_)) if full(coordinator) => {
                return Err(Refusal::KeyLimit { bank: me });
            }
            (KeyOp::Port { .. }, Some(_)) => {}
        }
        let reservation = Reservation {
            tx: tx.clone(),
            coordinator,
            op,
            at_ms: now_ms,
        };
        self.by_tx.insert(tx.clone(), key.clone());
        self.reservations.insert(key, reservation.clone());
        self.changes.push(DirChange::Reserved(reservation));
        Ok(())
    }

    /// Takes an entry that left the directory off its bank's count.
    fn uncount(&mut self, gone: Option<DirEntry>) {
        if let Some(old) = gone {
            if let Some(n) = self.per_bank.get_mut(&old.bank) {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// Phase two of `tx` at this bank: applied on commit, dropped on abort. False if `tx` holds
    /// no reservation here.
    pub fn decide(&mut self, tx: &TxId, commit: bool, now_ms: i64) -> bool {
        let Some(key) = self.by_tx.remove(tx) else {
            return false;
        };
        let Some(r) = self.reservations.remove(&key) else {
            return false;
        };
        if commit {
            match r.op {
                // A claim finds the key free; a move replaces the old bank's entry.
                KeyOp::Claim {
                    key,
                    account,
                    name,
                    document,
                }
                | KeyOp::Port {
                    permit:
                        PortPermit {
                            key,
                            account,
                            name,
                            document,
                            ..
                        },
                } => {
                    let entry = DirEntry {
                        key: key.clone(),
                        bank: r.coordinator,
                        account,
                        name,
                        document,
                        since_ms: now_ms,
                    };
                    *self.per_bank.entry(entry.bank).or_default() += 1;
                    let replaced = self.write().insert(key, entry);
                    self.uncount(replaced);
                }
                KeyOp::Release { key } => {
                    let removed = self.write().remove(&key);
                    self.uncount(removed);
                }
            }
        }
        let entry = self.owner(&key);
        self.changes.push(DirChange::Decided { key, entry });
        true
    }
}

/// A new random key (EVP), from this machine's randomness.
pub fn random_evp() -> PixKey {
    PixKey::evp_from(rand::random())
}

/// Whether the holder's name and masked document an operation gives are unusable (empty or
/// too long), for a claim and a move alike.
fn malformed_holder(name: &str, document: &str) -> bool {
    name.trim().is_empty()
        || name.chars().count() > NAME_MAX_CHARS
        || document.chars().count() > DOCUMENT_MAX_CHARS
}

#[cfg(test)]
mod tests;
