//! Receivers to pay again: the recent ones (kept as the client's Pix go through, see
//! `money::send_pix`) and the favourites the client saves and removes. Each is shown as any
//! receiver: name and document masked, bank; the page fills the Pix form with its key.

use crate::error::AppError;
use domain::contacts::Contacts;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::api::ssr;

/// Saves the receiver of `key` among the client's favourites, as a lookup finds it now (the
/// name and document come from the directory, never from the browser; the lookup spends the
/// client's budget like any). At most [`domain::contacts::FAVOURITES_MAX`].
#[server(endpoint = "add_favourite")]
pub async fn add_favourite(key: String) -> Result<Contacts, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let key = ssr::pix_key(&key, "key")?;
    let found = crate::api::money::lookup::receiver(&engine, account, key.clone(), None).await?;
    let contact = contact_of(&key, &found);
    engine
        .add_favourite(account, contact)
        .await
        .map_err(ssr::from_engine)?
        .map_err(|_| {
            AppError::Conflict(
                crate::i18n::td_string!(
                    ssr::locale(),
                    contacts.full,
                    max = domain::contacts::FAVOURITES_MAX
                )
                .to_string(),
            )
        })
}

/// Removes the favourite of `key` from the client's (one that is not there: nothing changes).
#[server(endpoint = "remove_favourite")]
pub async fn remove_favourite(key: String) -> Result<Contacts, AppError> {
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let key = ssr::pix_key(&key, "key")?;
    engine
        .remove_favourite(account, key.canonical())
        .await
        .map_err(ssr::from_engine)
}

/// The receiver `found` (a lookup's answer for `key`) as kept to pay again.
#[cfg(feature = "ssr")]
pub(crate) fn contact_of(
    key: &domain::PixKey,
    found: &domain::dto::ReceiverPreview,
) -> domain::contacts::Contact {
    domain::contacts::Contact::new(key, &found.name, &found.key_masked, found.bank.id)
}
