//! Receivers to pay again (the rules are [`crate::contacts`]'s): the client's book read, a
//! receiver paid, a favourite saved or removed.

use super::*;
use domain::contacts::{Contact, ContactError, Contacts};

pub(super) struct ShowContacts {
    account: AccountId,
}

impl Request for ShowContacts {
    type Answer = Contacts;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Contacts> {
        Ok(state.contacts.of(self.account))
    }
}

pub(super) struct UsedContact {
    account: AccountId,
    contact: Contact,
}

impl Request for UsedContact {
    type Answer = ();

    fn run(self, state: &mut State, _now: i64) -> EngineResult<()> {
        let UsedContact { account, contact } = self;
        if state.ledger.account(account).is_none() {
            return Err(LedgerError::UnknownAccount.into());
        }
        state.contacts.used(account, contact);
        Ok(())
    }
}

pub(super) struct AddFavourite {
    account: AccountId,
    contact: Contact,
}

impl Request for AddFavourite {
    type Answer = Result<Contacts, ContactError>;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Self::Answer> {
        let AddFavourite { account, contact } = self;
        if state.ledger.account(account).is_none() {
            return Err(LedgerError::UnknownAccount.into());
        }
        Ok(state.contacts.add_favourite(account, contact))
    }
}

pub(super) struct RemoveFavourite {
    account: AccountId,
    key: String,
}

impl Request for RemoveFavourite {
    type Answer = Contacts;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Contacts> {
        let RemoveFavourite { account, key } = self;
        Ok(state.contacts.remove_favourite(account, &key))
    }
}

impl EngineHandle {
    /// `account`'s receivers to pay again: the recent ones, newest first, and the favourites.
    pub async fn contacts(&self, account: AccountId) -> EngineResult<Contacts> {
        self.request(ShowContacts { account }).await
    }

    /// `account` paid `contact` (a Pix it sent went through): its newest recent receiver.
    pub async fn used_contact(&self, account: AccountId, contact: Contact) -> EngineResult<()> {
        self.request(UsedContact { account, contact }).await
    }

    /// Saves `contact` among `account`'s favourites, or says why not (full).
    pub async fn add_favourite(
        &self,
        account: AccountId,
        contact: Contact,
    ) -> EngineResult<Result<Contacts, ContactError>> {
        self.request(AddFavourite { account, contact }).await
    }

    /// Removes the favourite of canonical key `key` from `account`'s.
    pub async fn remove_favourite(
        &self,
        account: AccountId,
        key: String,
    ) -> EngineResult<Contacts> {
        self.request(RemoveFavourite { account, key }).await
    }
}
