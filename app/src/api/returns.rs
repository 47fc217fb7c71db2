//! Devolução: the receiver of a Pix returns it, in full or in part, to the account that paid it.

use crate::error::AppError;
use domain::dto::TransferReceipt;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::api::ssr;

/// Returns `amount` of the Pix `original_tx` the client's account received, to the account that
/// paid it (at its bank: through the token ring and 2PC when that is another bank). The bank
/// refuses, moving nothing, a Pix the account did not receive, returns beyond what it brought,
/// and returns after [`domain::refusal::RETURN_DAYS_MAX`] days. `tx_id` (empty: a new one) is
/// the return's own id.
#[server(endpoint = "return_pix")]
pub async fn return_pix(
    original_tx: String,
    amount: String,
    tx_id: String,
) -> Result<TransferReceipt, AppError> {
    use domain::dto::{ReceiverPreview, TxStatus};
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let original =
        domain::TxId::parse(original_tx.trim()).map_err(|e| ssr::field("original_tx", e))?;
    let amount = domain::Cents::parse_amount(&amount).map_err(|e| ssr::field("amount", e))?;
    let tx = ssr::tx_id(&tx_id, &engine)?;
    let devolution = engine
        .plan_return(account, original.clone(), amount)
        .await
        .map_err(ssr::from_engine)?;
    if devolution.payer.bank == engine.bank().id {
        return engine
            .return_inside(tx, account, original, amount)
            .await
            .map_err(ssr::from_engine);
    }
    let consortium = ssr::require_consortium()?;
    let banks = consortium.banks();
    let payer = devolution.payer.clone();
    let outcome = consortium
        .submit_return(account, tx, devolution)
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
    Ok(TransferReceipt {
        tx_id: outcome.tx_id,
        status: outcome.status,
        amount,
        receiver: ReceiverPreview {
            name: payer.name,
            key_masked: payer.key_masked,
            bank: crate::text::bank_info(ssr::locale(), payer.bank, &banks),
        },
    })
}
