//! What the app tells a client, in words, in the client's language (Portuguese first, English on
//! request; see `locales/`): refusals, errors of the domain and the engine, and other codes are
//! put into sentences here, and only here. Banks never send each other sentences.

use crate::i18n::{td_string, Locale};
use domain::dto::BankInfo;
use domain::{BankId, Refusal};

/// Makes sentences with plural forms ("1 minuto", "2 minutos") work: gives leptos_i18n the
/// languages' plural rules, from icu_plurals's compiled data. Called once before any is said (the
/// app's root component, and the server at start for server functions); later calls do nothing.
pub fn plural_rules() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| leptos_i18n::custom_provider::set_icu_data_provider(PluralRules));
}

/// The one kind of ICU data the app uses: CLDR's plural rules, compiled in.
struct PluralRules;

impl leptos_i18n::custom_provider::IcuDataProvider for PluralRules {
    fn try_new_plural_rules(
        &self,
        locale: &icu_locale::Locale,
        rule_type: icu_plurals::PluralRuleType,
    ) -> Result<icu_plurals::PluralRules, icu_provider::DataError> {
        let options = icu_plurals::PluralRulesOptions::default().with_type(rule_type);
        icu_plurals::PluralRules::try_new(locale.into(), options)
    }
}

/// A bank the client knows no name for, by its number: "Banco 7", "Bank 7".
pub fn unnamed_bank(l: Locale, id: BankId) -> String {
    td_string!(l, common.bank_n, id = id).to_string()
}

/// The name of bank `id` among `banks` ([`unnamed_bank`] when it is not listed).
pub fn bank_name(l: Locale, id: BankId, banks: &[BankInfo]) -> String {
    banks
        .iter()
        .find(|b| b.id == id)
        .map(|b| b.name.clone())
        .unwrap_or_else(|| unnamed_bank(l, id))
}

/// Bank `id` as listed among `banks` (named by [`unnamed_bank`] when it is not listed).
pub fn bank_info(l: Locale, id: BankId, banks: &[BankInfo]) -> BankInfo {
    BankInfo {
        id,
        name: bank_name(l, id, banks),
    }
}

/// What a consent allows, in one line: "R$ 500,00 por pacote · R$ 1.000,00 por dia · até
/// 26/11/2026".
pub fn terms(l: Locale, t: &domain::consent::ConsentTerms) -> String {
    let mut parts =
        vec![td_string!(l, consent.terms_per_packet, amount = t.per_packet.to_brl()).to_string()];
    if let Some(d) = t.daily {
        parts.push(td_string!(l, consent.terms_per_day, amount = d.to_brl()).to_string());
    }
    parts.push(
        td_string!(
            l,
            consent.terms_until,
            date = domain::time_fmt::format_brasilia_date(t.expires_ms)
        )
        .to_string(),
    );
    parts.join(" · ")
}

/// Why a transfer was refused, as a sentence for the client.
pub fn refusal(l: Locale, r: Refusal, banks: &[BankInfo]) -> String {
    let name = |b: BankId| bank_name(l, b, banks);
    match r {
        Refusal::InsufficientFunds => td_string!(l, refusal.insufficient_funds).to_string(),
        Refusal::BalanceLimit => td_string!(l, refusal.balance_limit).to_string(),
        Refusal::InvalidAmount => td_string!(l, refusal.invalid_amount).to_string(),
        Refusal::SelfTransfer => td_string!(l, refusal.self_transfer).to_string(),
        Refusal::NoSourceAccount { bank } => {
            td_string!(l, refusal.no_source_account, bank = name(bank)).to_string()
        }
        Refusal::UnknownReceiver { bank } => {
            td_string!(l, refusal.unknown_receiver, bank = name(bank)).to_string()
        }
        Refusal::TxIdReused { bank } => {
            td_string!(l, refusal.tx_id_reused, bank = name(bank)).to_string()
        }
        Refusal::TxIdInUse { bank } => {
            td_string!(l, refusal.tx_id_in_use, bank = name(bank)).to_string()
        }
        Refusal::AlreadyCancelled { bank } => {
            td_string!(l, refusal.already_cancelled, bank = name(bank)).to_string()
        }
        Refusal::InvalidParts { bank } => {
            td_string!(l, refusal.invalid_parts, bank = name(bank)).to_string()
        }
        Refusal::RecordsUnreadable { bank } => {
            td_string!(l, refusal.records_unreadable, bank = name(bank)).to_string()
        }
        Refusal::CannotStore { bank } => {
            td_string!(l, refusal.cannot_store, bank = name(bank)).to_string()
        }
        Refusal::NoAnswer { bank } => {
            td_string!(l, refusal.no_answer, bank = name(bank)).to_string()
        }
        Refusal::Unreachable { bank } => {
            td_string!(l, refusal.unreachable, bank = name(bank)).to_string()
        }
        Refusal::NoConsent { bank } => {
            td_string!(l, refusal.no_consent, bank = name(bank)).to_string()
        }
        Refusal::ConsentUnknown { bank } => {
            td_string!(l, refusal.consent_unknown, bank = name(bank)).to_string()
        }
        Refusal::ConsentRevoked { bank } => {
            td_string!(l, refusal.consent_revoked, bank = name(bank)).to_string()
        }
        Refusal::ConsentExpired { bank } => {
            td_string!(l, refusal.consent_expired, bank = name(bank)).to_string()
        }
        Refusal::ConsentPacketLimit { bank } => {
            td_string!(l, refusal.consent_packet_limit, bank = name(bank)).to_string()
        }
        Refusal::ConsentDailyLimit { bank } => {
            td_string!(l, refusal.consent_daily_limit, bank = name(bank)).to_string()
        }
        Refusal::KeyTaken { .. } => td_string!(l, refusal.key_taken).to_string(),
        Refusal::KeyBusy { .. } => td_string!(l, refusal.key_busy).to_string(),
        Refusal::KeyUnknown { bank } => {
            td_string!(l, refusal.key_unknown, bank = name(bank)).to_string()
        }
        Refusal::KeyLimit { .. } => td_string!(l, refusal.key_limit).to_string(),
        Refusal::PortNotAllowed { bank } => {
            td_string!(l, refusal.port_not_allowed, bank = name(bank)).to_string()
        }
        Refusal::TooManyKeys => td_string!(
            l,
            refusal.too_many_keys,
            person = domain::pix_key::KEYS_PER_PERSON,
            company = domain::pix_key::KEYS_PER_COMPANY
        )
        .to_string(),
        Refusal::LimitExceeded { bank } => {
            td_string!(l, refusal.limit_exceeded, bank = name(bank)).to_string()
        }
        Refusal::SettlementOverdue { bank } => {
            td_string!(l, refusal.settlement_overdue, bank = name(bank)).to_string()
        }
        Refusal::Expired => td_string!(l, refusal.expired).to_string(),
        Refusal::NotReceived => td_string!(l, refusal.not_received).to_string(),
        Refusal::ReturnExceeds => td_string!(l, refusal.return_exceeds).to_string(),
        Refusal::ReturnTooLate => td_string!(
            l,
            refusal.return_too_late,
            days = domain::refusal::RETURN_DAYS_MAX
        )
        .to_string(),
        Refusal::ChargeUnknown => td_string!(l, refusal.charge_unknown).to_string(),
        Refusal::ChargePaid => td_string!(l, refusal.charge_paid).to_string(),
        Refusal::ChargeCancelled => td_string!(l, refusal.charge_cancelled).to_string(),
        Refusal::ChargeExpired => td_string!(l, refusal.charge_expired).to_string(),
        Refusal::ChargeBusy => td_string!(l, refusal.charge_busy).to_string(),
        Refusal::ChargeAmount => td_string!(l, refusal.charge_amount).to_string(),
        Refusal::PixLimit {
            bank,
            period,
            remaining,
        } => {
            let remaining = remaining.to_brl();
            let bank = name(bank);
            match period {
                domain::pix_limits::Period::Day => {
                    td_string!(l, refusal.pix_limit_day, remaining = remaining, bank = bank)
                        .to_string()
                }
                domain::pix_limits::Period::Night => td_string!(
                    l,
                    refusal.pix_limit_night,
                    remaining = remaining,
                    bank = bank
                )
                .to_string(),
            }
        }
    }
}

impl Say for domain::schedule::ScheduleError {
    fn say(&self, l: Locale) -> String {
        use domain::schedule::ScheduleError as E;
        match self {
            E::NotAfterToday => td_string!(l, err.schedule_not_after_today).to_string(),
            E::TooFar => td_string!(
                l,
                err.schedule_too_far,
                days = domain::schedule::MAX_DAYS_AHEAD
            )
            .to_string(),
            E::TooMany => td_string!(
                l,
                err.schedule_too_many,
                max = domain::schedule::WAITING_PER_ACCOUNT
            )
            .to_string(),
            E::NotWaiting => td_string!(l, err.schedule_not_waiting).to_string(),
        }
    }
}

/// Why a scheduled Pix or packet was not sent, as a sentence for the client.
pub fn schedule_failure(
    l: Locale,
    why: domain::schedule::ScheduleFailure,
    banks: &[BankInfo],
) -> String {
    use domain::schedule::ScheduleFailure as F;
    match why {
        F::Refused { refusal: r } => refusal(l, r, banks),
        F::NoReceiver => td_string!(l, schedule.no_receiver).to_string(),
        F::NotDelivered => td_string!(l, schedule.not_delivered).to_string(),
        F::LegRefused {
            leg,
            source_bank,
            refusal: r,
        } => td_string!(
            l,
            schedule.leg_refused,
            n = usize::from(leg) + 1,
            bank = bank_name(l, source_bank, banks),
            reason = refusal(l, r, banks).trim_end_matches('.').to_string()
        )
        .to_string(),
    }
}

impl Say for domain::pix_limits::LimitError {
    fn say(&self, l: Locale) -> String {
        use domain::pix_limits::LimitError as E;
        match self {
            E::Negative => td_string!(l, err.limit_negative).to_string(),
            E::AboveCeiling => td_string!(
                l,
                err.limit_ceiling,
                max = domain::pix_limits::CEILING.to_brl()
            )
            .to_string(),
            E::NightAboveDay => td_string!(l, err.limit_night_above_day).to_string(),
        }
    }
}

/// A domain error (or any other typed error a client may see), in the client's words.
pub trait Say {
    fn say(&self, l: Locale) -> String;
}

impl Say for domain::input::InputError {
    fn say(&self, l: Locale) -> String {
        use domain::input::{self, InputError as E};
        match self {
            E::NameEmpty => td_string!(l, err.name_empty).to_string(),
            E::NameTooLong => td_string!(l, err.name_long, max = input::NAME_MAX_CHARS).to_string(),
            E::NameBadCharacter => td_string!(l, err.name_chars).to_string(),
            E::EmailInvalid => td_string!(l, err.email).to_string(),
            E::PhoneInvalid => td_string!(l, err.phone).to_string(),
            E::PasswordTooShort => {
                td_string!(l, err.password_short, min = input::PASSWORD_MIN_CHARS).to_string()
            }
            E::PasswordTooLong => {
                td_string!(l, err.password_long, max = input::PASSWORD_MAX_CHARS).to_string()
            }
            E::PasswordCommon => td_string!(l, err.password_common).to_string(),
            E::TaxId(e) => e.say(l),
            E::IndividualNeedsCpf => td_string!(l, err.needs_cpf).to_string(),
            E::CompanyNeedsCnpj => td_string!(l, err.needs_cnpj).to_string(),
            E::SameHolderTwice => td_string!(l, err.same_holder).to_string(),
            E::SameEmailTwice => td_string!(l, err.same_email).to_string(),
        }
    }
}

impl Say for domain::MessageError {
    fn say(&self, l: Locale) -> String {
        use domain::pix_message::MESSAGE_MAX_CHARS;
        match self {
            domain::MessageError::TooLong => {
                td_string!(l, err.message_long, max = MESSAGE_MAX_CHARS).to_string()
            }
            domain::MessageError::BadCharacter | domain::MessageError::NotTrimmed => {
                td_string!(l, err.message_chars).to_string()
            }
        }
    }
}

impl Say for domain::MoneyError {
    fn say(&self, l: Locale) -> String {
        use domain::MoneyError as E;
        match self {
            E::Empty => td_string!(l, err.amount_empty).to_string(),
            E::NotANumber => td_string!(l, err.amount_nan).to_string(),
            E::TooPrecise => td_string!(l, err.amount_precise).to_string(),
            E::NotPositive => td_string!(l, err.amount_positive).to_string(),
            E::TooLarge => td_string!(
                l,
                err.amount_large,
                max = domain::money::MAX_OPERATION.to_brl()
            )
            .to_string(),
        }
    }
}

impl Say for domain::TaxIdError {
    fn say(&self, l: Locale) -> String {
        use domain::TaxIdError as E;
        match self {
            E::Empty => td_string!(l, err.taxid_empty).to_string(),
            E::WrongLength(n) => td_string!(l, err.taxid_length, n = *n).to_string(),
            E::BadCharacter => td_string!(l, err.taxid_chars).to_string(),
            E::BadCpf => td_string!(l, err.bad_cpf).to_string(),
            E::BadCnpj => td_string!(l, err.bad_cnpj).to_string(),
        }
    }
}

impl Say for domain::PixKeyError {
    fn say(&self, l: Locale) -> String {
        use domain::PixKeyError as E;
        match self {
            E::Empty => td_string!(l, err.key_empty).to_string(),
            E::TooLong => {
                td_string!(l, err.key_long, max = domain::pix_key::KEY_MAX_CHARS).to_string()
            }
            E::Email => td_string!(l, err.key_email).to_string(),
            E::Phone => td_string!(l, err.key_phone).to_string(),
            E::Evp => td_string!(l, err.key_evp).to_string(),
            E::TaxId(e) => e.say(l),
        }
    }
}

impl Say for domain::BrCodeError {
    fn say(&self, l: Locale) -> String {
        use domain::BrCodeError as E;
        match *self {
            E::Oversized => {
                td_string!(l, brcode.oversized, max = domain::brcode::MAX_BYTES).to_string()
            }
            E::BadCharacter => td_string!(l, brcode.bad_character).to_string(),
            E::Truncated => td_string!(l, brcode.truncated).to_string(),
            E::BadLength => td_string!(l, brcode.bad_length).to_string(),
            E::BadCrc => td_string!(l, brcode.bad_crc).to_string(),
            E::UnknownGui => td_string!(l, brcode.unknown_gui).to_string(),
            E::BadAmount => td_string!(l, brcode.bad_amount).to_string(),
            E::MissingField(id) => td_string!(l, brcode.missing_field, field = id).to_string(),
            E::BadValue(id) => td_string!(l, brcode.bad_value, field = id).to_string(),
            E::TooLong(id) => td_string!(l, brcode.too_long, field = id).to_string(),
        }
    }
}

impl Say for domain::ids::BadTxId {
    fn say(&self, l: Locale) -> String {
        td_string!(l, err.bad_tx).to_string()
    }
}

impl Say for domain::consent::BadConsentId {
    fn say(&self, l: Locale) -> String {
        td_string!(l, err.bad_consent, len = domain::consent::ConsentId::LEN).to_string()
    }
}

impl Say for domain::consent::TermsError {
    fn say(&self, l: Locale) -> String {
        use domain::consent::TermsError as E;
        match self {
            E::PerPacket => td_string!(l, err.terms_per_packet).to_string(),
            E::Daily => td_string!(l, err.terms_daily).to_string(),
            E::Expiry => td_string!(
                l,
                err.terms_expiry,
                days = domain::consent::CONSENT_MAX_DAYS
            )
            .to_string(),
        }
    }
}

impl Say for domain::packet::PacketError {
    fn say(&self, l: Locale) -> String {
        use domain::packet::PacketError as E;
        match self {
            E::LegCount => {
                td_string!(l, err.leg_count, max = domain::dto::MAX_PACKET_LEGS).to_string()
            }
            E::UnknownBank { leg, bank } => {
                td_string!(l, err.leg_bank, n = leg + 1, bank = unnamed_bank(l, *bank)).to_string()
            }
            E::InvalidAmount { leg } => td_string!(l, err.leg_amount, n = leg + 1).to_string(),
        }
    }
}

#[cfg(feature = "ssr")]
mod engine_errors {
    use super::*;

    impl Say for engine::LedgerError {
        fn say(&self, l: Locale) -> String {
            use engine::LedgerError as E;
            match self {
                E::UnknownAccount => td_string!(l, err.no_key_account).to_string(),
                E::InsufficientFunds => td_string!(l, err.insufficient).to_string(),
                E::SelfTransfer => td_string!(l, err.self_transfer).to_string(),
                E::BalanceLimit => td_string!(l, err.balance_limit).to_string(),
                E::DuplicateTaxId => td_string!(l, err.duplicate_tax_id).to_string(),
                E::DuplicateEmail => td_string!(l, err.duplicate_email).to_string(),
                E::InvalidLogins => td_string!(l, err.invalid_logins).to_string(),
                E::TxIdConflict => td_string!(l, err.tx_conflict).to_string(),
                E::UnknownTx => td_string!(l, err.unknown_tx).to_string(),
                E::InvalidAmount => td_string!(l, err.invalid_amount).to_string(),
            }
        }
    }

    impl Say for engine::ConsortiumError {
        fn say(&self, l: Locale) -> String {
            use engine::ConsortiumError as E;
            match self {
                E::Unreachable(bank) => {
                    td_string!(l, err.unreachable, bank = unnamed_bank(l, *bank)).to_string()
                }
                E::Expired => td_string!(l, err.expired).to_string(),
                E::NotConfirmed => td_string!(l, err.not_confirmed).to_string(),
                E::Slow => td_string!(l, err.slow).to_string(),
                E::NoSuchBank(bank) => {
                    td_string!(l, err.no_such_bank, bank = unnamed_bank(l, *bank)).to_string()
                }
            }
        }
    }

    impl Say for engine::consent::ConsentError {
        fn say(&self, l: Locale) -> String {
            use engine::consent::ConsentError as E;
            match self {
                E::BadCode => td_string!(l, err.bad_code).to_string(),
                E::BadState => td_string!(l, err.bad_state).to_string(),
                E::Unknown => td_string!(l, err.no_consent).to_string(),
                E::Busy => td_string!(l, err.links_busy).to_string(),
                E::TooMany => td_string!(l, err.too_many_consents).to_string(),
            }
        }
    }

    impl Say for engine::key_codes::CodeError {
        fn say(&self, l: Locale) -> String {
            use engine::key_codes::CodeError as E;
            match self {
                E::Wrong => td_string!(l, err.code_wrong).to_string(),
                E::Voided => td_string!(l, err.code_voided).to_string(),
                E::Expired => td_string!(l, err.code_expired).to_string(),
                E::Busy => td_string!(l, err.codes_busy).to_string(),
            }
        }
    }

    impl Say for engine::engine::KeyError {
        fn say(&self, l: Locale) -> String {
            use engine::engine::KeyError as E;
            match self {
                E::NotYourDocument => td_string!(l, err.not_your_document).to_string(),
                E::TooMany => td_string!(
                    l,
                    err.too_many_keys,
                    person = engine::engine::KEYS_PER_PERSON,
                    company = engine::engine::KEYS_PER_COMPANY
                )
                .to_string(),
                E::AlreadyYours => td_string!(l, err.already_yours).to_string(),
                E::Taken => td_string!(l, err.key_taken).to_string(),
                E::AtAnotherBank(_) => td_string!(l, err.key_elsewhere).to_string(),
                E::NotYours => td_string!(l, err.key_not_yours).to_string(),
                E::DocumentElsewhere(_) => td_string!(l, err.document_elsewhere).to_string(),
            }
        }
    }

    impl Say for engine::charges::ChargeError {
        fn say(&self, l: Locale) -> String {
            use engine::charges::ChargeError as E;
            match self {
                E::Unknown => td_string!(l, charge.unknown).to_string(),
                E::IdInUse => td_string!(l, charge.id_in_use).to_string(),
                E::TooMany => td_string!(
                    l,
                    charge.too_many,
                    max = domain::charge::CHARGES_PER_ACCOUNT_MAX
                )
                .to_string(),
                E::NotOpen(r) => crate::text::refusal(l, *r, &[]),
            }
        }
    }

    impl Say for engine::EngineError {
        fn say(&self, l: Locale) -> String {
            use engine::EngineError as E;
            match self {
                E::Ledger(e) => e.say(l),
                E::Busy => td_string!(l, err.busy).to_string(),
                E::Stopped => td_string!(l, err.stopped).to_string(),
                E::Unexpected => td_string!(l, err.unexpected).to_string(),
                E::NotStored => td_string!(l, err.not_stored).to_string(),
                E::Consortium(e) => e.say(l),
                E::Packet(e) => e.say(l),
                E::Consent(e) => e.say(l),
                E::KeyCode(e) => e.say(l),
                E::Key(e) => e.say(l),
                E::Refused(r) => crate::text::refusal(l, *r, &[]),
                E::Limits(e) => e.say(l),
                E::Charge(e) => e.say(l),
            }
        }
    }
}

#[cfg(test)]
mod parity;

/// How a deposit's money came in, as one word or two.
pub fn deposit_method(l: Locale, m: domain::dto::DepositMethod) -> String {
    use domain::dto::DepositMethod;
    match m {
        DepositMethod::Cash => td_string!(l, deposit.cash).to_string(),
        DepositMethod::Boleto => td_string!(l, deposit.boleto).to_string(),
        DepositMethod::Qr => td_string!(l, deposit.qr).to_string(),
    }
}

/// What a browser shows when a request from another site was refused (403), in the language of
/// the client's cookie (`cookies`: the request's `Cookie` headers).
#[cfg(feature = "ssr")]
pub fn cross_site_refusal(cookies: &[&str]) -> String {
    let locale = cookies
        .iter()
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == crate::api::ssr::LOCALE_COOKIE)
        .and_then(|(_, v)| v.parse::<Locale>().ok())
        .unwrap_or_default();
    td_string!(locale, err.cross_site).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_bank_they_are_about_in_each_language() {
        let banks = vec![BankInfo {
            id: BankId::try_from(5).unwrap(),
            name: "Titanium".into(),
        }];
        let five = BankId::try_from(5).unwrap();
        assert_eq!(
            refusal(Locale::en, Refusal::NoSourceAccount { bank: five }, &banks),
            "You have no account at Titanium to pay this from."
        );
        assert_eq!(
            refusal(
                Locale::pt_BR,
                Refusal::NoSourceAccount { bank: five },
                &banks
            ),
            "Você não tem conta no Titanium para pagar isto."
        );
        assert!(refusal(
            Locale::en,
            Refusal::NoAnswer {
                bank: BankId::try_from(9).unwrap()
            },
            &banks
        )
        .starts_with("Bank 9"));
        assert!(refusal(
            Locale::pt_BR,
            Refusal::NoAnswer {
                bank: BankId::try_from(9).unwrap()
            },
            &banks
        )
        .starts_with("O Banco 9"));
    }

    #[test]
    fn limits_are_said_with_their_constants() {
        assert_eq!(
            domain::MoneyError::TooLarge.say(Locale::en),
            format!(
                "The amount is larger than the maximum of {} per operation.",
                domain::money::MAX_OPERATION.to_brl()
            )
        );
        assert_eq!(
            refusal(Locale::pt_BR, Refusal::TooManyKeys, &[]),
            format!(
                "Esta conta já tem o máximo de chaves ({} para pessoa física, {} para pessoa \
                 jurídica).",
                domain::pix_key::KEYS_PER_PERSON,
                domain::pix_key::KEYS_PER_COMPANY
            )
        );
        assert_eq!(
            domain::input::InputError::PasswordTooShort.say(Locale::pt_BR),
            format!(
                "A senha precisa de pelo menos {} caracteres.",
                domain::input::PASSWORD_MIN_CHARS
            )
        );
    }

    #[test]
    fn domain_errors_are_said_in_portuguese_first() {
        assert_eq!(
            domain::TaxIdError::BadCpf.say(Locale::default()),
            "Este CPF não é válido: os dígitos verificadores não conferem."
        );
        assert_eq!(
            domain::TaxIdError::WrongLength(5).say(Locale::en),
            "A CPF has 11 digits and a CNPJ 14; this has 5."
        );
        // The client counts transfers from 1; the error, from 0.
        let unknown = domain::packet::PacketError::UnknownBank {
            leg: 1,
            bank: BankId::try_from(9).unwrap(),
        };
        assert_eq!(
            unknown.say(Locale::pt_BR),
            "Transferência 2: não há Banco 9 no consórcio."
        );
        assert_eq!(
            unknown.say(Locale::en),
            "Transfer 2: there is no Bank 9 in the consortium."
        );
    }
}

#[cfg(test)]
mod plural_tests {
    use super::*;

    /// Issue 27: "todas as 1 transferências" and "1 minuto(s)" read as Portuguese does.
    #[test]
    fn counts_take_their_plural_form() {
        plural_rules();
        let pt = Locale::pt_BR;
        assert_eq!(
            td_string!(pt, packet.sent_all, count = 1_usize).to_string(),
            "Pacote enviado: a transferência foi concluída."
        );
        assert_eq!(
            td_string!(pt, packet.sent_all, count = 3_usize).to_string(),
            "Pacote enviado: todas as 3 transferências foram concluídas."
        );
        assert!(td_string!(pt, err.too_many_attempts, count = 1_i64)
            .to_string()
            .ends_with("em 1 minuto."));
        assert!(td_string!(pt, err.too_many_attempts, count = 15_i64)
            .to_string()
            .ends_with("em 15 minutos."));
        assert!(td_string!(Locale::en, err.too_many_attempts, count = 1_i64)
            .to_string()
            .ends_with("in 1 minute."));
    }
}
