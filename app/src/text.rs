//! What the app tells a client, in words: refusals and other codes that come from the engine or
//! another bank are put into sentences here, and only here.

use domain::dto::BankInfo;
use domain::{BankId, Refusal};

/// The name of bank `id` among `banks` ("bank 7" when it is not listed).
pub fn bank_name(id: BankId, banks: &[BankInfo]) -> String {
    banks
        .iter()
        .find(|b| b.id == id)
        .map(|b| b.name.clone())
        .unwrap_or_else(|| format!("bank {id}"))
}

/// Bank `id` as listed among `banks` (named "bank 7" when it is not listed).
pub fn bank_info(id: BankId, banks: &[BankInfo]) -> BankInfo {
    BankInfo {
        id,
        name: bank_name(id, banks),
    }
}

/// What a consent allows, in one line: "R$ 500,00 per packet · R$ 1.000,00 per day · until
/// 26/11/2026".
pub fn terms(t: &domain::consent::ConsentTerms) -> String {
    let mut parts = vec![format!("{} per packet", t.per_packet.to_brl())];
    if let Some(d) = t.daily {
        parts.push(format!("{} per day", d.to_brl()));
    }
    parts.push(format!(
        "until {}",
        domain::time_fmt::format_brasilia_date(t.expires_ms)
    ));
    parts.join(" · ")
}

/// Why a transfer was refused, as a sentence for the client.
pub fn refusal(r: Refusal, banks: &[BankInfo]) -> String {
    let name = |b: BankId| bank_name(b, banks);
    match r {
        Refusal::InsufficientFunds => {
            "Insufficient funds: the available balance does not cover this amount.".into()
        }
        Refusal::BalanceLimit => {
            "This transfer would take the receiving account over its balance limit.".into()
        }
        Refusal::InvalidAmount => {
            "The amount must be more than zero and at most the limit per operation.".into()
        }
        Refusal::SelfTransfer => "You cannot send a Pix to your own account.".into(),
        Refusal::NoSourceAccount { bank } => {
            format!("You have no account at {} to pay this from.", name(bank))
        }
        Refusal::UnknownReceiver { bank } => format!("No account with this key at {}.", name(bank)),
        Refusal::TxIdReused { bank } => format!(
            "{} already saw this transaction id used for other transfers.",
            name(bank)
        ),
        Refusal::TxIdInUse { bank } => format!(
            "{} already uses this transaction id for a different operation.",
            name(bank)
        ),
        Refusal::AlreadyCancelled { bank } => {
            format!("This transfer was already cancelled at {}.", name(bank))
        }
        Refusal::InvalidParts { bank } => format!(
            "{} could not read this transfer; nothing was reserved.",
            name(bank)
        ),
        Refusal::RecordsUnreadable { bank } => format!(
            "{} could not read its records; nothing was reserved.",
            name(bank)
        ),
        Refusal::NoAnswer { bank } => format!("{} did not answer in time.", name(bank)),
        Refusal::Unreachable { bank } => format!("{} is not reachable right now.", name(bank)),
        Refusal::NoConsent { bank } => format!(
            "You have not linked an account at {} to pay from.",
            name(bank)
        ),
        Refusal::ConsentUnknown { bank } => format!(
            "{} knows no consent for this account to draw on it.",
            name(bank)
        ),
        Refusal::ConsentRevoked { bank } => format!("Your consent at {} was revoked.", name(bank)),
        Refusal::ConsentExpired { bank } => format!("Your consent at {} has expired.", name(bank)),
        Refusal::ConsentPacketLimit { bank } => format!(
            "This packet draws more from {} than your consent allows per packet.",
            name(bank)
        ),
        Refusal::ConsentDailyLimit { bank } => format!(
            "This packet would pass today's limit of your consent at {}.",
            name(bank)
        ),
        Refusal::KeyTaken { .. } => "This Pix key already belongs to an account.".into(),
        Refusal::KeyBusy { .. } => {
            "This Pix key is being registered or deleted right now; try again in a moment.".into()
        }
        Refusal::KeyUnknown { bank } => format!("{} knows no such key of yours.", name(bank)),
        Refusal::KeyLimit { .. } => "This bank cannot register more keys.".into(),
        Refusal::TooManyKeys => {
            "This account has as many keys as it may (5 for a person, 20 for a company).".into()
        }
        Refusal::LimitExceeded { bank } => {
            format!("The receiving bank cannot take more from {} until the banks settle; please try again later.", name(bank))
        }
        Refusal::Expired => {
            "The consortium could not take this transfer in time; nothing was sent.".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_bank_they_are_about() {
        let banks = vec![BankInfo {
            id: BankId::try_from(5).unwrap(),
            name: "Titanium".into(),
        }];
        let five = BankId::try_from(5).unwrap();
        assert_eq!(
            refusal(Refusal::NoSourceAccount { bank: five }, &banks),
            "You have no account at Titanium to pay this from."
        );
        assert!(refusal(
            Refusal::NoAnswer {
                bank: BankId::try_from(9).unwrap()
            },
            &banks
        )
        .starts_with("bank 9"));
    }
}
