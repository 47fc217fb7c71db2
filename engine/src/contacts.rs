//! Receivers each client pays again (issue 27), a pure state machine owned by the engine thread:
//! the recent ones, kept as the client's Pix are sent ([`AddressBook::used`]: newest first, one
//! per key, at most [`RECENT_MAX`]), and the favourites the client saves and removes (at most
//! [`FAVOURITES_MAX`]). Bounded per account; an account's book is stored whole as JSON
//! (`pix_contacts`), written in the batch that changed it.
//!
//! Why not read the recent ones off the statement: an entry keeps its receiver as the payer saw
//! it (name, masked document, bank), not the key the Pix was sent to, and paying again needs the
//! key.

use domain::contacts::{Contact, ContactError, Contacts, FAVOURITES_MAX, RECENT_MAX};
use domain::AccountId;
use std::collections::{BTreeSet, HashMap};

/// Every account's receivers, and the accounts changed since the store last took them.
#[derive(Debug, Default)]
pub struct AddressBook {
    books: HashMap<AccountId, Contacts>,
    changed: BTreeSet<AccountId>,
}

impl AddressBook {
    /// The books as stored.
    pub fn restore(books: Vec<(AccountId, Contacts)>) -> AddressBook {
        AddressBook {
            books: books.into_iter().collect(),
            changed: BTreeSet::new(),
        }
    }

    /// `account`'s receivers (empty for an account that has none).
    pub fn of(&self, account: AccountId) -> Contacts {
        self.books.get(&account).cloned().unwrap_or_default()
    }

    /// `account` just paid `contact`: it becomes the newest recent receiver (once per key), and a
    /// favourite of that key takes what the lookup found now. Nothing changes when it already
    /// was the newest, as it was.
    pub fn used(&mut self, account: AccountId, contact: Contact) {
        let book = self.books.entry(account).or_default();
        if book.recent.first() == Some(&contact) {
            return;
        }
        book.recent.retain(|c| c.key != contact.key);
        if let Some(f) = book.favourites.iter_mut().find(|f| f.key == contact.key) {
            *f = contact.clone();
        }
        book.recent.insert(0, contact);
        book.recent.truncate(RECENT_MAX);
        self.changed.insert(account);
    }

    /// Saves `contact` among `account`'s favourites (saving one again updates it in place).
    pub fn add_favourite(
        &mut self,
        account: AccountId,
        contact: Contact,
    ) -> Result<Contacts, ContactError> {
        let book = self.books.entry(account).or_default();
        match book.favourites.iter().position(|f| f.key == contact.key) {
            Some(at) => book.favourites[at] = contact,
            None if book.favourites.len() >= FAVOURITES_MAX => {
                return Err(ContactError::FavouritesFull)
            }
            None => book.favourites.push(contact),
        }
        self.changed.insert(account);
        Ok(book.clone())
    }

    /// Removes the favourite of canonical key `key` from `account`'s (none: nothing changes).
    pub fn remove_favourite(&mut self, account: AccountId, key: &str) -> Contacts {
        let Some(book) = self.books.get_mut(&account) else {
            return Contacts::default();
        };
        let before = book.favourites.len();
        book.favourites.retain(|f| f.key != key);
        if book.favourites.len() != before {
            self.changed.insert(account);
        }
        book.clone()
    }

    /// The books changed since the last call, each whole, for the store.
    pub fn take_changes(&mut self) -> Vec<(AccountId, Contacts)> {
        std::mem::take(&mut self.changed)
            .into_iter()
            .map(|a| (a, self.of(a)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{BankId, PixKey};

    fn contact(key: &str, name: &str) -> Contact {
        Contact::new(
            &PixKey::parse(key).unwrap(),
            name,
            "***.456.789-**",
            BankId::try_from(2).unwrap(),
        )
    }

    #[test]
    fn recent_receivers_are_newest_first_distinct_and_bounded() {
        let mut book = AddressBook::default();
        let a = AccountId(1);
        for i in 0..12 {
            book.used(a, contact(&format!("r{i}@example.com"), "Ana Lima"));
        }
        book.used(a, contact("r5@example.com", "Ana Lima"));
        let recent = book.of(a).recent;
        assert_eq!(recent.len(), RECENT_MAX);
        assert_eq!(recent[0].key, "r5@example.com");
        assert_eq!(recent[1].key, "r11@example.com");
        assert_eq!(
            recent.iter().filter(|c| c.key == "r5@example.com").count(),
            1
        );
        assert_eq!(book.take_changes().len(), 1);
        // Paying the newest again changes nothing to store.
        book.used(a, contact("r5@example.com", "Ana Lima"));
        assert!(book.take_changes().is_empty());
        assert!(book.of(AccountId(2)).recent.is_empty());
    }

    #[test]
    fn favourites_are_bounded_and_removed_by_key() {
        let mut book = AddressBook::default();
        let a = AccountId(1);
        for i in 0..FAVOURITES_MAX {
            book.add_favourite(a, contact(&format!("f{i}@example.com"), "Bia Souza"))
                .unwrap();
        }
        assert_eq!(
            book.add_favourite(a, contact("more@example.com", "Bia Souza")),
            Err(ContactError::FavouritesFull)
        );
        // Saving one again is no new favourite.
        assert!(book
            .add_favourite(a, contact("f3@example.com", "Bia Souza"))
            .is_ok());
        let left = book.remove_favourite(a, "f3@example.com");
        assert_eq!(left.favourites.len(), FAVOURITES_MAX - 1);
        book.take_changes();
        book.remove_favourite(a, "nobody@example.com");
        assert!(book.take_changes().is_empty());
    }
}
