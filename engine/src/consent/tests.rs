use super::*;

fn bank(n: u16) -> BankId {
    BankId::try_from(n).unwrap()
}

const DAY: i64 = 86_400_000;
/// 14:06 in Brasília, 2026-11-26.
const NOW: i64 = 1_795_712_760_000;

fn terms(per_packet: i64, daily: Option<i64>) -> ConsentTerms {
    ConsentTerms::new(
        Cents::new(per_packet),
        daily.map(Cents::new),
        NOW + 30 * DAY,
        NOW,
    )
    .unwrap()
}

/// Owner account 7 at this bank gives account 3 at bank 1 a consent.
fn given(c: &mut Consents, per_packet: i64, daily: Option<i64>) -> Consent {
    let code = c
        .grant_code(
            AccountId(7),
            bank(1),
            AccountId(3),
            terms(per_packet, daily),
            NOW,
        )
        .unwrap();
    c.redeem(&code, bank(1), AccountId(3), NOW).unwrap()
}

#[test]
fn a_code_is_redeemed_once_only_by_the_bank_and_account_it_was_made_for() {
    let mut c = Consents::default();
    let code = c
        .grant_code(AccountId(7), bank(1), AccountId(3), terms(100, None), NOW)
        .unwrap();
    assert_eq!(
        c.redeem(&code, bank(2), AccountId(3), NOW),
        Err(ConsentError::BadCode),
        "another bank"
    );
    let code = c
        .grant_code(AccountId(7), bank(1), AccountId(3), terms(100, None), NOW)
        .unwrap();
    assert_eq!(
        c.redeem(&code, bank(1), AccountId(4), NOW),
        Err(ConsentError::BadCode),
        "another account"
    );
    let code = c
        .grant_code(AccountId(7), bank(1), AccountId(3), terms(100, None), NOW)
        .unwrap();
    assert_eq!(
        c.redeem(&code, bank(1), AccountId(3), NOW + CODE_TTL_MS),
        Err(ConsentError::BadCode),
        "too late"
    );
    let code = c
        .grant_code(AccountId(7), bank(1), AccountId(3), terms(100, None), NOW)
        .unwrap();
    let consent = c.redeem(&code, bank(1), AccountId(3), NOW).unwrap();
    assert_eq!(
        (consent.owner, consent.grantee_bank, consent.grantee_account),
        (AccountId(7), bank(1), AccountId(3))
    );
    assert_eq!(
        c.redeem(&code, bank(1), AccountId(3), NOW),
        Err(ConsentError::BadCode),
        "single use"
    );
    assert_eq!(c.given(AccountId(7), NOW).len(), 1);
    assert!(
        c.given(AccountId(8), NOW).is_empty(),
        "another owner sees none"
    );
}

#[test]
fn draws_are_checked_against_grantee_limits_expiry_and_revocation() {
    let mut c = Consents::default();
    let consent = given(&mut c, 1_000, Some(1_500));
    let id = consent.id.clone();
    assert_eq!(
        c.draw(&id, bank(2), AccountId(3), Cents::new(10), NOW),
        Err(DrawError::Unknown),
        "another grantee bank"
    );
    assert_eq!(
        c.draw(&id, bank(1), AccountId(4), Cents::new(10), NOW),
        Err(DrawError::Unknown),
        "another grantee account"
    );
    assert_eq!(
        c.draw(&id, bank(1), AccountId(3), Cents::new(1_001), NOW),
        Err(DrawError::PacketLimit)
    );
    assert_eq!(
        c.draw(&id, bank(1), AccountId(3), Cents::new(1_000), NOW),
        Ok(AccountId(7))
    );
    assert_eq!(
        c.draw(&id, bank(1), AccountId(3), Cents::new(600), NOW),
        Err(DrawError::DailyLimit),
        "1.600 > 1.500 today"
    );
    // An aborted packet gives its draw back; a new day starts from zero.
    c.release(&id, Cents::new(1_000), NOW);
    assert_eq!(
        c.draw(&id, bank(1), AccountId(3), Cents::new(600), NOW),
        Ok(AccountId(7))
    );
    assert_eq!(
        c.draw(&id, bank(1), AccountId(3), Cents::new(1_000), NOW + DAY),
        Ok(AccountId(7))
    );
    assert_eq!(
        c.draw(&id, bank(1), AccountId(3), Cents::new(1), NOW + 30 * DAY),
        Err(DrawError::Expired)
    );
    assert_eq!(
        c.revoke(AccountId(8), &id, NOW),
        Err(ConsentError::Unknown),
        "only its owner revokes it"
    );
    c.revoke(AccountId(7), &id, NOW).unwrap();
    assert_eq!(
        c.draw(&id, bank(1), AccountId(3), Cents::new(1), NOW),
        Err(DrawError::Revoked)
    );
    assert_eq!(c.given(AccountId(7), NOW)[0].status, ConsentStatus::Revoked);
    assert_eq!(
        DrawError::Revoked.refusal(bank(2)),
        Refusal::ConsentRevoked { bank: bank(2) }
    );
}

#[test]
fn a_link_state_is_good_once_for_its_own_client() {
    let mut c = Consents::default();
    let state = c.start_link(AccountId(3), bank(2), NOW).unwrap();
    assert_eq!(
        c.take_state(AccountId(4), &state, NOW),
        Err(ConsentError::BadState),
        "another client"
    );
    assert_eq!(c.take_state(AccountId(3), &state, NOW), Ok(bank(2)));
    assert_eq!(
        c.take_state(AccountId(3), &state, NOW),
        Err(ConsentError::BadState),
        "once"
    );
    let state = c.start_link(AccountId(3), bank(2), NOW).unwrap();
    assert_eq!(
        c.take_state(AccountId(3), &state, NOW + STATE_TTL_MS),
        Err(ConsentError::BadState),
        "too late"
    );
}

#[test]
fn pending_codes_are_bounded() {
    let mut c = Consents::default();
    // Many clients (one alone keeps only its newest few).
    for owner in 0..PENDING_MAX as i64 {
        c.grant_code(
            AccountId(100 + owner),
            bank(1),
            AccountId(3),
            terms(100, None),
            NOW,
        )
        .unwrap();
    }
    assert_eq!(
        c.grant_code(AccountId(7), bank(1), AccountId(3), terms(100, None), NOW),
        Err(ConsentError::Busy)
    );
    assert!(
        c.grant_code(
            AccountId(7),
            bank(1),
            AccountId(3),
            terms(100, None),
            NOW + CODE_TTL_MS
        )
        .is_ok(),
        "expired ones make room"
    );
}

#[test]
fn one_account_cannot_fill_the_tables_of_codes_and_link_states_for_everyone() {
    let mut c = Consents::default();
    let other_code = c
        .grant_code(AccountId(8), bank(1), AccountId(3), terms(100, None), NOW)
        .unwrap();
    let other_state = c.start_link(AccountId(9), bank(2), NOW).unwrap();
    let mut codes = Vec::new();
    let mut states = Vec::new();
    for i in 0..PENDING_MAX as i64 + 10 {
        codes.push(
            c.grant_code(
                AccountId(7),
                bank(1),
                AccountId(3),
                terms(100, None),
                NOW + i,
            )
            .unwrap(),
        );
        states.push(c.start_link(AccountId(7), bank(2), NOW + i).unwrap());
    }
    assert_eq!(c.codes.len(), PENDING_PER_ACCOUNT + 1);
    assert_eq!(c.states.len(), PENDING_PER_ACCOUNT + 1);
    // Other clients' are untouched, and the newest of the flooder's still work.
    assert!(c.redeem(&other_code, bank(1), AccountId(3), NOW).is_ok());
    assert_eq!(c.take_state(AccountId(9), &other_state, NOW), Ok(bank(2)));
    let newest = codes.last().unwrap();
    assert!(c.redeem(newest, bank(1), AccountId(3), NOW).is_ok());
    assert_eq!(
        c.take_state(AccountId(7), states.last().unwrap(), NOW),
        Ok(bank(2))
    );
    assert!(
        c.redeem(&codes[0], bank(1), AccountId(3), NOW).is_err(),
        "the oldest went"
    );
}
