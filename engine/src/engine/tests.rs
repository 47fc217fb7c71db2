use super::*;
use crate::auth::{PasswordHash, SessionToken};
use domain::dto::{AccountKind, Holder};
use domain::BankId;

struct FixedClock(i64);
impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

fn config(dir: &tempfile::TempDir) -> EngineConfig {
    let bank = BankInfo { id: BankId::try_from(2).unwrap(), name: "Automobili".into() };
    EngineConfig::new(bank, dir.path().join("bank.sqlite3"))
}

fn start(dir: &tempfile::TempDir) -> (EngineHandle, std::thread::JoinHandle<()>) {
    EngineHandle::start(config(dir), Arc::new(FixedClock(1_795_712_700_000))).unwrap()
}

fn person(name: &str, cpf: &str, email: &str) -> NewAccount {
    NewAccount {
        kind: AccountKind::Individual,
        holders: vec![Holder { name: name.into(), tax_id: TaxId::parse(cpf).unwrap() }],
        email: email.into(),
        phone: "11987654321".into(),
        password_hash: PasswordHash::for_tests(),
    }
}

const ANA: &str = "529.982.247-25";
const BETO: &str = "111.444.777-35";

#[tokio::test]
async fn deposit_and_pix_inside_the_bank_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, thread) = start(&dir);
    let ana = engine.open_account(person("Ana Lima", ANA, "ana@example.com")).await.unwrap();
    let beto = engine.open_account(person("Beto Reis", BETO, "beto@example.com")).await.unwrap();
    engine.deposit(engine.new_tx_id(), ana, Cents::new(10_000)).await.unwrap();
    let receipt = engine.pix(engine.new_tx_id(), ana, TaxId::parse(BETO).unwrap(), Cents::new(2_550)).await.unwrap();
    assert_eq!(receipt.status, TxStatus::Committed);
    assert_eq!(receipt.receiver.name, "Beto Reis");
    assert_eq!(receipt.receiver.key_masked, "***.444.777-**");
    drop(engine);
    thread.join().unwrap();

    let (engine, _thread) = start(&dir);
    let a = engine.dashboard(ana).await.unwrap();
    let b = engine.dashboard(beto).await.unwrap();
    assert_eq!((a.account.available, a.account.blocked), (Cents::new(7_450), Cents::ZERO));
    assert_eq!(b.account.available, Cents::new(2_550));
    let kinds: Vec<_> = a.recent.iter().map(|e| (e.kind, e.status)).collect();
    assert_eq!(kinds, vec![(EntryKind::PixOut, TxStatus::Committed), (EntryKind::Deposit, TxStatus::Committed)]);
    assert_eq!(b.recent[0].counterparty.as_ref().unwrap().name, "Ana Lima");
    let audit = engine.audit().await.unwrap();
    assert_eq!((audit.total_available, audit.total_blocked, audit.prepared_transactions), (10_000, 0, 0));
}

#[tokio::test]
async fn a_retried_transaction_id_executes_once() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _t) = start(&dir);
    let ana = engine.open_account(person("Ana Lima", ANA, "ana@example.com")).await.unwrap();
    engine.open_account(person("Beto Reis", BETO, "beto@example.com")).await.unwrap();
    let dep = engine.new_tx_id();
    engine.deposit(dep.clone(), ana, Cents::new(1_000)).await.unwrap();
    engine.deposit(dep.clone(), ana, Cents::new(1_000)).await.unwrap();
    assert_eq!(
        engine.deposit(dep, ana, Cents::new(999)).await,
        Err(EngineError::Ledger(LedgerError::TxIdConflict)),
        "same id, different operation"
    );
    let pix = engine.new_tx_id();
    let key = TaxId::parse(BETO).unwrap();
    // Concurrent duplicates land in the same batch; the second must see the first.
    let (r1, r2) = tokio::join!(
        engine.pix(pix.clone(), ana, key, Cents::new(300)),
        engine.pix(pix.clone(), ana, key, Cents::new(300))
    );
    assert_eq!(r1.unwrap(), r2.unwrap());
    let again = engine.pix(pix, ana, key, Cents::new(300)).await.unwrap();
    assert_eq!(again.status, TxStatus::Committed);
    assert_eq!(engine.dashboard(ana).await.unwrap().account.available, Cents::new(700));
}

#[tokio::test]
async fn refused_operations_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _t) = start(&dir);
    let ana = engine.open_account(person("Ana Lima", ANA, "ana@example.com")).await.unwrap();
    engine.open_account(person("Beto Reis", BETO, "beto@example.com")).await.unwrap();
    engine.deposit(engine.new_tx_id(), ana, Cents::new(500)).await.unwrap();
    let before = engine.dashboard(ana).await.unwrap();
    let beto = TaxId::parse(BETO).unwrap();
    let unknown = TaxId::parse("123.456.789-09").unwrap();
    let cases = [
        (engine.pix(engine.new_tx_id(), ana, beto, Cents::new(501)).await, LedgerError::InsufficientFunds),
        (engine.pix(engine.new_tx_id(), ana, TaxId::parse(ANA).unwrap(), Cents::new(1)).await, LedgerError::SelfTransfer),
        (engine.pix(engine.new_tx_id(), ana, unknown, Cents::new(1)).await, LedgerError::UnknownAccount),
    ];
    for (result, expected) in cases {
        assert_eq!(result.unwrap_err(), EngineError::Ledger(expected));
    }
    assert_eq!(
        engine.open_account(person("Other", ANA, "other@example.com")).await,
        Err(EngineError::Ledger(LedgerError::DuplicateTaxId))
    );
    assert_eq!(engine.dashboard(ana).await.unwrap(), before);
    assert_eq!(engine.audit().await.unwrap().accounts, 2);
}

#[tokio::test]
async fn sessions_are_durable_and_end_on_logout() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, thread) = start(&dir);
    let ana = engine.open_account(person("Ana Lima", ANA, "ana@example.com")).await.unwrap();
    let token = SessionToken::generate();
    engine.create_session(token.hash(), ana).await.unwrap();
    assert_eq!(engine.session_account(token.hash()).await.unwrap(), Some(ana));
    assert_eq!(engine.session_account(SessionToken::generate().hash()).await.unwrap(), None);
    drop(engine);
    thread.join().unwrap();
    let (engine, _t) = start(&dir);
    assert_eq!(engine.session_account(token.hash()).await.unwrap(), Some(ana), "a restart keeps sessions");
    engine.end_session(token.hash()).await.unwrap();
    assert_eq!(engine.session_account(token.hash()).await.unwrap(), None);
}
