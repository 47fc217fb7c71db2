//! Consents between banks: codes granted and redeemed, consents given and revoked, the account a
//! consent shows, and the links kept at the bank they were given to.

use super::*;

pub(super) struct GrantCode {
    grant: GrantRequest,
}

impl Request for GrantCode {
    type Answer = String;

    fn run(self, state: &mut State, now: i64) -> EngineResult<String> {
        let GrantCode { grant } = self;
        let GrantRequest {
            owner,
            grantee_bank,
            grantee_account,
            terms,
        } = grant;
        let code = match state.ledger.account(owner) {
            Some(_) => state
                .consents
                .grant_code(owner, grantee_bank, grantee_account, terms, now)
                .map_err(Into::into),
            None => Err(LedgerError::UnknownAccount.into()),
        };
        code
    }
}

pub(super) struct Redeem {
    code: String,
    grantee_bank: BankId,
    grantee_account: AccountId,
}

impl Request for Redeem {
    type Answer = Grant;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Grant> {
        let Redeem {
            code,
            grantee_bank,
            grantee_account,
        } = self;
        let grant = state
            .consents
            .redeem(&code, grantee_bank, grantee_account, now)
            .map_err(EngineError::from)
            .and_then(|c| {
                let account = state
                    .ledger
                    .account(c.owner)
                    .ok_or(EngineError::Ledger(LedgerError::UnknownAccount))?;
                Ok(Grant {
                    consent: c.id,
                    account: c.owner,
                    owner_name: account.holders[0].name.clone(),
                    terms: c.terms,
                })
            });
        grant
    }
}

pub(super) struct ConsentsGiven {
    owner: AccountId,
}

impl Request for ConsentsGiven {
    type Answer = Vec<ConsentView>;
    const READ: bool = true;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Vec<ConsentView>> {
        let ConsentsGiven { owner } = self;
        Ok(state.consents.given(owner, now))
    }
}

pub(super) struct Revoke {
    owner: AccountId,
    id: ConsentId,
}

impl Request for Revoke {
    type Answer = ();

    fn run(self, state: &mut State, now: i64) -> EngineResult<()> {
        let Revoke { owner, id } = self;
        state.consents.revoke(owner, &id, now).map_err(Into::into)
    }
}

pub(super) struct ConsentedAccount {
    id: ConsentId,
    grantee_bank: BankId,
    grantee_account: AccountId,
}

impl Request for ConsentedAccount {
    type Answer = Option<AccountView>;
    const READ: bool = true;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Option<AccountView>> {
        let ConsentedAccount {
            id,
            grantee_bank,
            grantee_account,
        } = self;
        let found = state
            .consents
            .consented_account(&id, grantee_bank, grantee_account, now);
        found.map(|a| state.account_view(a)).transpose()
    }
}

pub(super) struct StartLink {
    account: AccountId,
    bank: BankId,
}

impl Request for StartLink {
    type Answer = String;

    fn run(self, state: &mut State, now: i64) -> EngineResult<String> {
        let StartLink { account, bank } = self;
        state
            .consents
            .start_link(account, bank, now)
            .map_err(Into::into)
    }
}

/// Who holds `account`, for bank `asking`, only while a link `state` of that account to that
/// bank waits (the consent page there names who will draw on its client's account).
pub(super) struct LinkHolderOf {
    state: String,
    account: AccountId,
    asking: BankId,
}

impl Request for LinkHolderOf {
    type Answer = Option<domain::consent::LinkHolder>;
    const READ: bool = true;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Self::Answer> {
        let LinkHolderOf {
            state: link_state,
            account,
            asking,
        } = self;
        if !state.consents.state_is(&link_state, account, asking, now) {
            return Ok(None);
        }
        let Some(found) = state.ledger.account(account) else {
            return Ok(None);
        };
        let company = found.kind == AccountKind::Company;
        let name = found
            .holders
            .iter()
            .map(|h| domain::contacts::masked_name(&h.name, company))
            .collect::<Vec<_>>()
            .join(" & ");
        Ok(found.holders.first().map(|h| domain::consent::LinkHolder {
            name,
            document: h.tax_id.masked(),
        }))
    }
}

pub(super) struct TakeLinkState {
    account: AccountId,
    state: String,
}

impl Request for TakeLinkState {
    type Answer = BankId;

    fn run(self, state: &mut State, now: i64) -> EngineResult<BankId> {
        let TakeLinkState {
            account,
            state: link_state,
        } = self;
        state
            .consents
            .take_state(account, &link_state, now)
            .map_err(Into::into)
    }
}

pub(super) struct SaveLink {
    account: AccountId,
    bank: BankId,
    grant: Grant,
}

impl Request for SaveLink {
    type Answer = ();

    fn run(self, state: &mut State, now: i64) -> EngineResult<()> {
        let SaveLink {
            account,
            bank,
            grant,
        } = self;
        state.consents.save_link(account, bank, grant, now);
        Ok(())
    }
}

pub(super) struct ListLinks {
    account: AccountId,
}

impl Request for ListLinks {
    type Answer = Vec<crate::consent::Link>;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Vec<crate::consent::Link>> {
        let ListLinks { account } = self;
        Ok(state.consents.links(account))
    }
}

impl EngineHandle {
    /// The owner of an account here approved terms for an account at another bank: a one-time
    /// code that bank redeems for the consent (see [`crate::consent`]).
    pub async fn grant_code(&self, grant: GrantRequest) -> EngineResult<String> {
        self.request(GrantCode { grant }).await
    }

    /// Another bank redeems a code for its account: the consent, made durably now.
    pub async fn redeem(
        &self,
        code: String,
        grantee_bank: BankId,
        grantee_account: AccountId,
    ) -> EngineResult<Grant> {
        self.request(Redeem {
            code,
            grantee_bank,
            grantee_account,
        })
        .await
    }

    pub async fn consents_given(&self, owner: AccountId) -> EngineResult<Vec<ConsentView>> {
        self.request(ConsentsGiven { owner }).await
    }

    pub async fn revoke(&self, owner: AccountId, id: ConsentId) -> EngineResult<()> {
        self.request(Revoke { owner, id }).await
    }

    /// The account an active consent lets an account at another bank see.
    pub async fn consented_account(
        &self,
        id: ConsentId,
        grantee_bank: BankId,
        grantee_account: AccountId,
    ) -> EngineResult<Option<AccountView>> {
        self.request(ConsentedAccount {
            id,
            grantee_bank,
            grantee_account,
        })
        .await
    }

    pub async fn start_link(&self, account: AccountId, bank: BankId) -> EngineResult<String> {
        self.request(StartLink { account, bank }).await
    }

    /// Who holds `account`, told to bank `asking` only while a link `state` of that account to
    /// that bank waits; `None` otherwise.
    pub async fn link_holder(
        &self,
        state: String,
        account: AccountId,
        asking: BankId,
    ) -> EngineResult<Option<domain::consent::LinkHolder>> {
        self.request(LinkHolderOf {
            state,
            account,
            asking,
        })
        .await
    }

    pub async fn take_link_state(&self, account: AccountId, state: String) -> EngineResult<BankId> {
        self.request(TakeLinkState { account, state }).await
    }

    pub async fn save_link(
        &self,
        account: AccountId,
        bank: BankId,
        grant: Grant,
    ) -> EngineResult<()> {
        self.request(SaveLink {
            account,
            bank,
            grant,
        })
        .await
    }

    pub async fn links(&self, account: AccountId) -> EngineResult<Vec<crate::consent::Link>> {
        self.request(ListLinks { account }).await
    }
}

/// Terms the owner of `owner` approved for `grantee_account` at `grantee_bank`.
#[derive(Clone, Debug)]
pub struct GrantRequest {
    pub owner: AccountId,
    pub grantee_bank: BankId,
    pub grantee_account: AccountId,
    pub terms: domain::consent::ConsentTerms,
}
