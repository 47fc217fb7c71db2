use super::*;
use crate::auth::{PasswordHash, SessionToken};
use crate::twopc::{Decision, Resolution};
use domain::dto::PacketOutcome;
use domain::dto::{AccountKind, Holder};
use domain::BankId;
use std::collections::HashMap;

/// A stored hash no password matches (accounts here never log in; a real hash would cost
/// an Argon2id run each).
const NO_PASSWORD: &str = "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA";

struct FixedClock(i64);
impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

fn config(dir: &tempfile::TempDir) -> EngineConfig {
    let bank = BankInfo {
        id: BankId::try_from(2).unwrap(),
        name: "Automobili".into(),
    };
    let mut config = EngineConfig::new(bank, dir.path().join("bank.sqlite3"));
    // Banks 1 and 3 may owe this bank up to R$ 10.000,00 each; bank 4 (a member) nothing.
    config.limits = [(1, 1_000_000), (3, 1_000_000), (4, 0)]
        .into_iter()
        .map(|(b, c)| (BankId::try_from(b).unwrap(), Cents::new(c)))
        .collect();
    config.identity = Some(Arc::new(crate::proof::BankKey::from_seed([2; 32])));
    config.keyring = Arc::new(crate::proof::Keyring::new(
        (1..=5u8)
            .map(|n| {
                let key = crate::proof::BankKey::from_seed([n; 32]).public();
                (BankId::try_from(u16::from(n)).unwrap(), key)
            })
            .collect(),
    ));
    config
}

fn start(dir: &tempfile::TempDir) -> (EngineHandle, std::thread::JoinHandle<()>) {
    EngineHandle::start(config(dir), Arc::new(FixedClock(1_795_712_700_000))).unwrap()
}

fn person(name: &str, cpf: &str, email: &str) -> NewAccount {
    NewAccount {
        kind: AccountKind::Individual,
        holders: vec![Holder {
            name: name.into(),
            tax_id: TaxId::parse(cpf).unwrap(),
        }],
        logins: vec![crate::ledger::Login::new(
            0,
            email.into(),
            PasswordHash::from_stored(NO_PASSWORD.into()),
        )],
        phone: "11987654321".into(),
    }
}

/// Opens an account and registers its holder's CPF as its Pix key (this bank alone: its copy
/// of the directory is all there is).
async fn open(engine: &EngineHandle, new: NewAccount) -> AccountId {
    let cpf = new.holders[0].tax_id;
    let id = engine.open_account(new).await.unwrap();
    let Ok(KeyClaim::Op(op)) = engine.key_claim(id, cpf.into(), false).await else {
        panic!("a holder's own CPF is a claim");
    };
    assert_eq!(
        engine.key_op_alone(engine.new_tx_id(), op).await.unwrap(),
        Ok(())
    );
    id
}

fn pix_key(text: &str) -> PixKey {
    PixKey::parse(text).unwrap()
}

const ANA: &str = "529.982.247-25";
const BETO: &str = "111.444.777-35";

#[tokio::test]
async fn deposit_and_pix_inside_the_bank_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, thread) = start(&dir);
    let ana = open(&engine, person("Ana Lima", ANA, "ana@example.com")).await;
    let beto = open(&engine, person("Beto Reis", BETO, "beto@example.com")).await;
    engine
        .deposit(engine.new_tx_id(), ana, Cents::new(10_000))
        .await
        .unwrap();
    let receipt = engine
        .pix(engine.new_tx_id(), ana, pix_key(BETO), Cents::new(2_550))
        .await
        .unwrap();
    assert_eq!(receipt.status, TxStatus::Committed);
    assert_eq!(receipt.receiver.name, "Beto Reis");
    assert_eq!(receipt.receiver.key_masked, "***.444.777-**");
    drop(engine);
    thread.join().unwrap();

    let (engine, _thread) = start(&dir);
    let a = engine.dashboard(ana).await.unwrap();
    let b = engine.dashboard(beto).await.unwrap();
    assert_eq!(
        (a.account.available, a.account.blocked),
        (Cents::new(7_450), Cents::ZERO)
    );
    assert_eq!(b.account.available, Cents::new(2_550));
    let kinds: Vec<_> = a.recent.iter().map(|e| (e.kind, e.status)).collect();
    assert_eq!(
        kinds,
        vec![
            (EntryKind::PixOut, TxStatus::Committed),
            (EntryKind::Deposit, TxStatus::Committed)
        ]
    );
    assert_eq!(b.recent[0].counterparty.as_ref().unwrap().name, "Ana Lima");
    let after: Vec<_> = a.recent.iter().map(|e| e.balance_after).collect();
    assert_eq!(
        after,
        vec![Some(Cents::new(7_450)), Some(Cents::new(10_000))],
        "statement: balance after each entry"
    );
    let audit = engine.audit().await.unwrap();
    assert_eq!(
        (
            audit.total_available,
            audit.total_blocked,
            audit.prepared_transactions
        ),
        (10_000, 0, 0)
    );
}

/// Issue 27: a comprovante shows payer and receiver the same facts, and nobody else gets one.
#[tokio::test]
async fn a_comprovante_is_for_the_two_parties_only() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _thread) = start(&dir);
    let ana = open(&engine, person("Ana Lima", ANA, "ana@example.com")).await;
    let beto = open(&engine, person("Beto Reis", BETO, "beto@example.com")).await;
    let cia = open(
        &engine,
        person("Cia Lima", "123.456.789-09", "cia@example.com"),
    )
    .await;
    let deposit = engine.new_tx_id();
    engine
        .deposit(deposit.clone(), ana, Cents::new(10_000))
        .await
        .unwrap();
    let tx = engine.new_tx_id();
    engine
        .pix(tx.clone(), ana, pix_key(BETO), Cents::new(2_550))
        .await
        .unwrap();
    let paid = engine.receipt(ana, tx.clone()).await.unwrap().unwrap();
    let got = engine.receipt(beto, tx.clone()).await.unwrap().unwrap();
    assert_eq!(
        (paid.tx_id.clone(), got.tx_id.clone()),
        (tx.clone(), tx.clone())
    );
    let (out, into) = (&paid.lines[0], &got.lines[0]);
    assert_eq!((out.kind, into.kind), (EntryKind::PixOut, EntryKind::PixIn));
    let facts = |l: &domain::dto::ReceiptLine| {
        (
            l.amount,
            l.status,
            l.payer.clone(),
            l.receiver.clone(),
            l.reason,
        )
    };
    assert_eq!(facts(out), facts(into));
    let bank = BankId::try_from(2).unwrap();
    assert_eq!(
        facts(out),
        (
            Cents::new(2_550),
            TxStatus::Committed,
            Some(Counterparty {
                name: "Ana Lima".into(),
                key_masked: "***.982.247-**".into(),
                bank,
            }),
            Counterparty {
                name: "Beto Reis".into(),
                key_masked: "***.444.777-**".into(),
                bank,
            },
            None
        )
    );
    assert_eq!(engine.receipt(cia, tx.clone()).await.unwrap(), None);
    assert_eq!(engine.receipt(beto, deposit.clone()).await.unwrap(), None);
    let own = engine.receipt(ana, deposit).await.unwrap().unwrap();
    assert_eq!(
        (own.lines[0].kind, own.lines[0].payer.clone()),
        (EntryKind::Deposit, None)
    );
}

#[tokio::test]
async fn a_retried_transaction_id_executes_once() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _t) = start(&dir);
    let ana = open(&engine, person("Ana Lima", ANA, "ana@example.com")).await;
    open(&engine, person("Beto Reis", BETO, "beto@example.com")).await;
    let dep = engine.new_tx_id();
    engine
        .deposit(dep.clone(), ana, Cents::new(1_000))
        .await
        .unwrap();
    engine
        .deposit(dep.clone(), ana, Cents::new(1_000))
        .await
        .unwrap();
    assert_eq!(
        engine.deposit(dep, ana, Cents::new(999)).await,
        Err(EngineError::Ledger(LedgerError::TxIdConflict)),
        "same id, different operation"
    );
    let pix = engine.new_tx_id();
    let key = pix_key(BETO);
    // Concurrent duplicates land in the same batch; the second must see the first.
    let (r1, r2) = tokio::join!(
        engine.pix(pix.clone(), ana, key.clone(), Cents::new(300)),
        engine.pix(pix.clone(), ana, key.clone(), Cents::new(300))
    );
    assert_eq!(r1.unwrap(), r2.unwrap());
    let again = engine.pix(pix, ana, key, Cents::new(300)).await.unwrap();
    assert_eq!(again.status, TxStatus::Committed);
    assert_eq!(
        engine.dashboard(ana).await.unwrap().account.available,
        Cents::new(700)
    );
}

#[tokio::test]
async fn refused_operations_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _t) = start(&dir);
    let ana = open(&engine, person("Ana Lima", ANA, "ana@example.com")).await;
    open(&engine, person("Beto Reis", BETO, "beto@example.com")).await;
    engine
        .deposit(engine.new_tx_id(), ana, Cents::new(500))
        .await
        .unwrap();
    let before = engine.dashboard(ana).await.unwrap();
    let beto = pix_key(BETO);
    let unknown = pix_key("123.456.789-09");
    let cases = [
        (
            engine
                .pix(engine.new_tx_id(), ana, beto, Cents::new(501))
                .await,
            LedgerError::InsufficientFunds,
        ),
        (
            engine
                .pix(engine.new_tx_id(), ana, pix_key(ANA), Cents::new(1))
                .await,
            LedgerError::SelfTransfer,
        ),
        (
            engine
                .pix(engine.new_tx_id(), ana, unknown, Cents::new(1))
                .await,
            LedgerError::UnknownAccount,
        ),
    ];
    for (result, expected) in cases {
        assert_eq!(result.unwrap_err(), EngineError::Ledger(expected));
    }
    assert_eq!(
        engine
            .open_account(person("Other", ANA, "other@example.com"))
            .await,
        Err(EngineError::Ledger(LedgerError::DuplicateTaxId))
    );
    assert_eq!(engine.dashboard(ana).await.unwrap(), before);
    assert_eq!(engine.audit().await.unwrap().accounts, 2);
}

#[tokio::test]
async fn sessions_are_durable_and_end_on_logout() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, thread) = start(&dir);
    let ana = open(&engine, person("Ana Lima", ANA, "ana@example.com")).await;
    let token = SessionToken::generate();
    engine
        .create_session(token.hash(), LoggedIn::new(ana, 0))
        .await
        .unwrap();
    assert_eq!(
        engine.session_account(token.hash()).await.unwrap(),
        Some(ana)
    );
    assert_eq!(
        engine
            .session_account(SessionToken::generate().hash())
            .await
            .unwrap(),
        None
    );
    drop(engine);
    thread.join().unwrap();
    let (engine, _t) = start(&dir);
    assert_eq!(
        engine.session_account(token.hash()).await.unwrap(),
        Some(ana),
        "a restart keeps sessions"
    );
    engine.end_session(token.hash()).await.unwrap();
    assert_eq!(engine.session_account(token.hash()).await.unwrap(), None);
}

/// A clock that moves one millisecond each time it is read.
struct Ticking(std::sync::atomic::AtomicI64);
impl Clock for Ticking {
    fn now_ms(&self) -> i64 {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test]
async fn an_account_keeps_its_newest_sessions_only() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(Ticking(std::sync::atomic::AtomicI64::new(
        1_795_712_700_000,
    )));
    let (engine, thread) = EngineHandle::start(config(&dir), clock.clone()).unwrap();
    let ana = open(&engine, person("Ana Lima", ANA, "ana@example.com")).await;
    let beto = open(&engine, person("Beto Reis", BETO, "beto@example.com")).await;
    let beto_token = SessionToken::generate();
    engine
        .create_session(beto_token.hash(), LoggedIn::new(beto, 0))
        .await
        .unwrap();
    let cap = EngineConfig::new(config(&dir).bank, dir.path().join("x")).sessions_per_account;
    let tokens: Vec<SessionToken> = (0..cap + 3).map(|_| SessionToken::generate()).collect();
    for t in &tokens {
        engine
            .create_session(t.hash(), LoggedIn::new(ana, 0))
            .await
            .unwrap();
    }
    let mut live = Vec::new();
    for t in &tokens {
        live.push(engine.session_account(t.hash()).await.unwrap().is_some());
    }
    let expected: Vec<bool> = (0..cap + 3).map(|i| i >= 3).collect();
    assert_eq!(live, expected, "the three oldest of Ana's sessions ended");
    assert_eq!(
        engine.session_account(beto_token.hash()).await.unwrap(),
        Some(beto),
        "another account's session is untouched"
    );
    drop(engine);
    thread.join().unwrap();
    let (engine, _t) = EngineHandle::start(config(&dir), clock).unwrap();
    assert_eq!(
        engine.session_account(tokens[0].hash()).await.unwrap(),
        None,
        "the eviction is durable"
    );
    assert_eq!(
        engine
            .session_account(tokens[cap + 2].hash())
            .await
            .unwrap(),
        Some(ana)
    );
}

mod two_phase {
    use super::*;
    use crate::store::PartState;
    use crate::twopc::proof::{Ballot, Digest, Plan, Proof, SignedBallot, SignedPlan};
    use crate::twopc::{DebitSource, DecideItem, PartSpec, PrepareItem, Question, Vote};
    use domain::consent::{ConsentId, ConsentTerms};
    use domain::Refusal;
    use rand::distr::SampleString;

    mod charges;
    mod messages;

    /// Issue 29's cut: a transfer counts in the window its plan names, whenever it is decided
    /// here; a window cut here is reported only once all of its transfers are decided (another
    /// bank's report waits meanwhile), a restart keeps what window a transfer in doubt is in,
    /// and plans for a window reported here, or more than one ahead, are refused.
    #[tokio::test]
    async fn a_transfer_counts_in_its_plans_window_whenever_decided_and_the_report_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, thread) = start(&dir);
        funded(&engine).await;
        let set_window = |w: u64| PLAN_WINDOW.with(|c| c.set(w));
        // Window 1: prepared, not decided. This bank owes bank 1 400 - 250 once it commits.
        set_window(1);
        let early = engine.new_tx_id();
        let voted = prepare(&engine, 1, vec![item(&early, 400, 250)]).await;
        assert_eq!(voted, vec![Vote::Prepared]);
        // Holding the token, this bank closes window 1: cut, but not reported while `early`
        // is undecided; another bank's report waits too.
        let visited = engine
            .window_visit(1, crate::engine::Close::Now, true)
            .await
            .unwrap()
            .unwrap();
        assert!(visited.cut);
        assert_eq!(visited.open, 2);
        assert!(visited.reports.is_empty());
        let early_report = engine
            .accept_report(super::settlement::report(1, 1, 150), true)
            .await;
        let early_report = early_report.unwrap().unwrap();
        assert_eq!(
            early_report.accepted.err(),
            Some(crate::settlement::SettlementError::Pending(1))
        );
        assert!(early_report.reports.is_empty());
        // A transfer of window 2 commits first: it counts in window 2.
        set_window(2);
        let late = engine.new_tx_id();
        let voted = prepare(&engine, 1, vec![item(&late, 300, 100)]).await;
        assert_eq!(voted, vec![Vote::Prepared]);
        engine
            .decide(bank(1), vec![decision(&late, true)])
            .await
            .unwrap();
        // A plan for a window more than one ahead is refused, and reserves nothing.
        set_window(4);
        let far = engine.new_tx_id();
        let voted = prepare(&engine, 1, vec![item(&far, 1, 1)]).await;
        assert!(matches!(voted[0], Vote::Refused { .. }), "{voted:?}");

        // Restarted with `early` in doubt: it is still window 1's.
        engine.shutdown().await.unwrap();
        drop(engine);
        thread.join().unwrap();
        let (engine, _t) = start(&dir);
        assert_eq!(engine.window_cut().await.unwrap(), (1, 0));
        engine
            .decide(bank(1), vec![decision(&early, true)])
            .await
            .unwrap();
        let visited = engine
            .window_visit(2, crate::engine::Close::No, true)
            .await
            .unwrap()
            .unwrap();
        assert!(!visited.cut);
        let one = &visited.reports[..];
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].report.window, 1);
        assert_eq!(one[0].report.net_with(bank(1)), Cents::new(-150));
        // A plan for window 1, reported here, is refused now.
        set_window(1);
        let stale = engine.new_tx_id();
        let voted = prepare(&engine, 1, vec![item(&stale, 1, 1)]).await;
        assert!(matches!(voted[0], Vote::Refused { .. }), "{voted:?}");
        // The token says window 3 is open: window 2 is cut and reported, with `late` alone.
        let visited = engine
            .window_visit(3, crate::engine::Close::No, true)
            .await
            .unwrap()
            .unwrap();
        assert!(visited.cut);
        assert_eq!(visited.open, 3);
        assert_eq!(visited.reports.len(), 1);
        assert_eq!(
            visited.reports[0].report.net_with(bank(1)),
            Cents::new(-200)
        );
        assert_eq!(visited.reports[0].report.peers[0].through, Cents::new(-350));
        // The windows' nets are the positions: nothing counted twice or lost.
        let audit = engine.audit().await.unwrap();
        assert_eq!(audit.books.positions[&bank(1)].settled, -350);
        assert!(audit.books.window_nets.is_empty());
        assert!(audit.balanced);
        set_window(0);
    }

    fn bank(n: u16) -> BankId {
        BankId::try_from(n).unwrap()
    }

    fn cp(name: &str) -> Counterparty {
        Counterparty {
            name: name.into(),
            key_masked: "***.982.247-**".into(),
            bank: bank(1),
        }
    }

    fn key(text: &str) -> PixKey {
        PixKey::parse(text).unwrap()
    }

    /// The engine's clock in these tests.
    const NOW: i64 = 1_795_712_700_000;

    fn key_of(n: u16) -> crate::proof::BankKey {
        crate::proof::BankKey::from_seed([n as u8; 32])
    }

    thread_local! {
        /// The settlement window the plans of [`planned`] name (0 unless a test sets it).
        static PLAN_WINDOW: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
        /// The first plan each transaction was prepared under here (see [`planned`]).
        static PLANS: std::cell::RefCell<HashMap<TxId, SignedPlan>> =
            std::cell::RefCell::new(HashMap::new());
    }

    /// `item` as coordinator `c` sends it to this bank (2): with `c`'s signed plan naming this
    /// bank with exactly these parts, `c`, and every bank the parts name as their other side.
    fn planned(c: u16, mut item: PrepareItem) -> PrepareItem {
        let mut banks: std::collections::BTreeSet<BankId> = [bank(c), bank(2)].into();
        for (_, spec) in &item.parts {
            match spec {
                PartSpec::Debit { to, .. } | PartSpec::ReturnDebit { to, .. } => {
                    banks.insert(to.bank)
                }
                PartSpec::Credit { from, .. }
                | PartSpec::ReturnCredit { from, .. }
                | PartSpec::ChargeCredit { from, .. } => banks.insert(from.bank),
                PartSpec::Key(_) => {
                    banks.extend((1..=5).map(bank));
                    true
                }
            };
        }
        let parts = banks
            .iter()
            .map(|b| {
                let hash = if *b == bank(2) {
                    Digest(item.parts_sha256())
                } else {
                    Digest::of(b"parts elsewhere")
                };
                (*b, hash)
            })
            .collect();
        let plan = Plan {
            tx: item.tx.clone(),
            coordinator: bank(c),
            parts,
            decide_by_ms: NOW + 60_000,
            window: PLAN_WINDOW.with(|w| w.get()),
        };
        let plan = SignedPlan::sign(&key_of(c), plan);
        PLANS.with(|p| {
            p.borrow_mut()
                .entry(item.tx.clone())
                .or_insert_with(|| plan.clone());
        });
        item.plan = Some(plan);
        item
    }

    /// Phase one at this bank for coordinator `c`'s `items`: the votes of its signed ballots.
    async fn prepare(engine: &EngineHandle, c: u16, items: Vec<PrepareItem>) -> Vec<Vote> {
        let items = items.into_iter().map(|i| planned(c, i)).collect();
        let ballots = engine.prepare(bank(c), items).await.unwrap();
        assert!(ballots.iter().all(|b| b.verify(engine.keyring())));
        ballots.into_iter().map(|b| b.ballot.vote).collect()
    }

    /// Every participant's signed yes for `plan`.
    fn certificate(plan: &SignedPlan) -> Proof {
        let votes = plan
            .plan
            .participants()
            .map(|b| {
                let ballot = Ballot {
                    tx: plan.plan.tx.clone(),
                    plan: plan.hash(),
                    voter: b,
                    vote: Vote::Prepared,
                };
                SignedBallot::sign(&key_of(u16::from(b)), ballot)
            })
            .collect();
        Proof::Commit {
            plan: plan.clone(),
            votes,
        }
    }

    /// Bank `voter`'s signed no to `plan`.
    fn refusal(plan: &SignedPlan, voter: u16) -> Proof {
        let ballot = Ballot {
            tx: plan.plan.tx.clone(),
            plan: plan.hash(),
            voter: bank(voter),
            vote: Vote::Refused {
                leg: 0,
                reason: Refusal::Expired,
            },
        };
        Proof::Abort {
            plan: plan.clone(),
            refusal: SignedBallot::sign(&key_of(voter), ballot),
        }
    }

    /// The decision on `tx` as its coordinator proves it: every participant's yes for the plan
    /// it was prepared under here, or the coordinator's no.
    fn decision(tx: &TxId, commit: bool) -> DecideItem {
        let plan = PLANS.with(|p| p.borrow()[tx].clone());
        DecideItem::proved(if commit {
            certificate(&plan)
        } else {
            refusal(&plan, u16::from(plan.plan.coordinator))
        })
    }

    thread_local! {
        /// The consent Ana gave this test's account 1 at bank 1 (see [`funded`]).
        static CONSENT: std::cell::RefCell<Option<ConsentId>> = const { std::cell::RefCell::new(None) };
    }

    /// Ana's account, as account 1 at bank 1 may draw on it.
    fn from_ana() -> DebitSource {
        let consent = CONSENT
            .with(|c| c.borrow().clone())
            .expect("funded() gave a consent");
        DebitSource::Consent {
            consent,
            grantee: AccountId(1),
        }
    }

    /// Bank 2 (the engine under test) pays `debit` from Ana's account and credits `credit` to Beto.
    fn item(tx: &TxId, debit: i64, credit: i64) -> PrepareItem {
        PrepareItem {
            tx: tx.clone(),
            parts: vec![
                (
                    0,
                    PartSpec::Debit {
                        source: from_ana(),
                        amount: Cents::new(debit),
                        to: cp("Someone at bank 3"),
                        message: domain::PixMessage::none(),
                    },
                ),
                (
                    1,
                    PartSpec::Credit {
                        key: key(BETO),
                        amount: Cents::new(credit),
                        from: cp("Someone at bank 1"),
                        message: domain::PixMessage::none(),
                    },
                ),
            ],
            plan: None,
        }
    }

    async fn funded(engine: &EngineHandle) -> (AccountId, AccountId) {
        let ana = open(engine, person("Ana Lima", ANA, "ana@example.com")).await;
        let beto = open(engine, person("Beto Reis", BETO, "beto@example.com")).await;
        engine
            .deposit(engine.new_tx_id(), ana, Cents::new(1_000))
            .await
            .unwrap();
        // Ana lets account 1 at bank 1 draw on her account here.
        let now = 1_795_712_700_000;
        let terms = ConsentTerms::new(Cents::new(100_000), None, now + 86_400_000, now).unwrap();
        let grant = GrantRequest {
            owner: ana,
            grantee_bank: bank(1),
            grantee_account: AccountId(1),
            terms,
        };
        let code = engine.grant_code(grant).await.unwrap();
        let consent = engine
            .redeem(code, bank(1), AccountId(1))
            .await
            .unwrap()
            .consent;
        CONSENT.with(|c| *c.borrow_mut() = Some(consent));
        (ana, beto)
    }

    async fn balances(engine: &EngineHandle, id: AccountId) -> (i64, i64) {
        let a = engine.account(id).await.unwrap();
        (a.available.get(), a.blocked.get())
    }

    #[tokio::test]
    async fn prepare_reserves_and_is_durable_and_a_restart_keeps_it_in_doubt_until_decided() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, thread) = start(&dir);
        let (ana, beto) = funded(&engine).await;
        let tx = engine.new_tx_id();
        assert_eq!(
            prepare(&engine, 1, vec![item(&tx, 400, 250)]).await,
            vec![Vote::Prepared]
        );
        assert_eq!(balances(&engine, ana).await, (600, 400));
        assert_eq!(
            balances(&engine, beto).await,
            (0, 0),
            "a pending credit is not spendable"
        );
        drop(engine);
        thread.join().unwrap();

        let (engine, _t) = start(&dir);
        assert_eq!(
            balances(&engine, ana).await,
            (600, 400),
            "the reservation survives a restart"
        );
        let doubt = engine.in_doubt().await.unwrap();
        assert_eq!(
            doubt
                .iter()
                .map(|d| (d.tx.clone(), d.coordinator, d.plan.clone()))
                .collect::<Vec<_>>(),
            vec![(
                tx.clone(),
                bank(1),
                Some(PLANS.with(|p| p.borrow()[&tx].clone()))
            )],
            "in doubt, with the plan to ask about"
        );
        // Duplicate prepare: same vote, nothing reserved twice.
        assert_eq!(
            prepare(&engine, 1, vec![item(&tx, 400, 250)]).await,
            vec![Vote::Prepared]
        );
        assert_eq!(balances(&engine, ana).await, (600, 400));
        // A decision nobody can prove (another bank's word, or an abort the coordinator did
        // not sign): not applied, and not acknowledged either.
        let unproven = DecideItem {
            tx: tx.clone(),
            commit: false,
            proof: None,
        };
        let plan = PLANS.with(|p| p.borrow()[&tx].clone());
        let forged = DecideItem::proved(refusal(&plan, 4));
        assert_eq!(
            engine
                .decide(bank(3), vec![unproven, forged])
                .await
                .unwrap(),
            Vec::<TxId>::new()
        );
        assert_eq!(
            balances(&engine, ana).await,
            (600, 400),
            "still reserved for the real coordinator"
        );
        let commit = vec![decision(&tx, true)];
        assert_eq!(
            engine.decide(bank(1), commit.clone()).await.unwrap(),
            vec![tx.clone()]
        );
        assert_eq!(
            engine.decide(bank(1), commit).await.unwrap(),
            vec![tx.clone()],
            "a duplicate decision is acknowledged again"
        );
        assert_eq!(balances(&engine, ana).await, (600, 0));
        assert_eq!(balances(&engine, beto).await, (250, 0));
        assert!(engine.in_doubt().await.unwrap().is_empty());
        let audit = engine.audit().await.unwrap();
        assert_eq!(
            (
                audit.total_blocked,
                audit.total_incoming,
                audit.prepared_transactions
            ),
            (0, 0, 0)
        );
    }

    /// Issue 27: an aborted credit never shows as money in: neither in the receiver's statement
    /// nor as a comprovante; the payer's aborted debit stays in its statement, not concluded
    /// (this bank did not coordinate, so it knows no reason).
    #[tokio::test]
    async fn an_aborted_credit_never_reaches_the_receivers_statement() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _thread) = start(&dir);
        let (ana, beto) = funded(&engine).await;
        let tx = engine.new_tx_id();
        assert_eq!(
            prepare(&engine, 1, vec![item(&tx, 400, 250)]).await,
            vec![Vote::Prepared]
        );
        let ids = |d: Dashboard| -> Vec<(EntryKind, TxStatus)> {
            d.recent
                .iter()
                .filter(|e| e.tx_id == tx)
                .map(|e| (e.kind, e.status))
                .collect()
        };
        assert!(
            ids(engine.dashboard(beto).await.unwrap()).is_empty(),
            "a pending credit has not arrived"
        );
        assert_eq!(engine.receipt(beto, tx.clone()).await.unwrap(), None);
        assert_eq!(
            engine
                .decide(bank(1), vec![decision(&tx, false)])
                .await
                .unwrap(),
            vec![tx.clone()]
        );
        assert!(ids(engine.dashboard(beto).await.unwrap()).is_empty());
        assert_eq!(engine.receipt(beto, tx.clone()).await.unwrap(), None);
        assert_eq!(
            ids(engine.dashboard(ana).await.unwrap()),
            vec![(EntryKind::PixOut, TxStatus::Aborted)]
        );
        let line = &engine.dashboard(ana).await.unwrap().recent[0];
        assert_eq!((line.balance_after, line.reason), (None, None));
        let paid = engine.receipt(ana, tx.clone()).await.unwrap().unwrap();
        assert_eq!(paid.lines[0].status, TxStatus::Aborted);
    }

    /// Issue 24's first confirmed attack: under a consent the coordinator holds, a debit of
    /// R$ 0,01 and a credit of R$ 1 bn sharing one leg number, so that the participant took the
    /// leg for one inside itself (no limit, no position). Refused; nothing reserved or drawn.
    #[tokio::test]
    async fn a_leg_inside_this_bank_must_pay_what_it_credits() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _thread) = start(&dir);
        let (ana, beto) = funded(&engine).await;
        let here = Counterparty {
            bank: bank(2),
            ..cp("Someone here")
        };
        let mint = |tx: &TxId, credit: i64| PrepareItem {
            tx: tx.clone(),
            parts: vec![
                (
                    0,
                    PartSpec::Debit {
                        source: from_ana(),
                        amount: Cents::new(1),
                        to: here.clone(),
                        message: domain::PixMessage::none(),
                    },
                ),
                (
                    0,
                    PartSpec::Credit {
                        key: key(BETO),
                        amount: Cents::new(credit),
                        from: here.clone(),
                        message: domain::PixMessage::none(),
                    },
                ),
            ],
            plan: None,
        };
        let before = engine.audit().await.unwrap();
        for credit in [100_000_000_000, 2] {
            let tx = engine.new_tx_id();
            assert_eq!(
                prepare(&engine, 1, vec![mint(&tx, credit)]).await,
                vec![Vote::Refused {
                    leg: 0,
                    reason: Refusal::InvalidParts { bank: bank(2) }
                }]
            );
            engine
                .decide(bank(1), vec![decision(&tx, true)])
                .await
                .unwrap();
        }
        assert_eq!(balances(&engine, ana).await, (1_000, 0));
        assert_eq!(balances(&engine, beto).await, (0, 0));
        let after = engine.audit().await.unwrap();
        assert_eq!(after.books, before.books);
        assert!(after.balanced);
        // The same leg with equal amounts is a transfer inside this bank, and commits.
        let tx = engine.new_tx_id();
        assert_eq!(
            prepare(&engine, 1, vec![mint(&tx, 1)]).await,
            vec![Vote::Prepared]
        );
        engine
            .decide(bank(1), vec![decision(&tx, true)])
            .await
            .unwrap();
        assert_eq!(balances(&engine, beto).await, (1, 0));
        assert!(engine.audit().await.unwrap().balanced);
    }

    /// A key leaves this bank only with its owner's allowance, once, as a permit this bank
    /// signs for one bank and one account.
    #[tokio::test]
    async fn a_port_permit_is_signed_once_per_allowance_for_the_same_person() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _thread) = start(&dir);
        let (ana, _) = funded(&engine).await;
        let email = key("ana@example.com");
        let claim = engine.key_claim(ana, email.clone(), false).await.unwrap();
        let KeyClaim::Op(op) = claim else {
            panic!("a free key is a claim")
        };
        assert_eq!(
            engine.key_op_alone(engine.new_tx_id(), op).await.unwrap(),
            Ok(())
        );
        let request = |holder: &str| crate::directory::PortRequest {
            key: email.clone(),
            account: AccountId(9),
            name: "Ana Lima".into(),
            document: "***.982.247-**".into(),
            holders: vec![TaxId::parse(holder).unwrap()],
        };
        assert_eq!(
            engine.port_permit(bank(5), request(ANA)).await.unwrap(),
            Err(Refusal::PortNotAllowed { bank: bank(2) }),
            "Ana has not allowed it"
        );
        engine
            .allow_port(ana, email.clone(), bank(5))
            .await
            .unwrap();
        assert_eq!(
            engine.port_permit(bank(4), request(ANA)).await.unwrap(),
            Err(Refusal::PortNotAllowed { bank: bank(2) }),
            "allowed for bank 5 only"
        );
        assert_eq!(
            engine.port_permit(bank(5), request(BETO)).await.unwrap(),
            Err(Refusal::KeyTaken { bank: bank(2) }),
            "the new account is not Ana's"
        );
        let permit = engine
            .port_permit(bank(5), request(ANA))
            .await
            .unwrap()
            .expect("allowed");
        assert_eq!(
            (permit.from, permit.to, permit.account),
            (bank(2), bank(5), AccountId(9))
        );
        // Every bank can check it: bank 3's copy of the directory moves the key with it.
        let mut copy =
            crate::directory::Directory::restore(engine.keys_of(ana).await.unwrap(), Vec::new());
        let tx = engine.new_tx_id();
        let keyring = config(&dir).keyring;
        let op = KeyOp::Port { permit };
        copy.prepare((bank(3), &keyring), &tx, bank(5), op, 0)
            .unwrap();
        assert_eq!(
            engine.port_permit(bank(5), request(ANA)).await.unwrap(),
            Err(Refusal::PortNotAllowed { bank: bank(2) }),
            "used up"
        );
    }

    #[tokio::test]
    async fn a_coordinator_decides_its_own_part_with_the_log_and_waits_only_for_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, thread) = start(&dir);
        let (ana, beto) = funded(&engine).await;
        // Bank 2 coordinates a packet with a part here and a part at bank 3: Ana's own debit.
        let tx = engine.new_tx_id();
        let mut own = item(&tx, 300, 300);
        if let PartSpec::Debit { source, .. } = &mut own.parts[0].1 {
            *source = DebitSource::Own { account: ana };
        }
        assert_eq!(
            engine.prepare_own(vec![own]).await.unwrap(),
            vec![Vote::Prepared]
        );
        let outcome = PacketOutcome {
            tx_id: tx.clone(),
            status: TxStatus::Committed,
            legs: vec![],
        };
        let d = Decision {
            tx: tx.clone(),
            commit: true,
            participants: vec![bank(2), bank(3)],
            submitter: AccountId(1),
            legs: vec![],
            outcome,
            ballots: None,
            refusal: None,
        };
        let logged = engine.log_decisions(vec![d]).await.unwrap();
        assert!(logged[0].commit);
        assert_eq!(
            logged[0].tell,
            vec![bank(3)],
            "the other participant is told; this bank decided with the log"
        );
        assert_eq!(
            balances(&engine, ana).await,
            (700, 0),
            "applied here in the same batch"
        );
        assert_eq!(balances(&engine, beto).await, (300, 0));
        assert!(engine.in_doubt().await.unwrap().is_empty());
        drop(engine);
        thread.join().unwrap();

        let (engine, _t) = start(&dir);
        assert_eq!(
            engine.unacked_decisions().await.unwrap(),
            vec![crate::twopc::Unacked {
                tx: tx.clone(),
                commit: true,
                proof: None,
                banks: vec![bank(3)]
            }],
            "only bank 3 to hear it"
        );
        // Its own delivery, should it come (an older log listed this bank), is acknowledged again.
        assert_eq!(
            engine
                .decide(
                    bank(2),
                    vec![DecideItem {
                        tx: tx.clone(),
                        commit: true,
                        proof: None,
                    }]
                )
                .await
                .unwrap(),
            vec![tx]
        );
        assert_eq!(balances(&engine, ana).await, (700, 0));
    }

    #[tokio::test]
    async fn a_refused_part_reserves_nothing_and_a_late_prepare_after_abort_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _t) = start(&dir);
        let (ana, _beto) = funded(&engine).await;
        let tx = engine.new_tx_id();
        let vote = prepare(&engine, 1, vec![item(&tx, 1_001, 10)]).await;
        assert!(
            matches!(
                &vote[0],
                Vote::Refused {
                    leg: 0,
                    reason: Refusal::InsufficientFunds
                }
            ),
            "{vote:?}"
        );
        assert_eq!(balances(&engine, ana).await, (1_000, 0));
        // The credit fails after the debit was reserved: the debit is released too.
        let unknown = PrepareItem {
            tx: engine.new_tx_id(),
            parts: vec![
                (
                    0,
                    PartSpec::Debit {
                        source: from_ana(),
                        amount: Cents::new(100),
                        to: cp("x"),
                        message: domain::PixMessage::none(),
                    },
                ),
                (
                    0,
                    PartSpec::Credit {
                        key: key("123.456.789-09"),
                        amount: Cents::new(100),
                        from: cp("y"),
                        message: domain::PixMessage::none(),
                    },
                ),
            ],
            plan: None,
        };
        assert!(matches!(
            prepare(&engine, 1, vec![unknown]).await[0],
            Vote::Refused { leg: 0, .. }
        ));
        assert_eq!(balances(&engine, ana).await, (1_000, 0));
        // An abort for something never prepared is acknowledged and remembered.
        let late = engine.new_tx_id();
        planned(1, item(&late, 100, 100));
        assert_eq!(
            engine
                .decide(bank(1), vec![decision(&late, false)])
                .await
                .unwrap(),
            vec![late.clone()]
        );
        assert!(matches!(
            prepare(&engine, 1, vec![item(&late, 100, 100)]).await[0],
            Vote::Refused { .. }
        ));
        assert_eq!(balances(&engine, ana).await, (1_000, 0));
        assert_eq!(engine.audit().await.unwrap().prepared_transactions, 0);
    }

    #[tokio::test]
    async fn a_debit_needs_an_account_of_the_same_client_and_amounts_must_be_positive() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _t) = start(&dir);
        let (ana, _beto) = funded(&engine).await;
        let stranger = PrepareItem {
            tx: engine.new_tx_id(),
            parts: vec![(
                0,
                PartSpec::Debit {
                    source: DebitSource::Consent {
                        consent: ConsentId::parse("nosuchconsentnosuchconse").unwrap(),
                        grantee: AccountId(1),
                    },
                    amount: Cents::new(1),
                    to: cp("x"),
                    message: domain::PixMessage::none(),
                },
            )],
            plan: None,
        };
        let negative = item(&engine.new_tx_id(), -500, 10);
        let self_pay = PrepareItem {
            tx: engine.new_tx_id(),
            parts: vec![
                (
                    0,
                    PartSpec::Debit {
                        source: from_ana(),
                        amount: Cents::new(1),
                        to: cp("x"),
                        message: domain::PixMessage::none(),
                    },
                ),
                (
                    0,
                    PartSpec::Credit {
                        key: key(ANA),
                        amount: Cents::new(1),
                        from: cp("y"),
                        message: domain::PixMessage::none(),
                    },
                ),
            ],
            plan: None,
        };
        let votes = prepare(&engine, 1, vec![stranger, negative, self_pay]).await;
        assert!(
            votes.iter().all(|v| matches!(v, Vote::Refused { .. })),
            "{votes:?}"
        );
        assert_eq!(balances(&engine, ana).await, (1_000, 0));
    }

    #[tokio::test]
    async fn the_first_stored_decision_is_final_and_unknown_ids_resolve_to_abort() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, thread) = start(&dir);
        let tx = engine.new_tx_id();
        // This bank (2) planned `tx` with bank 1 and crashed before deciding; bank 1 asks about
        // the plan: presumed abort, stored, and proved by this bank's signed no to that plan.
        let plan = SignedPlan::sign(
            &key_of(2),
            Plan {
                tx: tx.clone(),
                coordinator: bank(2),
                parts: vec![(bank(1), Digest::of(b"a")), (bank(2), Digest::of(b"b"))],
                decide_by_ms: NOW + 60_000,
                window: 0,
            },
        );
        let asked = |plan: &SignedPlan| Question {
            tx: plan.plan.tx.clone(),
            plan: Some(plan.clone()),
        };
        let presumed = engine.resolve(bank(1), asked(&plan)).await.unwrap();
        let Resolution::Decided(proof) = presumed else {
            panic!("{presumed:?}")
        };
        assert_eq!(proof.check(&tx, engine.keyring(), None), Ok(()));
        assert_eq!(proof.refused_by(), Some(bank(2)));
        // The coordinator then tries to commit the same id: the abort stands.
        let outcome = PacketOutcome {
            tx_id: tx.clone(),
            status: TxStatus::Committed,
            legs: vec![],
        };
        let d = Decision {
            tx: tx.clone(),
            commit: true,
            participants: vec![bank(1)],
            submitter: AccountId(1),
            legs: vec![],
            outcome,
            ballots: None,
            refusal: None,
        };
        let logged = engine.log_decisions(vec![d]).await.unwrap();
        assert!(!logged[0].commit, "first decision wins");
        assert_eq!(logged[0].outcome.status, TxStatus::Aborted);
        assert_eq!(
            logged[0].tell,
            vec![bank(1)],
            "every bank of this round hears the abort"
        );
        // A question about a plan this bank never signed presumes nothing and stores nothing.
        let stranger = engine.new_tx_id();
        let forged = SignedPlan::sign(
            &key_of(5),
            Plan {
                tx: stranger.clone(),
                coordinator: bank(2),
                parts: vec![(bank(2), Digest::of(b"b")), (bank(5), Digest::of(b"c"))],
                decide_by_ms: NOW + 60_000,
                window: 0,
            },
        );
        assert_eq!(
            engine.resolve(bank(5), asked(&forged)).await.unwrap(),
            Resolution::Unproven { commit: false }
        );
        assert_eq!(engine.decision(stranger).await.unwrap(), None);

        let other = engine.new_tx_id();
        let outcome = PacketOutcome {
            tx_id: other.clone(),
            status: TxStatus::Committed,
            legs: vec![],
        };
        let d = Decision {
            tx: other.clone(),
            commit: true,
            participants: vec![bank(1), bank(3)],
            submitter: AccountId(7),
            legs: vec![],
            outcome,
            ballots: None,
            refusal: None,
        };
        assert!(engine.log_decisions(vec![d]).await.unwrap()[0].commit);
        engine
            .decision_acked(vec![(other.clone(), vec![bank(3)])])
            .await
            .unwrap();
        drop(engine);
        thread.join().unwrap();

        let (engine, _t) = start(&dir);
        assert_eq!(
            engine.unacked_decisions().await.unwrap(),
            vec![crate::twopc::Unacked {
                tx: other.clone(),
                commit: true,
                proof: None,
                banks: vec![bank(3)]
            }]
        );
        let stored = engine.decision(other.clone()).await.unwrap().unwrap();
        assert!(stored.commit, "a stored commit is never presumed away");
        assert_eq!(
            (stored.participants.as_deref(), stored.submitter),
            (Some(&[bank(1), bank(3)][..]), Some(AccountId(7)))
        );
        // A commit without a plan (before decisions carried proof) is told only to its
        // participants: another bank that prepared something under this id hears abort.
        let unplanned = Question {
            tx: other.clone(),
            plan: None,
        };
        assert_eq!(
            engine.resolve(bank(3), unplanned.clone()).await.unwrap(),
            Resolution::Unproven { commit: true }
        );
        assert_eq!(
            engine.resolve(bank(4), unplanned).await.unwrap(),
            Resolution::Unproven { commit: false }
        );
        engine.decision_acked(vec![(other, vec![])]).await.unwrap();
        assert!(engine.unacked_decisions().await.unwrap().is_empty());
    }

    /// A leg this bank coordinates between two other banks makes the payer's bank owe this one:
    /// a commit that would take it beyond its limit here is stored as an abort instead.
    #[tokio::test]
    async fn legs_between_other_banks_keep_the_payer_within_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _t) = start(&dir);
        let decision = |tx: &TxId, legs: Vec<(BankId, BankId, Cents)>| Decision {
            tx: tx.clone(),
            commit: true,
            participants: vec![bank(1), bank(3), bank(4)],
            submitter: AccountId(1),
            outcome: PacketOutcome {
                tx_id: tx.clone(),
                status: TxStatus::Committed,
                legs: legs
                    .iter()
                    .map(|(_, _, amount)| domain::dto::LegOutcome {
                        status: TxStatus::Committed,
                        error: None,
                        receiver: None,
                        amount: *amount,
                    })
                    .collect(),
            },
            legs,
            ballots: None,
            refusal: None,
        };
        let (within, beyond, unlisted) =
            (engine.new_tx_id(), engine.new_tx_id(), engine.new_tx_id());
        let logged = engine
            .log_decisions(vec![
                // Bank 1 may owe R$ 10.000,00 here: R$ 6.000,00 is fine...
                decision(&within, vec![(bank(1), bank(3), Cents::new(600_000))]),
                // ...and R$ 6.000,00 more is not, even split over two legs; bank 4 owes nothing.
                decision(
                    &beyond,
                    vec![
                        (bank(3), bank(1), Cents::new(1)),
                        (bank(1), bank(3), Cents::new(300_000)),
                        (bank(1), bank(4), Cents::new(300_000)),
                    ],
                ),
                decision(&unlisted, vec![(bank(4), bank(3), Cents::new(1))]),
            ])
            .await
            .unwrap();
        assert!(logged[0].commit);
        for l in &logged[1..] {
            assert!(!l.commit, "{l:?}");
            assert_eq!(l.outcome.status, TxStatus::Aborted);
            assert!(l.outcome.legs.iter().all(|o| o.status == TxStatus::Aborted));
        }
        let errors = |l: &crate::Logged| -> Vec<Option<Refusal>> {
            l.outcome.legs.iter().map(|o| o.error).collect()
        };
        let over = |bank| Some(Refusal::LimitExceeded { bank });
        assert_eq!(errors(&logged[1]), vec![None, None, over(bank(1))]);
        assert_eq!(errors(&logged[2]), vec![over(bank(4))]);
        assert!(
            !engine.decision(beyond).await.unwrap().unwrap().commit,
            "the abort is stored"
        );
        let positions = engine.audit().await.unwrap().books.positions;
        assert_eq!(positions[&bank(1)].settled, 600_000);
        assert_eq!(positions[&bank(3)].settled, -600_000);
        assert!(!positions.contains_key(&bank(4)));
    }

    #[tokio::test]
    async fn a_transaction_id_names_one_set_of_parts_whatever_its_state() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _t) = start(&dir);
        let (ana, beto) = funded(&engine).await;
        let tx = engine.new_tx_id();
        assert_eq!(
            prepare(&engine, 1, vec![item(&tx, 100, 100)]).await,
            vec![Vote::Prepared]
        );
        let other_parts = |tx: &TxId| item(tx, 900, 900);
        let refused_as_reused = |votes: Vec<Vote>| {
            matches!(
                &votes[0],
                Vote::Refused {
                    leg: 0,
                    reason: Refusal::TxIdReused { .. }
                }
            )
        };
        // Prepared: the same parts again are a retry; other parts under the same id are refused
        // and change nothing.
        assert_eq!(
            prepare(&engine, 1, vec![item(&tx, 100, 100)]).await,
            vec![Vote::Prepared]
        );
        assert!(refused_as_reused(
            prepare(&engine, 1, vec![other_parts(&tx)]).await
        ));
        assert_eq!(balances(&engine, ana).await, (900, 100));
        assert_eq!(engine.audit().await.unwrap().total_incoming, 100);
        // Committed: the same holds, and the commit stands.
        engine
            .decide(bank(1), vec![decision(&tx, true)])
            .await
            .unwrap();
        assert!(refused_as_reused(
            prepare(&engine, 1, vec![other_parts(&tx)]).await
        ));
        assert_eq!(
            prepare(&engine, 1, vec![item(&tx, 100, 100)]).await,
            vec![Vote::Prepared]
        );
        assert_eq!(
            (balances(&engine, ana).await, balances(&engine, beto).await),
            ((900, 0), (100, 0))
        );
        let part = engine.participation(tx.clone()).await.unwrap().unwrap();
        assert_eq!(part.state, PartState::Committed);
        assert_eq!(
            part.parts,
            Some(item(&tx, 100, 100).parts_sha256()),
            "the hash outlives the state change"
        );
        let audit = engine.audit().await.unwrap();
        assert_eq!(
            (
                audit.total_blocked,
                audit.total_incoming,
                audit.prepared_transactions
            ),
            (0, 0, 0)
        );
    }

    #[tokio::test]
    async fn a_debit_for_another_bank_needs_a_consent_checked_before_anything_is_reserved() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _t) = start(&dir);
        let (ana, _beto) = funded(&engine).await;
        let debit = |source: DebitSource, amount: i64| PrepareItem {
            tx: TxId::compose(
                bank(1),
                "202611261705",
                &rand::distr::Alphanumeric.sample_string(&mut rand::rng(), 11),
            )
            .unwrap(),
            parts: vec![(
                0,
                PartSpec::Debit {
                    source,
                    amount: Cents::new(amount),
                    to: cp("x"),
                    message: domain::PixMessage::none(),
                },
            )],
            plan: None,
        };
        let refused = |votes: Vec<Vote>| match &votes[0] {
            Vote::Refused { reason, .. } => *reason,
            Vote::Prepared => panic!("prepared"),
        };
        // Nothing by account number or CPF alone: another bank cannot name Ana's account itself.
        let own = prepare(
            &engine,
            1,
            vec![debit(DebitSource::Own { account: ana }, 10)],
        )
        .await;
        assert_eq!(refused(own), Refusal::NoSourceAccount { bank: bank(2) });
        // The consent names account 1 at bank 1: account 9 there, or bank 3, may not use it.
        let DebitSource::Consent { consent, .. } = from_ana() else {
            unreachable!()
        };
        let other = DebitSource::Consent {
            consent: consent.clone(),
            grantee: AccountId(9),
        };
        assert_eq!(
            refused(prepare(&engine, 1, vec![debit(other, 10)]).await),
            Refusal::ConsentUnknown { bank: bank(2) }
        );
        assert_eq!(
            refused(prepare(&engine, 3, vec![debit(from_ana(), 10)]).await),
            Refusal::ConsentUnknown { bank: bank(2) }
        );
        // Within its terms it draws; beyond its limit per packet it does not.
        assert_eq!(
            prepare(&engine, 1, vec![debit(from_ana(), 300)]).await,
            vec![Vote::Prepared]
        );
        assert_eq!(
            refused(prepare(&engine, 1, vec![debit(from_ana(), 100_001)]).await),
            Refusal::ConsentPacketLimit { bank: bank(2) }
        );
        assert_eq!(
            balances(&engine, ana).await,
            (700, 300),
            "only the consented draw is reserved"
        );
        // Revoked: refused, even for a packet prepared later under the same consent.
        engine.revoke(ana, consent.clone()).await.unwrap();
        assert_eq!(
            refused(prepare(&engine, 1, vec![debit(from_ana(), 1)]).await),
            Refusal::ConsentRevoked { bank: bank(2) }
        );
        let given = engine.consents_given(ana).await.unwrap();
        assert_eq!(
            (given.len(), given[0].status, given[0].used_today),
            (1, domain::consent::ConsentStatus::Revoked, Cents::new(300))
        );
        assert_eq!(balances(&engine, ana).await, (700, 300));
    }

    /// Issue 27: a packet of another bank drawing on a consent counts against the owner's Pix
    /// limit here, like her own Pix; an aborted draw gives its part of the limit back.
    #[tokio::test]
    async fn a_draw_on_a_consent_counts_against_the_owners_pix_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(&dir);
        config.pix_limits = domain::pix_limits::Defaults::STANDARD;
        let (engine, _t) = EngineHandle::start(config, Arc::new(FixedClock(NOW))).unwrap();
        let (ana, _beto) = funded(&engine).await;
        let limits = domain::pix_limits::PixLimits {
            day: Cents::new(500),
            night: Cents::new(500),
        };
        engine.set_pix_limits(ana, limits).await.unwrap();
        let draw = |amount: i64| PrepareItem {
            tx: engine.new_tx_id(),
            parts: vec![(
                0,
                PartSpec::Debit {
                    source: from_ana(),
                    amount: Cents::new(amount),
                    to: cp("x"),
                    message: domain::PixMessage::none(),
                },
            )],
            plan: None,
        };
        let first = draw(300);
        assert_eq!(
            prepare(&engine, 1, vec![first.clone()]).await,
            vec![Vote::Prepared]
        );
        let over = Vote::Refused {
            leg: 0,
            reason: Refusal::PixLimit {
                bank: bank(2),
                period: domain::pix_limits::Period::Day,
                remaining: Cents::new(200),
            },
        };
        assert_eq!(prepare(&engine, 1, vec![draw(300)]).await, vec![over]);
        assert_eq!(balances(&engine, ana).await, (700, 300));
        engine
            .decide(bank(1), vec![decision(&first.tx, false)])
            .await
            .unwrap();
        assert_eq!(
            prepare(&engine, 1, vec![draw(500)]).await,
            vec![Vote::Prepared],
            "the aborted draw no longer counts"
        );
    }

    /// `item` with coordinator `c`'s plan, changed by `change` before `signer` signs it.
    fn with_plan(
        c: u16,
        item: PrepareItem,
        signer: u16,
        change: impl FnOnce(&mut Plan),
    ) -> PrepareItem {
        let mut item = planned(c, item);
        let mut plan = item.plan.take().unwrap().plan;
        change(&mut plan);
        item.plan = Some(SignedPlan::sign(&key_of(signer), plan));
        item
    }

    /// Issue 24: a participant trusts nothing of the coordinator's picture it can check. Each
    /// prepare below is refused, and nothing is reserved or drawn.
    #[tokio::test]
    async fn a_participant_checks_the_plan_it_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _t) = start(&dir);
        let (ana, beto) = funded(&engine).await;
        let invalid = Vote::Refused {
            leg: 0,
            reason: Refusal::InvalidParts { bank: bank(2) },
        };
        let expired = Vote::Refused {
            leg: 0,
            reason: Refusal::Expired,
        };
        let cases: Vec<(&str, PrepareItem, Vote)> = vec![
            (
                "no plan",
                item(&engine.new_tx_id(), 100, 100),
                invalid.clone(),
            ),
            (
                "signed by bank 5 in bank 1's name",
                with_plan(1, item(&engine.new_tx_id(), 100, 100), 5, |_| {}),
                invalid.clone(),
            ),
            (
                "another bank's plan",
                with_plan(1, item(&engine.new_tx_id(), 100, 100), 3, |p| {
                    p.coordinator = bank(3)
                }),
                invalid.clone(),
            ),
            (
                "parts that are not these",
                with_plan(1, item(&engine.new_tx_id(), 100, 100), 1, |p| {
                    p.parts[1].1 = Digest::of(b"other parts")
                }),
                invalid.clone(),
            ),
            (
                "about another id",
                with_plan(1, item(&engine.new_tx_id(), 100, 100), 1, |p| {
                    p.tx = TxId::parse("E00000001202611261705anotheridxx").unwrap()
                }),
                invalid.clone(),
            ),
            (
                "a deadline already past",
                with_plan(1, item(&engine.new_tx_id(), 100, 100), 1, |p| {
                    p.decide_by_ms = NOW - 1
                }),
                expired.clone(),
            ),
            (
                "a deadline to pin it for an hour",
                with_plan(1, item(&engine.new_tx_id(), 100, 100), 1, |p| {
                    p.decide_by_ms = NOW + 3_600_000
                }),
                expired,
            ),
        ];
        for (what, item, vote) in cases {
            let ballots = engine.prepare(bank(1), vec![item]).await.unwrap();
            assert_eq!(ballots[0].ballot.vote, vote, "{what}");
            assert!(ballots[0].verify(engine.keyring()), "a signed refusal");
        }
        // A credit whose payer's bank the plan does not name: the payer left out.
        let tx = engine.new_tx_id();
        let mut lonely = item(&tx, 100, 100);
        lonely.parts.remove(0);
        if let PartSpec::Credit { from, .. } = &mut lonely.parts[0].1 {
            from.bank = bank(3);
        }
        let lonely = with_plan(1, lonely, 1, |p| p.parts.retain(|(b, _)| *b != bank(3)));
        let ballots = engine.prepare(bank(1), vec![lonely]).await.unwrap();
        assert_eq!(
            ballots[0].ballot.vote, invalid,
            "a party to its parts left out"
        );
        // A key operation whose plan leaves out a member (above all the key's owner, issue
        // 24's second attack): every bank refuses it.
        let op = crate::directory::KeyOp::Claim {
            key: key("eva@example.com"),
            account: AccountId(3),
            name: "Eva".into(),
            document: "***".into(),
        };
        let claim = PrepareItem {
            tx: engine.new_tx_id(),
            parts: vec![(0, PartSpec::Key(op))],
            plan: None,
        };
        let skipping = with_plan(5, claim.clone(), 5, |p| {
            p.parts.retain(|(b, _)| *b != bank(3))
        });
        let ballots = engine.prepare(bank(5), vec![skipping]).await.unwrap();
        assert_eq!(ballots[0].ballot.vote, invalid);
        let fair = PrepareItem {
            tx: engine.new_tx_id(),
            ..claim
        };
        assert_eq!(
            prepare(&engine, 5, vec![fair]).await,
            vec![Vote::Prepared],
            "with every member, the same claim is reserved"
        );
        assert_eq!(balances(&engine, ana).await, (1_000, 0));
        assert_eq!(balances(&engine, beto).await, (0, 0));
        let given = engine.consents_given(ana).await.unwrap();
        assert_eq!(given[0].used_today, Cents::ZERO, "nothing drawn");
    }

    /// A decision is applied only with its proof for the plan prepared here, whoever delivers
    /// it; two proofs of one signer that contradict each other are kept as evidence.
    #[tokio::test]
    async fn a_decision_applies_only_with_its_proof_and_a_contradiction_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, thread) = start(&dir);
        let (ana, _beto) = funded(&engine).await;
        let tx = engine.new_tx_id();
        assert_eq!(
            prepare(&engine, 1, vec![item(&tx, 400, 250)]).await,
            vec![Vote::Prepared]
        );
        let plan = PLANS.with(|p| p.borrow()[&tx].clone());
        let Proof::Commit { votes, .. } = certificate(&plan) else {
            unreachable!()
        };
        let missing_one = Proof::Commit {
            plan: plan.clone(),
            votes: votes[1..].to_vec(),
        };
        let mut with_a_no = votes.clone();
        with_a_no[0] = match refusal(&plan, 1) {
            Proof::Abort { refusal, .. } => refusal,
            Proof::Commit { .. } => unreachable!(),
        };
        let forged_no = refusal(&plan, 4);
        let other_plan = with_plan(1, item(&tx, 400, 250), 1, |p| p.decide_by_ms += 1);
        let for_another_plan = certificate(other_plan.plan.as_ref().unwrap());
        let unproven = vec![
            DecideItem::proved(missing_one),
            DecideItem::proved(Proof::Commit {
                plan: plan.clone(),
                votes: with_a_no,
            }),
            DecideItem::proved(forged_no),
        ];
        assert!(engine.decide(bank(1), unproven).await.unwrap().is_empty());
        assert_eq!(
            engine
                .decide(bank(3), vec![DecideItem::proved(for_another_plan)])
                .await
                .unwrap(),
            vec![tx.clone()],
            "about a plan not held here: acknowledged, not applied"
        );
        assert_eq!(balances(&engine, ana).await, (600, 400), "still reserved");
        // The certificate commits, brought by anyone (here bank 3, as in cooperative
        // termination).
        assert_eq!(
            engine
                .decide(bank(3), vec![decision(&tx, true)])
                .await
                .unwrap(),
            vec![tx.clone()]
        );
        assert_eq!(balances(&engine, ana).await, (600, 0));
        // Then bank 1 signs a no to the plan it said yes to: both statements are kept.
        assert_eq!(engine.snapshot().equivocations, 0);
        assert_eq!(
            engine
                .decide(bank(1), vec![decision(&tx, false)])
                .await
                .unwrap(),
            vec![tx.clone()]
        );
        assert_eq!(balances(&engine, ana).await, (600, 0), "the commit stands");
        assert_eq!(engine.snapshot().equivocations, 1);
        drop(engine);
        thread.join().unwrap();
        let store = crate::store::Store::open(&dir.path().join("bank.sqlite3")).unwrap();
        let kept = store.equivocations(&tx).unwrap();
        assert_eq!(kept.len(), 1);
        let (signer, first, second) = &kept[0];
        assert_eq!(*signer, bank(1));
        let yes: SignedBallot = serde_json::from_str(first).unwrap();
        let no: SignedBallot = serde_json::from_str(second).unwrap();
        let keys = config(&dir).keyring;
        assert!(
            yes.verify(&keys) && no.verify(&keys),
            "both signed by bank 1"
        );
        assert!(yes.ballot.yes() && !no.ballot.yes());
        assert_eq!(yes.ballot.plan, no.ballot.plan);
        let (engine, _t) = start(&dir);
        assert_eq!(engine.snapshot().equivocations, 1, "counted again at start");
    }

    /// As coordinator, this bank signs its own ballot last and stores the proof: a commit with
    /// every participant's yes, an abort with its own no (for a refusal, or a plan past its
    /// deadline).
    #[tokio::test]
    async fn a_coordinator_stores_each_decision_with_its_proof() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _t) = start(&dir);
        let plan_of = |tx: &TxId, decide_by_ms: i64| {
            SignedPlan::sign(
                &key_of(2),
                Plan {
                    tx: tx.clone(),
                    coordinator: bank(2),
                    parts: vec![(bank(2), Digest::of(b"")), (bank(3), Digest::of(b"x"))],
                    decide_by_ms,
                    window: 0,
                },
            )
        };
        let yes_of_3 = |plan: &SignedPlan| {
            let ballot = Ballot {
                tx: plan.plan.tx.clone(),
                plan: plan.hash(),
                voter: bank(3),
                vote: Vote::Prepared,
            };
            SignedBallot::sign(&key_of(3), ballot)
        };
        let decision = |tx: &TxId, commit: bool, plan: SignedPlan| Decision {
            tx: tx.clone(),
            commit,
            participants: vec![bank(3)],
            submitter: AccountId(1),
            legs: vec![],
            outcome: PacketOutcome {
                tx_id: tx.clone(),
                status: if commit {
                    TxStatus::Committed
                } else {
                    TxStatus::Aborted
                },
                legs: vec![domain::dto::LegOutcome {
                    status: if commit {
                        TxStatus::Committed
                    } else {
                        TxStatus::Aborted
                    },
                    error: (!commit).then_some(Refusal::InsufficientFunds),
                    receiver: None,
                    amount: Cents::new(1),
                }],
            },
            ballots: Some((
                plan.clone(),
                if commit {
                    vec![yes_of_3(&plan)]
                } else {
                    vec![]
                },
            )),
            refusal: (!commit).then_some((0, Refusal::InsufficientFunds)),
        };
        let (a, b, c) = (engine.new_tx_id(), engine.new_tx_id(), engine.new_tx_id());
        let logged = engine
            .log_decisions(vec![
                decision(&a, true, plan_of(&a, NOW + 1)),
                decision(&b, false, plan_of(&b, NOW + 1)),
                decision(&c, true, plan_of(&c, NOW - 1)),
            ])
            .await
            .unwrap();
        let keys = engine.keyring().clone();
        for (l, tx) in logged.iter().zip([&a, &b, &c]) {
            let proof = l.proof.clone().expect("proved");
            assert_eq!(proof.check(tx, &keys, None), Ok(()), "{tx}");
            assert_eq!(proof.commit(), l.commit);
            let stored = engine.decision(tx.clone()).await.unwrap().unwrap();
            assert_eq!(stored.proof, Some(proof));
        }
        assert!(logged[0].commit);
        assert!(
            !logged[1].commit && !logged[2].commit,
            "refused; and too late"
        );
        assert_eq!(
            logged[1].proof.as_ref().unwrap().refused_by(),
            Some(bank(2))
        );
        assert_eq!(
            logged[2].outcome.failure().map(|(_, r)| r),
            Some(Refusal::Expired)
        );
    }

    /// Cooperative termination, as the participant asked: the proof it applied, its no to a
    /// plan it refused or never saw before the deadline passed, and nothing before then.
    #[tokio::test]
    async fn another_participant_hears_what_this_bank_knows_of_a_plan() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _t) = start(&dir);
        funded(&engine).await;
        let (done, refused) = (engine.new_tx_id(), engine.new_tx_id());
        prepare(&engine, 1, vec![item(&done, 100, 100)]).await;
        engine
            .decide(bank(1), vec![decision(&done, true)])
            .await
            .unwrap();
        prepare(&engine, 1, vec![item(&refused, 5_000, 100)]).await;
        let plan = |tx: &TxId| PLANS.with(|p| p.borrow()[tx].clone());
        assert_eq!(
            engine.terminate(plan(&done)).await.unwrap(),
            Termination::Decided(Box::new(certificate(&plan(&done))))
        );
        let Termination::Refuses(no) = engine.terminate(plan(&refused)).await.unwrap() else {
            panic!("refused here")
        };
        assert!(no.is_for(&refused, plan(&refused).hash(), bank(2), engine.keyring()));
        // Never seen: nothing until its deadline, then a no for ever (a plan past its deadline
        // is refused here).
        let unseen = planned(1, item(&engine.new_tx_id(), 100, 100));
        let unseen_plan = unseen.plan.clone().unwrap();
        assert_eq!(
            engine.terminate(unseen_plan.clone()).await.unwrap(),
            Termination::Pending
        );
        let past = with_plan(1, item(&engine.new_tx_id(), 100, 100), 1, |p| {
            p.decide_by_ms = NOW - 1
        });
        assert!(matches!(
            engine.terminate(past.plan.clone().unwrap()).await.unwrap(),
            Termination::Refuses(_)
        ));
        let past_again = engine.prepare(bank(1), vec![past]).await.unwrap();
        assert!(!past_again[0].ballot.yes(), "and its prepare is refused");
        // A plan signed by no coordinator, or not naming this bank, hears nothing.
        let forged = with_plan(1, item(&engine.new_tx_id(), 100, 100), 5, |_| {});
        assert_eq!(
            engine.terminate(forged.plan.unwrap()).await.unwrap(),
            Termination::Pending
        );
    }

    /// No reservation is pinned for ever: past its plan's deadline and the grace, a part held
    /// without any proof of its decision is given up, and its money released.
    #[tokio::test]
    async fn a_part_held_without_proof_past_its_deadline_is_given_up() {
        struct Moving(std::sync::atomic::AtomicI64);
        impl Clock for Moving {
            fn now_ms(&self) -> i64 {
                self.0.load(std::sync::atomic::Ordering::SeqCst)
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(Moving(std::sync::atomic::AtomicI64::new(NOW)));
        let mut cfg = config(&dir);
        cfg.expiry_grace_ms = 1_000;
        let (engine, _t) = EngineHandle::start(cfg, clock.clone()).unwrap();
        let (ana, _) = funded(&engine).await;
        let tx = engine.new_tx_id();
        prepare(&engine, 1, vec![item(&tx, 300, 300)]).await;
        assert_eq!(balances(&engine, ana).await, (700, 300));
        // The coordinator withholds its decision. Before the deadline and grace: kept.
        clock
            .0
            .store(NOW + 60_000 + 1_000, std::sync::atomic::Ordering::SeqCst);
        assert!(engine.expire().await.unwrap().is_empty());
        clock
            .0
            .store(NOW + 60_000 + 1_001, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(engine.expire().await.unwrap(), vec![tx.clone()]);
        assert_eq!(balances(&engine, ana).await, (1_000, 0));
        assert!(engine.in_doubt().await.unwrap().is_empty());
        assert_eq!(engine.audit().await.unwrap().total_incoming, 0);
        let given = engine.consents_given(ana).await.unwrap();
        assert_eq!(given[0].used_today, Cents::ZERO, "the draw is given back");
    }

    /// A fresh transaction id of bank 1.
    fn bank1_tx() -> TxId {
        let suffix = rand::distr::Alphanumeric.sample_string(&mut rand::rng(), 11);
        TxId::compose(bank(1), "202611261705", &suffix).unwrap()
    }

    /// Beto received R$ 10,00 from bank 1; this bank coordinates his devolução (debit here,
    /// credit at bank 1).
    async fn beto_received(engine: &EngineHandle, beto: AccountId) -> TxId {
        let original = bank1_tx();
        let credit = PrepareItem {
            tx: original.clone(),
            parts: vec![(
                0,
                PartSpec::Credit {
                    key: key(BETO),
                    amount: Cents::new(1_000),
                    from: cp("Dora at bank 1"),
                    message: domain::PixMessage::none(),
                },
            )],
            plan: None,
        };
        assert_eq!(prepare(engine, 1, vec![credit]).await, vec![Vote::Prepared]);
        engine
            .decide(bank(1), vec![decision(&original, true)])
            .await
            .unwrap();
        assert_eq!(balances(engine, beto).await, (1_000, 0));
        original
    }

    /// The parts this bank (coordinating) reserves for Beto's devolução of `cents`.
    async fn own_return(
        engine: &EngineHandle,
        beto: AccountId,
        original: &TxId,
        cents: i64,
    ) -> (TxId, EngineResult<Vec<Vote>>) {
        let devolution = crate::twopc::Devolution {
            original: original.clone(),
            leg: 0,
            amount: Cents::new(cents),
            payer: cp("Dora at bank 1"),
        };
        let holder = Holder {
            name: "Beto Reis".into(),
            tax_id: TaxId::parse(BETO).unwrap(),
        };
        let tx = engine.new_tx_id();
        let plan =
            crate::twopc::PacketPlan::devolution((tx.clone(), bank(2), beto), &holder, devolution);
        (tx, engine.prepare_own(vec![plan.item_for(bank(2))]).await)
    }

    fn own_decision(tx: &TxId, commit: bool) -> Decision {
        Decision {
            tx: tx.clone(),
            commit,
            participants: vec![bank(1), bank(2)],
            submitter: AccountId(2),
            legs: vec![],
            outcome: PacketOutcome {
                tx_id: tx.clone(),
                status: TxStatus::Aborted,
                legs: vec![],
            },
            ballots: None,
            refusal: None,
        }
    }

    #[tokio::test]
    async fn a_devolution_counts_from_its_reservation_and_an_abort_gives_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, thread) = start(&dir);
        let (_ana, beto) = funded(&engine).await;
        let original = beto_received(&engine, beto).await;
        let planned = engine
            .plan_return(beto, original.clone(), Cents::new(600))
            .await
            .unwrap();
        assert_eq!((planned.leg, planned.payer.bank), (0, bank(1)));

        let (first, votes) = own_return(&engine, beto, &original, 600).await;
        assert_eq!(votes.unwrap(), vec![Vote::Prepared]);
        assert_eq!(balances(&engine, beto).await, (400, 600));
        // While the first is pending, a second that would pass what Beto received is refused,
        // by the check before submitting and by the reservation alike, and reserves nothing.
        assert!(matches!(
            engine
                .plan_return(beto, original.clone(), Cents::new(500))
                .await,
            Err(EngineError::Refused(Refusal::ReturnExceeds))
        ));
        let (_, votes) = own_return(&engine, beto, &original, 500).await;
        assert_eq!(
            votes.unwrap(),
            vec![Vote::Refused {
                leg: 0,
                reason: Refusal::ReturnExceeds
            }]
        );
        assert_eq!(balances(&engine, beto).await, (400, 600));

        // A restart keeps the pending return counted.
        drop(engine);
        thread.join().unwrap();
        let (engine, _t) = start(&dir);
        let (_, votes) = own_return(&engine, beto, &original, 500).await;
        assert!(matches!(
            votes.unwrap()[0],
            Vote::Refused {
                reason: Refusal::ReturnExceeds,
                ..
            }
        ));

        // Aborted, it no longer counts: the whole amount may go back.
        engine
            .log_decisions(vec![own_decision(&first, false)])
            .await
            .unwrap();
        assert_eq!(balances(&engine, beto).await, (1_000, 0));
        let (full, votes) = own_return(&engine, beto, &original, 1_000).await;
        assert_eq!(votes.unwrap(), vec![Vote::Prepared]);
        engine
            .log_decisions(vec![own_decision(&full, true)])
            .await
            .unwrap();
        assert_eq!(balances(&engine, beto).await, (0, 0));
        let statement = engine.dashboard(beto).await.unwrap().recent;
        assert_eq!(statement[0].returned_for, Some(original.clone()));
        assert_eq!(statement[0].kind, EntryKind::PixOut);
        assert_eq!(statement.last().unwrap().returned_for, None);

        // Only this bank, coordinating, debits its client for a return.
        let foreign = PrepareItem {
            tx: bank1_tx(),
            parts: vec![(
                0,
                PartSpec::ReturnDebit {
                    account: beto,
                    original: original.clone(),
                    leg: 0,
                    amount: Cents::new(1),
                    to: cp("Dora at bank 1"),
                },
            )],
            plan: None,
        };
        assert!(matches!(
            prepare(&engine, 1, vec![foreign]).await[0],
            Vote::Refused {
                reason: Refusal::NoSourceAccount { .. },
                ..
            }
        ));
    }

    /// The payer's side: a return credits the account of this bank that paid the Pix, found in
    /// its history, and never more than it paid.
    #[tokio::test]
    async fn a_devolution_credits_only_the_payer_and_only_what_it_paid() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _t) = start(&dir);
        let (ana, beto) = funded(&engine).await;
        // Ana pays R$ 3,00 to bank 1's client (account 1 at bank 1 draws on her consent).
        let paid = bank1_tx();
        let debit = PrepareItem {
            tx: paid.clone(),
            parts: vec![(
                0,
                PartSpec::Debit {
                    source: from_ana(),
                    amount: Cents::new(300),
                    to: cp("Dora at bank 1"),
                    message: domain::PixMessage::none(),
                },
            )],
            plan: None,
        };
        assert_eq!(prepare(&engine, 1, vec![debit]).await, vec![Vote::Prepared]);
        engine
            .decide(bank(1), vec![decision(&paid, true)])
            .await
            .unwrap();
        assert_eq!(balances(&engine, ana).await, (700, 0));
        let back = |cents: i64, leg: u16| PrepareItem {
            tx: bank1_tx(),
            parts: vec![(
                0,
                PartSpec::ReturnCredit {
                    original: paid.clone(),
                    leg,
                    amount: Cents::new(cents),
                    from: cp("Dora at bank 1"),
                },
            )],
            plan: None,
        };
        let first = back(200, 0);
        let tx = first.tx.clone();
        assert_eq!(prepare(&engine, 1, vec![first]).await, vec![Vote::Prepared]);
        engine
            .decide(bank(1), vec![decision(&tx, true)])
            .await
            .unwrap();
        assert_eq!(balances(&engine, ana).await, (900, 0), "Ana, not Beto");
        assert_eq!(balances(&engine, beto).await, (0, 0));
        let refused = |votes: Vec<Vote>| match &votes[..] {
            [Vote::Refused { reason, .. }] => *reason,
            other => panic!("not refused: {other:?}"),
        };
        assert_eq!(
            refused(prepare(&engine, 1, vec![back(101, 0)]).await),
            Refusal::ReturnExceeds
        );
        assert_eq!(
            refused(prepare(&engine, 1, vec![back(1, 1)]).await),
            Refusal::NotReceived,
            "no such leg was paid here"
        );
        let mut elsewhere = back(1, 0);
        if let PartSpec::ReturnCredit { from, .. } = &mut elsewhere.parts[0].1 {
            from.bank = bank(3);
        }
        assert_eq!(
            refused(prepare(&engine, 1, vec![elsewhere]).await),
            Refusal::NotReceived,
            "only the bank that received it returns it"
        );
        assert_eq!(balances(&engine, ana).await, (900, 0));
    }
}

mod limits;
mod logins;
mod schedule;

/// A clock the test sets.
struct SetClock(std::sync::atomic::AtomicI64);
impl Clock for SetClock {
    fn now_ms(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test]
async fn a_session_ends_when_unused_for_the_idle_time_and_at_its_lifetime_however_busy() {
    use crate::auth::{SESSION_IDLE_MS, SESSION_TTL_MS};
    use std::sync::atomic::Ordering::SeqCst;
    let dir = tempfile::tempdir().unwrap();
    let start_ms = 1_795_712_700_000;
    let clock = Arc::new(SetClock(std::sync::atomic::AtomicI64::new(start_ms)));
    let (engine, _t) = EngineHandle::start(config(&dir), clock.clone()).unwrap();
    let ana = open(&engine, person("Ana Lima", ANA, "ana@example.com")).await;
    let (idle, busy) = (SessionToken::generate(), SessionToken::generate());
    engine
        .create_session(idle.hash(), LoggedIn::new(ana, 0))
        .await
        .unwrap();
    engine
        .create_session(busy.hash(), LoggedIn::new(ana, 0))
        .await
        .unwrap();
    let set = |ms: i64| clock.0.store(start_ms + ms, SeqCst);

    // Asked quietly (a page refreshing itself) for longer than the idle time: that is no use.
    for minute in 1..10 {
        set(minute * 60_000);
        assert_eq!(
            engine.session_account_quietly(idle.hash()).await.unwrap(),
            Some(ana)
        );
        assert_eq!(
            engine.session_account(busy.hash()).await.unwrap(),
            Some(ana)
        );
    }
    set(SESSION_IDLE_MS);
    assert_eq!(
        engine.session_account_quietly(idle.hash()).await.unwrap(),
        None,
        "unused for the idle time: ended"
    );
    assert_eq!(
        engine.session_account(idle.hash()).await.unwrap(),
        None,
        "for good"
    );
    // Used every nine minutes, it lives until its lifetime, and not a minute more.
    let mut at = 9 * 60_000;
    while at + 9 * 60_000 < SESSION_TTL_MS {
        at += 9 * 60_000;
        set(at);
        assert_eq!(
            engine.session_account(busy.hash()).await.unwrap(),
            Some(ana),
            "at {at}"
        );
    }
    set(SESSION_TTL_MS);
    assert_eq!(engine.session_account(busy.hash()).await.unwrap(), None);
}

mod settlement {
    use super::*;
    use crate::settlement::{Pair, SettlementError, SettlementReport, Step};

    fn bank(n: u16) -> BankId {
        BankId::try_from(n).unwrap()
    }

    fn key(n: u8) -> crate::proof::BankKey {
        crate::proof::BankKey::from_seed([n; 32])
    }

    /// A committed leg this bank (2) coordinated: `payer`'s bank owes this bank, this bank owes
    /// `receiver`'s.
    async fn leg(engine: &EngineHandle, payer: u16, receiver: u16, cents: i64) -> bool {
        leg_logged(engine, payer, receiver, cents).await.commit
    }

    /// The same leg, as it was logged (committed, or aborted with its refusal).
    async fn leg_logged(
        engine: &EngineHandle,
        payer: u16,
        receiver: u16,
        cents: i64,
    ) -> crate::Logged {
        let tx = engine.new_tx_id();
        let amount = Cents::new(cents);
        let decision = Decision {
            tx: tx.clone(),
            commit: true,
            participants: vec![bank(payer), bank(receiver)],
            submitter: AccountId(1),
            outcome: PacketOutcome {
                tx_id: tx.clone(),
                status: TxStatus::Committed,
                legs: vec![domain::dto::LegOutcome {
                    status: TxStatus::Committed,
                    error: None,
                    receiver: None,
                    amount,
                }],
            },
            legs: vec![(bank(payer), bank(receiver), amount)],
            ballots: None,
            refusal: None,
        };
        engine
            .log_decisions(vec![decision])
            .await
            .unwrap()
            .remove(0)
    }

    /// `bank`'s report for a window in which its net with bank 2 is `net_with_2`.
    pub(super) fn report(
        window: u64,
        from: u16,
        net_with_2: i64,
    ) -> crate::settlement::SignedReport {
        let peers: Vec<_> = [1u16, 2, 3, 4, 5]
            .into_iter()
            .filter(|b| *b != from)
            .map(|b| crate::settlement::PeerNet {
                peer: bank(b),
                net: Cents::new(if b == 2 { net_with_2 } else { 0 }),
                through: Cents::new(if b == 2 { net_with_2 } else { 0 }),
            })
            .collect();
        SettlementReport {
            window,
            bank: bank(from),
            closed_ms: 1,
            peers,
            owed_to_bank: Cents::new(net_with_2.max(0)),
            owed_by_bank: Cents::new((-net_with_2).max(0)),
            multilateral: Cents::new(net_with_2),
        }
        .sign(&key(from as u8))
    }

    /// This bank, holding the token, closes the open window (nothing in flight): its report.
    async fn close(engine: &EngineHandle) -> crate::settlement::SignedReport {
        let visited = engine
            .window_visit(0, crate::engine::Close::Now, true)
            .await;
        let visited = visited.unwrap().unwrap();
        assert!(visited.cut);
        visited
            .reports
            .into_iter()
            .next()
            .expect("reported at once")
    }

    /// The schedule closes the open window unless this bank cut one since the interval began
    /// (another bank closed it first, and its report brought the cut here), so one window
    /// closes per interval however the cut arrives.
    #[tokio::test]
    async fn a_scheduled_close_is_skipped_when_the_cut_already_came_in_the_interval() {
        use crate::engine::Close;
        const NOW: i64 = 1_795_712_700_000; // the tests' fixed clock
        let dir = tempfile::tempdir().unwrap();
        let (engine, _t) = start(&dir);
        // Bank 1's report for window 1 arrives first, at NOW: it cuts window 1 here.
        let taken = engine.accept_report(report(1, 1, 0), true).await;
        assert!(taken.unwrap().unwrap().newly_closed);
        // This bank's first visit in the interval that began at NOW - 1: no second window.
        let visited = engine
            .window_visit(2, Close::UnlessCutSince(NOW - 1), true)
            .await;
        let visited = visited.unwrap().unwrap();
        assert!(!visited.cut);
        assert_eq!(visited.open, 2);
        // In the next interval, with no cut since it began, the schedule closes window 2.
        let visited = engine
            .window_visit(2, Close::UnlessCutSince(NOW + 1), true)
            .await;
        let visited = visited.unwrap().unwrap();
        assert!(visited.cut);
        assert_eq!(visited.reports[0].report.window, 2);
    }

    /// Bank 1 reaches its limit here (R$ 10.000,00); a window is closed, both reports agree,
    /// bank 2 confirms it received bank 1's payment and pays bank 3, whose confirmation
    /// arrives: nothing is owed any more, the books balance, bank 1 may owe again, and all of it
    /// survives a restart.
    #[tokio::test]
    async fn a_confirmed_window_pays_positions_down_keeps_the_books_balanced_and_lifts_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, thread) = start(&dir);
        assert!(leg(&engine, 1, 3, 1_000_000).await);
        assert!(!leg(&engine, 1, 3, 1).await, "bank 1 is at its limit here");

        let own = close(&engine).await.report;
        assert_eq!(own.window, 1);
        assert_eq!(own.net_with(bank(1)), Cents::new(1_000_000));
        assert_eq!(own.net_with(bank(3)), Cents::new(-1_000_000));
        assert_eq!(own.multilateral, Cents::ZERO);

        // Nothing can be paid before the other side's report.
        assert_eq!(
            engine
                .confirm_received(1, bank(1))
                .await
                .unwrap()
                .unwrap_err(),
            SettlementError::NoReport(bank(1))
        );
        let taken = engine
            .accept_report(report(1, 1, -1_000_000), true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            taken.accepted.unwrap().pair,
            Pair::Agreed {
                net: Cents::new(1_000_000)
            }
        );
        assert!(!taken.newly_closed);
        let taken = engine.accept_report(report(1, 3, 1_000_000), true).await;
        taken.unwrap().unwrap().accepted.unwrap();
        // A report for a window two ahead cuts nothing.
        let ahead = engine.accept_report(report(3, 4, 0), true).await;
        let ahead = ahead.unwrap().unwrap();
        assert_eq!(ahead.accepted.err(), Some(SettlementError::NotClosed(3)));
        assert!(!ahead.newly_closed && ahead.reports.is_empty());
        assert_eq!(engine.window_cut().await.unwrap(), (1, 1));

        // Bank 1 paid; this bank's operator confirms.
        let received = engine.confirm_received(1, bank(1)).await.unwrap().unwrap();
        assert_eq!(received.payment.step, Step::Received);
        assert_eq!(received.payment.amount, Cents::new(1_000_000));
        assert!(received.check(engine.keyring()).is_ok());
        // This bank pays bank 3, which confirms.
        let paid = engine.mark_paid(1, bank(3)).await.unwrap().unwrap();
        assert_eq!(paid.payment.debtor, bank(2));
        let mut from_3 = paid.payment.clone();
        from_3.step = Step::Received;
        let sig = key(3).sign_statement(
            crate::settlement::PAYMENT_TAG,
            &serde_json::to_vec(&from_3).unwrap(),
        );
        engine
            .receive_payment(crate::settlement::SignedPayment {
                payment: from_3,
                sig,
            })
            .await
            .unwrap()
            .unwrap();

        let audit = engine.audit().await.unwrap();
        let (p1, p3) = (
            audit.books.positions[&bank(1)],
            audit.books.positions[&bank(3)],
        );
        assert_eq!((p1.outstanding(), p3.outstanding()), (0, 0));
        assert_eq!((p1.by_windows, p3.by_windows), (1_000_000, -1_000_000));
        assert!(audit.balanced);
        assert!(leg(&engine, 1, 3, 1_000).await, "bank 1 may owe again");

        // Restarted: the windows, the payments and the positions are as they were.
        engine.shutdown().await.unwrap();
        drop(engine);
        thread.join().unwrap();
        let (engine, _t) = start(&dir);
        let windows = engine.windows(10).await.unwrap();
        assert_eq!(windows.len(), 1);
        assert_eq!(windows[0].own.report, own);
        assert_eq!(windows[0].reports.len(), 2);
        assert_eq!(windows[0].payments.len(), 3);
        let audit = engine.audit().await.unwrap();
        assert_eq!(audit.books.positions[&bank(1)].outstanding(), 1_000);
        assert!(audit.balanced);
        assert_eq!(engine.snapshot().settlement.last_window, 1);
        assert_eq!(close(&engine).await.report.window, 2);
    }

    /// `SETTLEMENT_DEADLINE_S`, with the clock set by the test: bank 1 owes this bank an agreed
    /// window. Within the deadline it may owe more as before; past it, nothing more here until
    /// this bank confirms it received the payment. A bank this bank owes is not held back, and
    /// a window not agreed blocks nothing (it cannot be paid).
    #[tokio::test]
    async fn a_debtor_past_its_deadline_owes_nothing_more_here_until_its_payment_is_confirmed() {
        use std::sync::atomic::Ordering::SeqCst;
        let dir = tempfile::tempdir().unwrap();
        let start_ms = 1_795_712_700_000;
        let clock = Arc::new(SetClock(std::sync::atomic::AtomicI64::new(start_ms)));
        let mut config = config(&dir);
        config.settlement_deadline_ms = Some(60_000);
        let (engine, _t) = EngineHandle::start(config, clock.clone()).unwrap();
        let set = |ms: i64| clock.0.store(start_ms + ms, SeqCst);
        assert!(leg(&engine, 1, 3, 10_000).await);
        close(&engine).await;
        let taken = engine.accept_report(report(1, 1, -10_000), true).await;
        taken.unwrap().unwrap().accepted.unwrap();
        // Bank 3's report disagrees (it says this bank owes it nothing): no deadline for it.
        let taken = engine.accept_report(report(1, 3, 0), true).await;
        taken.unwrap().unwrap().accepted.unwrap();

        set(59_999);
        assert!(leg(&engine, 1, 3, 100).await, "within the deadline");
        set(60_000);
        let refused = leg_logged(&engine, 1, 3, 100).await;
        assert!(!refused.commit);
        assert_eq!(
            refused.outcome.legs[0].error,
            Some(Refusal::SettlementOverdue { bank: bank(1) })
        );
        assert!(
            leg(&engine, 3, 1, 100).await,
            "bank 3 is owed in window 1, and the pair disagrees anyway"
        );
        let positions = engine.audit().await.unwrap().books.positions;
        // 10_000 in the window, 100 more within the deadline, 100 this bank now owes bank 1 by
        // bank 3's leg, and nothing by the refused one.
        assert_eq!(positions[&bank(1)].settled, 10_000);

        // This bank's confirmation that bank 1 paid lifts it.
        engine.confirm_received(1, bank(1)).await.unwrap().unwrap();
        assert!(
            leg(&engine, 1, 3, 100).await,
            "confirmed: bank 1 may owe again"
        );
    }

    /// A bank that signs a false report is kept on the record: counted, its pair unpayable,
    /// nothing moved.
    #[tokio::test]
    async fn a_false_report_is_recorded_and_moves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _t) = start(&dir);
        assert!(leg(&engine, 1, 3, 50_000).await);
        let before = engine.audit().await.unwrap();
        // Bank 1 signs that it owes this bank R$ 1,00 instead of R$ 500,00, opening window 1 here.
        let taken = engine
            .accept_report(report(1, 1, -100), true)
            .await
            .unwrap()
            .unwrap();
        assert!(taken.newly_closed);
        assert_eq!(taken.reports.len(), 1, "this bank's own report, to send");
        assert_eq!(
            taken.accepted.unwrap().pair,
            Pair::Disagreed {
                ours: Cents::new(50_000),
                theirs: Cents::new(100)
            }
        );
        assert_eq!(engine.snapshot().settlement.disagreements, 1);
        assert_eq!(
            engine
                .confirm_received(1, bank(1))
                .await
                .unwrap()
                .unwrap_err(),
            SettlementError::Disagree(bank(1))
        );
        let after = engine.audit().await.unwrap();
        assert_eq!(after.books.positions, before.books.positions);
        assert!(after.balanced);
        let kept = engine.windows(1).await.unwrap();
        assert_eq!(
            kept[0].reports[0],
            report(1, 1, -100),
            "the lie, signed, kept"
        );
    }
}

/// Devolução inside this bank, with the clock set by the test: in parts, never beyond what was
/// received, only by the account that received it, and within 90 days.
#[tokio::test]
async fn a_pix_is_returned_in_parts_up_to_what_it_brought_within_90_days() {
    use std::sync::atomic::Ordering::SeqCst;
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    let dir = tempfile::tempdir().unwrap();
    let start_ms = 1_795_712_700_000;
    let clock = Arc::new(SetClock(std::sync::atomic::AtomicI64::new(start_ms)));
    let (engine, thread) = EngineHandle::start(config(&dir), clock.clone()).unwrap();
    let ana = open(&engine, person("Ana Lima", ANA, "ana@example.com")).await;
    let beto = open(&engine, person("Beto Reis", BETO, "beto@example.com")).await;
    let cara = open(
        &engine,
        person("Cara Souza", "390.533.447-05", "cara@example.com"),
    )
    .await;
    engine
        .deposit(engine.new_tx_id(), ana, Cents::new(20_000))
        .await
        .unwrap();
    let pix = engine.new_tx_id();
    engine
        .pix(pix.clone(), ana, pix_key(BETO), Cents::new(10_000))
        .await
        .unwrap();
    let refused = |r: EngineResult<TransferReceipt>| match r {
        Err(EngineError::Refused(why)) => why,
        other => panic!("not refused: {other:?}"),
    };
    let give_back = |account: AccountId, original: &TxId, cents: i64| {
        let (engine, original) = (engine.clone(), original.clone());
        async move {
            engine
                .return_inside(engine.new_tx_id(), account, original, Cents::new(cents))
                .await
        }
    };
    let bal = |id: AccountId| {
        let engine = engine.clone();
        async move { engine.account(id).await.unwrap().available.get() }
    };

    give_back(beto, &pix, 3_000).await.unwrap();
    let receipt = give_back(beto, &pix, 5_000).await.unwrap();
    assert_eq!(receipt.receiver.name, "Ana Lima");
    assert_eq!((bal(ana).await, bal(beto).await), (18_000, 2_000));
    assert_eq!(
        refused(give_back(beto, &pix, 2_001).await),
        Refusal::ReturnExceeds
    );
    assert_eq!(
        refused(give_back(ana, &pix, 1).await),
        Refusal::NotReceived,
        "the payer cannot return her own Pix"
    );
    assert_eq!(
        refused(give_back(cara, &pix, 1).await),
        Refusal::NotReceived,
        "someone else's Pix"
    );
    assert_eq!(
        refused(give_back(beto, &engine.new_tx_id(), 1).await),
        Refusal::NotReceived
    );
    assert_eq!((bal(ana).await, bal(beto).await), (18_000, 2_000));
    // The payer sees each return linked to her Pix.
    let statement = engine.dashboard(ana).await.unwrap().recent;
    let linked: Vec<_> = statement
        .iter()
        .filter(|e| e.kind == EntryKind::PixIn)
        .map(|e| (e.amount.get(), e.returned_for.clone()))
        .collect();
    assert_eq!(
        linked,
        vec![(5_000, Some(pix.clone())), (3_000, Some(pix.clone()))]
    );
    // A return is no Pix received: it cannot be returned in turn.
    let returned = statement[0].tx_id.clone();
    assert_eq!(
        refused(give_back(ana, &returned, 1).await),
        Refusal::NotReceived
    );

    // What was returned survives a restart.
    drop(engine);
    thread.join().unwrap();
    let (engine, _t) = EngineHandle::start(config(&dir), clock.clone()).unwrap();
    let again = |cents: i64| {
        let (engine, pix) = (engine.clone(), pix.clone());
        async move {
            engine
                .return_inside(engine.new_tx_id(), beto, pix, Cents::new(cents))
                .await
        }
    };
    assert_eq!(refused(again(2_001).await), Refusal::ReturnExceeds);

    // 90 days to the millisecond are allowed; a millisecond more is too late.
    clock.0.store(start_ms + 90 * DAY_MS, SeqCst);
    assert!(engine
        .plan_return(beto, pix.clone(), Cents::new(2_000))
        .await
        .is_ok());
    clock.0.store(start_ms + 90 * DAY_MS + 1, SeqCst);
    assert_eq!(refused(again(1_000).await), Refusal::ReturnTooLate);
    assert!(matches!(
        engine.plan_return(beto, pix.clone(), Cents::new(1)).await,
        Err(EngineError::Refused(Refusal::ReturnTooLate))
    ));
    assert_eq!(engine.account(beto).await.unwrap().available.get(), 2_000);
}

/// A deposit keeps how its money came in, in the statement and across a restart; the same id
/// with another method is another operation.
#[tokio::test]
async fn a_deposit_keeps_its_method() {
    use domain::dto::DepositMethod;
    let dir = tempfile::tempdir().unwrap();
    let (engine, thread) = start(&dir);
    let ana = open(&engine, person("Ana Lima", ANA, "ana@example.com")).await;
    let boleto = engine.new_tx_id();
    for (tx, method) in [
        (engine.new_tx_id(), Some(DepositMethod::Cash)),
        (boleto.clone(), Some(DepositMethod::Boleto)),
        (engine.new_tx_id(), Some(DepositMethod::Qr)),
        (engine.new_tx_id(), None),
    ] {
        engine
            .deposit_by(tx, ana, Cents::new(1_000), method)
            .await
            .unwrap();
    }
    drop(engine);
    thread.join().unwrap();
    let (engine, _t) = start(&dir);
    let methods: Vec<_> = engine
        .dashboard(ana)
        .await
        .unwrap()
        .recent
        .iter()
        .map(|e| e.deposit_method)
        .collect();
    assert_eq!(
        methods,
        vec![
            None,
            Some(DepositMethod::Qr),
            Some(DepositMethod::Boleto),
            Some(DepositMethod::Cash)
        ]
    );
    let retry = |method| engine.deposit_by(boleto.clone(), ana, Cents::new(1_000), method);
    assert_eq!(
        retry(Some(DepositMethod::Boleto)).await.unwrap(),
        TxStatus::Committed
    );
    assert!(matches!(
        retry(Some(DepositMethod::Cash)).await,
        Err(EngineError::Ledger(LedgerError::TxIdConflict))
    ));
    assert_eq!(engine.account(ana).await.unwrap().available.get(), 4_000);
}

#[tokio::test]
async fn receivers_to_pay_again_survive_a_restart() {
    use domain::contacts::{Contact, ContactError, FAVOURITES_MAX};
    let dir = tempfile::tempdir().unwrap();
    let (engine, thread) = start(&dir);
    let ana = open(&engine, person("Ana Lima", ANA, "ana@example.com")).await;
    let bank = BankId::try_from(2).unwrap();
    let beto = Contact::new(&pix_key(BETO), "Beto Reis", "***.444.777-**", bank);
    let dora = Contact::new(
        &pix_key("dora@example.com"),
        "Dora Maria Alves",
        "***.111.222-**",
        bank,
    );
    engine.used_contact(ana, beto.clone()).await.unwrap();
    engine.used_contact(ana, dora.clone()).await.unwrap();
    engine.used_contact(ana, beto.clone()).await.unwrap();
    assert_eq!(
        engine
            .add_favourite(ana, dora.clone())
            .await
            .unwrap()
            .map(|c| c.favourites.len()),
        Ok(1)
    );
    // An account that does not exist keeps nothing.
    assert!(engine
        .used_contact(AccountId(999), beto.clone())
        .await
        .is_err());
    drop(engine);
    thread.join().unwrap();

    let (engine, _thread) = start(&dir);
    let book = engine.contacts(ana).await.unwrap();
    let recent: Vec<_> = book.recent.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        recent,
        ["Beto R.", "Dora A."],
        "newest first, once each, names masked"
    );
    assert_eq!(book.recent[0].key, "11144477735");
    assert_eq!(book.favourites, vec![dora.clone()]);
    for i in 1..FAVOURITES_MAX {
        let c = Contact::new(&pix_key(&format!("f{i}@example.com")), "Eva", "***", bank);
        engine.add_favourite(ana, c).await.unwrap().unwrap();
    }
    let one_more = Contact::new(&pix_key("more@example.com"), "Eva", "***", bank);
    assert_eq!(
        engine.add_favourite(ana, one_more).await.unwrap(),
        Err(ContactError::FavouritesFull)
    );
    let left = engine
        .remove_favourite(ana, dora.key.clone())
        .await
        .unwrap();
    assert_eq!(left.favourites.len(), FAVOURITES_MAX - 1);
    assert!(!left.favourites.contains(&dora));
}
