//! Pix keys: an account's keys, claims and their limits, confirmation codes, the owner's
//! allowance and signed permit to move a key, and key operations at a bank alone.

use super::*;

pub(super) struct KeysOf {
    account: AccountId,
}

impl Request for KeysOf {
    type Answer = Vec<DirEntry>;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Vec<DirEntry>> {
        let KeysOf { account } = self;
        Ok(state.directory.keys_of(state.config.bank.id, account))
    }
}

/// The claim of `key` for `account`, checked against the account's holders and its limit.
pub(super) struct ClaimKey {
    account: AccountId,
    key: PixKey,
    port: bool,
}

impl Request for ClaimKey {
    type Answer = KeyClaim;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<KeyClaim> {
        let ClaimKey { account, key, port } = self;
        state.key_claim(account, key, port)
    }
}

/// Bank `to` asks for this bank's signed permission to move one of its keys there.
pub(super) struct SignPermit {
    to: BankId,
    request: PortRequest,
}

impl Request for SignPermit {
    type Answer = Result<PortPermit, Refusal>;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Result<PortPermit, Refusal>> {
        let SignPermit { to, request } = self;
        Ok(state.port_permit(to, request, now))
    }
}

pub(super) struct KeyCode {
    account: AccountId,
    key: PixKey,
}

impl Request for KeyCode {
    type Answer = String;

    fn run(self, state: &mut State, now: i64) -> EngineResult<String> {
        let KeyCode { account, key } = self;
        state
            .key_codes
            .issue(account, key, now)
            .map_err(EngineError::KeyCode)
    }
}

pub(super) struct AllowPort {
    account: AccountId,
    key: PixKey,
    to: BankId,
}

impl Request for AllowPort {
    type Answer = ();

    fn run(self, state: &mut State, now: i64) -> EngineResult<()> {
        let AllowPort { account, key, to } = self;
        state.allow_port(account, key, to, now)
    }
}

pub(super) struct CheckKeyCode {
    account: AccountId,
    key: PixKey,
    code: String,
}

impl Request for CheckKeyCode {
    type Answer = ();

    fn run(self, state: &mut State, now: i64) -> EngineResult<()> {
        let CheckKeyCode { account, key, code } = self;
        state
            .key_codes
            .check(account, &key, &code, now)
            .map_err(EngineError::KeyCode)
    }
}

/// A key operation at a bank alone (no consortium): prepared and decided here at once.
pub(super) struct KeyOpAlone {
    tx: TxId,
    op: KeyOp,
}

impl Request for KeyOpAlone {
    type Answer = Result<(), Refusal>;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Result<(), Refusal>> {
        let KeyOpAlone { tx, op } = self;
        state.key_op_alone(tx, op, now)
    }
}

impl EngineHandle {
    /// Who `key` pays, from this bank's copy of the directory (read in place: no queue).
    pub async fn lookup_key(&self, key: PixKey) -> EngineResult<DirEntry> {
        let keys = self.keys.read().map_err(|_| EngineError::Unexpected)?;
        keys.get(&key)
            .cloned()
            .ok_or_else(|| LedgerError::UnknownAccount.into())
    }

    /// The keys of `account` (at this bank).
    pub async fn keys_of(&self, account: AccountId) -> EngineResult<Vec<DirEntry>> {
        self.request(KeysOf { account }).await
    }

    /// What would give `key` to `account`, if the account may have it: a claim, or with `port`
    /// a move from the same person's account at another bank (which needs that bank's permit).
    pub async fn key_claim(
        &self,
        account: AccountId,
        key: PixKey,
        port: bool,
    ) -> EngineResult<KeyClaim> {
        self.request(ClaimKey { account, key, port }).await
    }

    /// This bank's signed permission for bank `to` to move one of its keys (see
    /// [`PortPermit`]), or why not. Given once per permission its client gave
    /// ([`EngineHandle::allow_port`]).
    pub async fn port_permit(
        &self,
        to: BankId,
        request: PortRequest,
    ) -> EngineResult<Result<PortPermit, Refusal>> {
        self.request(SignPermit { to, request }).await
    }

    /// The owner of `key` (an account here) lets bank `to` move it to an account of hers there,
    /// for [`PORT_ALLOWED_MS`]: without this, this bank signs no permit for the move.
    pub async fn allow_port(
        &self,
        account: AccountId,
        key: PixKey,
        to: BankId,
    ) -> EngineResult<()> {
        self.request(AllowPort { account, key, to }).await
    }

    /// A code for `account` to confirm `key` with (the caller sends it to the address).
    pub async fn key_code(&self, account: AccountId, key: PixKey) -> EngineResult<String> {
        self.request(KeyCode { account, key }).await
    }

    pub async fn check_key_code(
        &self,
        account: AccountId,
        key: PixKey,
        code: String,
    ) -> EngineResult<()> {
        self.request(CheckKeyCode { account, key, code }).await
    }

    /// A key operation at a bank without a consortium (its copy of the directory is all there
    /// is); with one, key operations go through the coordinator like packets.
    pub async fn key_op_alone(&self, tx: TxId, op: KeyOp) -> EngineResult<Result<(), Refusal>> {
        self.request(KeyOpAlone { tx, op }).await
    }
}

impl State {
    fn allow_port(
        &mut self,
        account: AccountId,
        key: PixKey,
        to: BankId,
        now: i64,
    ) -> EngineResult<()> {
        let me = self.config.bank.id;
        match self.directory.owner(&key) {
            Some(e) if e.bank == me && e.account == account && key.tax_id().is_none() => {}
            _ => return Err(KeyError::NotYours.into()),
        }
        if to == me {
            return Err(KeyError::NotYours.into());
        }
        self.port_allowed.retain(|_, (_, _, until)| *until > now);
        if self.port_allowed.len() >= PORT_ALLOWED_MAX {
            return Err(EngineError::Busy);
        }
        self.port_allowed
            .insert(key, (to, account, now + PORT_ALLOWED_MS));
        Ok(())
    }

    /// This bank's permit for bank `to` to move `request.key` to its account, when the key is
    /// one of this bank's, its owner allowed `to` to take it (the allowance is used up) and one
    /// of the new account's holders holds the key's account here (a bank's word about its own
    /// account's holders proves nothing alone: it could name anyone's CPF).
    fn port_permit(
        &mut self,
        to: BankId,
        request: PortRequest,
        now: i64,
    ) -> Result<PortPermit, Refusal> {
        let me = self.config.bank.id;
        let Some(entry) = self.directory.owner(&request.key).filter(|e| e.bank == me) else {
            return Err(Refusal::KeyUnknown { bank: me });
        };
        let same_person = self.ledger.account(entry.account).is_some_and(|a| {
            a.holders
                .iter()
                .any(|h| request.holders.contains(&h.tax_id))
        });
        if !same_person || request.holders.len() > 2 {
            return Err(Refusal::KeyTaken { bank: me });
        }
        let Some(identity) = self.config.identity.clone() else {
            return Err(Refusal::PortNotAllowed { bank: me });
        };
        if !self.take_port_allowed(&request.key, to, now) {
            return Err(Refusal::PortNotAllowed { bank: me });
        }
        Ok(PortPermit::sign(
            &identity,
            (request.key, me, to),
            request.account,
            request.name,
            request.document,
            now + crate::directory::PERMIT_TTL_MS,
        ))
    }

    /// Whether the owner of `key` allowed bank `to` to move it (once: the permission is used up).
    fn take_port_allowed(&mut self, key: &PixKey, to: BankId, now: i64) -> bool {
        let owner = self.directory.owner(key);
        let allowed = self
            .port_allowed
            .get(key)
            .is_some_and(|(bank, account, until)| {
                *bank == to && *until > now && owner.is_some_and(|e| e.account == *account)
            });
        if allowed {
            self.port_allowed.remove(key);
        }
        allowed
    }

    /// The claim of `key` for `account`, as the bank owning the account proposes it: a CPF or
    /// CNPJ key must be a holder's document, the account must have room for another key
    /// (counting claims in flight), and the key must not be registered already.
    pub(super) fn key_claim(
        &self,
        account: AccountId,
        key: PixKey,
        port: bool,
    ) -> EngineResult<KeyClaim> {
        let a = self
            .ledger
            .account(account)
            .ok_or(LedgerError::UnknownAccount)?;
        let me = self.config.bank.id;
        let owner = self.directory.owner(&key);
        if let Some(e) = &owner {
            // A key at another bank may be moved here (portability) when it is the same
            // person's: the masked document the directory shows must be one of this account's
            // holders' (the owning bank then checks the full document before it votes yes).
            let same_person = a.holders.iter().any(|h| h.tax_id.masked() == e.document);
            if e.bank == me || !same_person {
                return Err(if e.bank == me && e.account == account {
                    KeyError::AlreadyYours
                } else {
                    KeyError::Taken
                }
                .into());
            }
            if key.tax_id().is_some() {
                return Err(KeyError::DocumentElsewhere(e.bank).into());
            }
            if !port {
                return Err(KeyError::AtAnotherBank(e.bank).into());
            }
        }
        let holder = match key.tax_id() {
            Some(doc) => a
                .holders
                .iter()
                .find(|h| h.tax_id == doc)
                .ok_or(KeyError::NotYourDocument)?,
            None => &a.holders[0],
        };
        let limit = match a.kind {
            domain::dto::AccountKind::Individual => KEYS_PER_PERSON,
            domain::dto::AccountKind::Company => KEYS_PER_COMPANY,
        };
        let held = self.directory.keys_of(me, account).len()
            + self.directory.claims_in_flight(me, account);
        if held >= limit {
            return Err(KeyError::TooMany.into());
        }
        Ok(match owner {
            None => KeyClaim::Op(KeyOp::Claim {
                key,
                account,
                name: holder.name.clone(),
                document: holder.tax_id.masked(),
            }),
            Some(e) => KeyClaim::Port {
                owner: e.bank,
                request: PortRequest {
                    key,
                    account,
                    name: holder.name.clone(),
                    document: holder.tax_id.masked(),
                    holders: a.holders.iter().map(|h| h.tax_id).collect(),
                },
            },
        })
    }

    /// A key operation at a bank that is alone: its own copy is the whole directory.
    fn key_op_alone(&mut self, tx: TxId, op: KeyOp, now: i64) -> EngineResult<Result<(), Refusal>> {
        let me = self.config.bank.id;
        if let Some(previous) = self.previous_use(&tx)? {
            let _ = previous;
            return Err(LedgerError::TxIdConflict.into());
        }
        let item = PrepareItem {
            tx: tx.clone(),
            parts: vec![(0, crate::twopc::PartSpec::Key(op))],
            plan: None,
        };
        match self.prepare_item(me, (item, true), now) {
            Vote::Prepared => {
                let decision = DecideItem {
                    tx,
                    commit: true,
                    proof: None,
                };
                self.decide_items(me, vec![(decision, true)], now)?;
                Ok(Ok(()))
            }
            Vote::Refused { reason, .. } => Ok(Err(reason)),
        }
    }
}

/// How long an owner's permission to move a key to another bank lasts.
pub const PORT_ALLOWED_MS: i64 = 15 * 60 * 1_000;
/// Permissions to move keys waiting at once, at most.
pub const PORT_ALLOWED_MAX: usize = 10_000;
pub use domain::pix_key::{KEYS_PER_COMPANY, KEYS_PER_PERSON};
