//! Pix limits per period (issue 27), with the clock set by the test: the nighttime limit, the
//! daytime one after 06:00, what was paid counted again after a restart, lowering at once and
//! raising only 24 hours later.

use super::*;
use domain::pix_limits::{Defaults, LimitError, Period, PixLimits, RAISE_DELAY_MS};
use std::sync::atomic::Ordering::SeqCst;

/// 2026-12-07 21:00 in Brasília (00:00 UTC on the 8th): nighttime.
const NIGHT: i64 = 1_796_688_000_000;
const HOUR_MS: i64 = 3_600_000;

fn limited(dir: &tempfile::TempDir) -> EngineConfig {
    let mut config = config(dir);
    config.pix_limits = Defaults::STANDARD;
    config
}

fn refused(r: EngineResult<TransferReceipt>) -> Refusal {
    match r {
        Err(EngineError::Refused(why)) => why,
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn the_night_constant_is_nine_in_the_evening_in_brasilia() {
    assert_eq!(domain::time_fmt::format_brasilia(NIGHT), "07/12/2026 21:00");
}

#[tokio::test]
async fn a_client_pays_within_each_periods_limit_and_lowers_at_once_but_raises_a_day_later() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SetClock(std::sync::atomic::AtomicI64::new(NIGHT)));
    let (engine, thread) = EngineHandle::start(limited(&dir), clock.clone()).unwrap();
    let ana = open(&engine, person("Ana Lima", ANA, "ana@example.com")).await;
    open(&engine, person("Beto Reis", BETO, "beto@example.com")).await;
    engine
        .deposit(engine.new_tx_id(), ana, Cents::new(1_000_000))
        .await
        .unwrap();
    let pay = |cents: i64| {
        let engine = engine.clone();
        async move {
            engine
                .pix(engine.new_tx_id(), ana, pix_key(BETO), Cents::new(cents))
                .await
        }
    };

    // At night an individual may send R$ 1.000,00 in all, by default.
    let view = engine.pix_limits(ana).await.unwrap();
    assert_eq!(view.period, Period::Night);
    assert_eq!(view.remaining, Cents::new(100_000));
    pay(60_000).await.unwrap();
    assert_eq!(
        refused(pay(50_000).await),
        Refusal::PixLimit {
            bank: engine.bank().id,
            period: Period::Night,
            remaining: Cents::new(40_000),
        }
    );
    pay(40_000).await.unwrap();
    assert_eq!(engine.pix_limits(ana).await.unwrap().remaining, Cents::ZERO);
    // Still night at 05:59; at 06:00 the daytime limit counts, from nothing paid.
    clock.0.store(NIGHT + 9 * HOUR_MS - 60_000, SeqCst);
    assert!(matches!(
        refused(pay(1).await),
        Refusal::PixLimit {
            period: Period::Night,
            ..
        }
    ));
    clock.0.store(NIGHT + 9 * HOUR_MS, SeqCst);
    pay(200_000).await.unwrap();

    // A restart counts what was paid in the period again, from the store.
    drop(engine);
    thread.join().unwrap();
    let (engine, _thread) = EngineHandle::start(limited(&dir), clock.clone()).unwrap();
    let view = engine.pix_limits(ana).await.unwrap();
    assert_eq!(
        (view.period, view.used, view.remaining),
        (Period::Day, Cents::new(200_000), Cents::new(800_000))
    );
    let pay = |cents: i64| {
        let engine = engine.clone();
        async move {
            engine
                .pix(engine.new_tx_id(), ana, pix_key(BETO), Cents::new(cents))
                .await
        }
    };

    // Lowering counts at once.
    let low = PixLimits {
        day: Cents::new(250_000),
        night: Cents::new(10_000),
    };
    let view = engine.set_pix_limits(ana, low).await.unwrap();
    assert_eq!((view.settings.current, view.settings.raise), (low, None));
    assert_eq!(view.remaining, Cents::new(50_000));
    assert!(matches!(
        refused(pay(50_001).await),
        Refusal::PixLimit { .. }
    ));

    // Impossible limits change nothing.
    let night_above_day = PixLimits {
        day: Cents::new(10_000),
        night: Cents::new(20_000),
    };
    assert!(matches!(
        engine.set_pix_limits(ana, night_above_day).await,
        Err(EngineError::Limits(LimitError::NightAboveDay))
    ));
    assert_eq!(engine.pix_limits(ana).await.unwrap().settings.current, low);

    // Raising waits 24 hours, and survives a restart meanwhile.
    let high = PixLimits {
        day: Cents::new(500_000),
        night: Cents::new(10_000),
    };
    let asked_at = clock.0.load(SeqCst);
    let view = engine.set_pix_limits(ana, high).await.unwrap();
    assert_eq!(view.settings.current, low);
    assert_eq!(view.settings.raise, Some((high, asked_at + RAISE_DELAY_MS)));
    assert!(matches!(
        refused(pay(50_001).await),
        Refusal::PixLimit { .. }
    ));
    drop(engine);
    _thread.join().unwrap();
    clock.0.store(asked_at + RAISE_DELAY_MS, SeqCst);
    let (engine, _thread) = EngineHandle::start(limited(&dir), clock.clone()).unwrap();
    let view = engine.pix_limits(ana).await.unwrap();
    assert_eq!((view.settings.current, view.settings.raise), (high, None));
    assert_eq!(
        (view.period, view.used, view.remaining),
        (Period::Day, Cents::ZERO, Cents::new(500_000)),
        "a day later: a new period, the raise in force"
    );
    engine
        .pix(engine.new_tx_id(), ana, pix_key(BETO), Cents::new(500_000))
        .await
        .unwrap();
}

/// A company has no nighttime limit of its own by default; a devolução counts against no limit.
#[tokio::test]
async fn a_company_pays_at_night_and_a_devolucao_counts_against_no_limit() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SetClock(std::sync::atomic::AtomicI64::new(NIGHT)));
    let (engine, _thread) = EngineHandle::start(limited(&dir), clock).unwrap();
    let mut company = person(
        "Padaria Lima Ltda",
        "11.222.333/0001-81",
        "padaria@example.com",
    );
    company.kind = AccountKind::Company;
    let padaria = open(&engine, company).await;
    let ana = open(&engine, person("Ana Lima", ANA, "ana@example.com")).await;
    engine
        .deposit(engine.new_tx_id(), padaria, Cents::new(2_000_000))
        .await
        .unwrap();
    let pix = engine.new_tx_id();
    engine
        .pix(pix.clone(), padaria, pix_key(ANA), Cents::new(1_500_000))
        .await
        .unwrap();
    // Ana may send R$ 1.000,00 tonight, yet returns R$ 15.000,00 she received.
    engine
        .return_inside(engine.new_tx_id(), ana, pix, Cents::new(1_500_000))
        .await
        .unwrap();
    assert_eq!(
        engine.pix_limits(ana).await.unwrap().remaining,
        Cents::new(100_000)
    );
}
