//! Each holder of a joint account logs in with their own e-mail and password (issue 27): the
//! e-mail says which holder, only that holder's password opens it, an e-mail is one login in the
//! whole bank, and a session remembers its holder across a restart.

use super::*;
use crate::auth::{hash_password, verify_password, Password};
use crate::ledger::Login;

const ANA_PASSWORD: &str = "a senha longa da Ana";
const BETO_PASSWORD: &str = "a senha longa do Beto";

fn joint_account() -> NewAccount {
    let holder = |name: &str, cpf: &str| Holder {
        name: name.into(),
        tax_id: TaxId::parse(cpf).unwrap(),
    };
    let login = |holder: u8, email: &str, password: &str| {
        Login::new(
            holder,
            email.into(),
            hash_password(&Password::new(password.into())),
        )
    };
    NewAccount {
        kind: AccountKind::Individual,
        holders: vec![holder("Ana Lima", ANA), holder("Beto Reis", BETO)],
        logins: vec![
            login(0, "ana@example.com", ANA_PASSWORD),
            login(1, "beto@example.com", BETO_PASSWORD),
        ],
        phone: "11987654321".into(),
    }
}

/// Who `email` logs in, if `password` is that login's.
async fn log_in(engine: &EngineHandle, email: &str, password: &str) -> Option<LoggedIn> {
    let (who, hash) = engine.credentials(email.into()).await.unwrap()?;
    verify_password(Some(&hash), &Password::new(password.into())).then_some(who)
}

#[tokio::test]
async fn each_holder_logs_in_with_their_own_password_and_the_session_keeps_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, thread) = start(&dir);
    let joint = engine.open_account(joint_account()).await.unwrap();
    let (ana, beto) = (LoggedIn::new(joint, 0), LoggedIn::new(joint, 1));
    assert_eq!(
        log_in(&engine, "ana@example.com", ANA_PASSWORD).await,
        Some(ana)
    );
    assert_eq!(
        log_in(&engine, "beto@example.com", BETO_PASSWORD).await,
        Some(beto)
    );
    assert_eq!(
        log_in(&engine, "ana@example.com", BETO_PASSWORD).await,
        None,
        "the other holder's password does not open Ana's login"
    );
    assert_eq!(
        log_in(&engine, "beto@example.com", ANA_PASSWORD).await,
        None
    );

    // An e-mail is one login in the whole bank: another account cannot take Beto's.
    let mut carla = person("Carla Dias", "123.456.789-09", "beto@example.com");
    assert_eq!(
        engine.open_account(carla.clone()).await,
        Err(EngineError::Ledger(LedgerError::DuplicateEmail))
    );
    assert_eq!(engine.audit().await.unwrap().accounts, 1, "nothing opened");
    carla.logins[0].email = "carla@example.com".into();
    let carla = engine.open_account(carla).await.unwrap();
    assert_eq!(
        engine
            .credentials("carla@example.com".into())
            .await
            .unwrap()
            .map(|(w, _)| w),
        Some(LoggedIn::new(carla, 0))
    );

    let (ana_token, beto_token) = (SessionToken::generate(), SessionToken::generate());
    engine.create_session(ana_token.hash(), ana).await.unwrap();
    engine
        .create_session(beto_token.hash(), beto)
        .await
        .unwrap();
    assert_eq!(
        engine
            .create_session(SessionToken::generate().hash(), LoggedIn::new(carla, 1))
            .await,
        Err(EngineError::Ledger(LedgerError::UnknownAccount)),
        "no session for a holder without a login"
    );
    drop(engine);
    thread.join().unwrap();

    let (engine, _thread) = start(&dir);
    assert_eq!(
        engine.session_login(beto_token.hash()).await.unwrap(),
        Some(beto),
        "a restart keeps the session's holder"
    );
    assert_eq!(
        engine.session_login(ana_token.hash()).await.unwrap(),
        Some(ana)
    );
    assert_eq!(
        log_in(&engine, "beto@example.com", BETO_PASSWORD).await,
        Some(beto),
        "a restart keeps both logins"
    );
    assert_eq!(
        log_in(&engine, "ana@example.com", ANA_PASSWORD).await,
        Some(ana)
    );
    assert_eq!(
        engine.login_email(beto).await.unwrap().as_deref(),
        Some("beto@example.com")
    );
    assert_eq!(
        engine.login_email(LoggedIn::new(carla, 1)).await.unwrap(),
        None
    );
    let view = engine.account(joint).await.unwrap();
    assert_eq!(view.email, "ana@example.com", "the first holder's e-mail");
}
