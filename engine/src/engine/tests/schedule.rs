//! Scheduled Pix and packets through the engine (issue 27), with the clock set by the test: kept
//! across a restart, taken on its day from 06:00 under an id that stays, listed with how it
//! ended, and cancelled only while it waits.

use super::*;
use crate::schedule::{NewSchedule, Order};
use domain::dto::PacketLeg;
use domain::packet::Packet;
use domain::schedule::{
    day_of, runs_from_ms, ScheduleError, ScheduleFailure, ScheduleStatus, ScheduledWhat,
};
use domain::Refusal;
use std::sync::atomic::Ordering::SeqCst;

/// 2026-12-07 12:00 in Brasília.
const NOON: i64 = 1_796_655_600_000;

#[tokio::test]
async fn a_scheduled_pix_waits_for_its_day_survives_a_restart_and_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SetClock(std::sync::atomic::AtomicI64::new(NOON)));
    let (engine, thread) = EngineHandle::start(config(&dir), clock.clone()).unwrap();
    let ana = open(&engine, person("Ana Lima", ANA, "ana@example.com")).await;
    let beto = open(&engine, person("Beto Reis", BETO, "beto@example.com")).await;
    engine
        .deposit(engine.new_tx_id(), ana, Cents::new(10_000))
        .await
        .unwrap();
    let tomorrow = day_of(NOON) + 1;
    let new = |amount: i64, day: i64| NewSchedule {
        account: ana,
        order: Order::Pix {
            key: pix_key(BETO),
            amount: Cents::new(amount),
            receiver_name: "Beto Reis".into(),
            receiver_bank: engine.bank().id,
        },
        day,
        message: domain::PixMessage::none(),
    };
    let rent = domain::PixMessage::parse("Aluguel de dezembro").unwrap();
    assert_eq!(
        engine.schedule_pix(new(1_000, day_of(NOON))).await.unwrap(),
        Err(ScheduleError::NotAfterToday)
    );
    let pay = engine
        .schedule_pix(NewSchedule {
            message: rent.clone(),
            ..new(2_500, tomorrow)
        })
        .await
        .unwrap()
        .unwrap();
    let cancel = engine
        .schedule_pix(new(1_000, tomorrow))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pay.status, ScheduleStatus::Waiting);
    assert_eq!(
        engine.cancel_scheduled(beto, cancel.id).await.unwrap(),
        Err(ScheduleError::NotWaiting),
        "only its client cancels it"
    );
    let cancelled = engine
        .cancel_scheduled(ana, cancel.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cancelled.status, ScheduleStatus::Cancelled);

    drop(engine);
    thread.join().unwrap();
    clock.0.store(runs_from_ms(tomorrow) - 1, SeqCst);
    let (engine, thread) = EngineHandle::start(config(&dir), clock.clone()).unwrap();
    let list = engine.scheduled(ana).await.unwrap();
    let statuses: Vec<_> = list.iter().map(|s| (s.id, s.status)).collect();
    assert_eq!(
        statuses,
        vec![
            (pay.id, ScheduleStatus::Waiting),
            (cancel.id, ScheduleStatus::Cancelled)
        ]
    );
    assert!(engine.due_scheduled().await.unwrap().is_empty(), "05:59");

    // 06:00: due, under an id that stays through a restart.
    clock.0.store(runs_from_ms(tomorrow), SeqCst);
    let due = engine.due_scheduled().await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].id, due[0].order.amount()),
        (pay.id, Cents::new(2_500))
    );
    assert_eq!(
        due[0].message, rent,
        "its message, kept through the restart"
    );
    assert_eq!(list[0].message, rent);
    drop(engine);
    thread.join().unwrap();
    let (engine, _thread) = EngineHandle::start(config(&dir), clock.clone()).unwrap();
    assert_eq!(engine.due_scheduled().await.unwrap(), due);
    let d = &due[0];
    let Order::Pix { key, amount, .. } = &d.order else {
        panic!("a Pix: {d:?}")
    };
    engine
        .pix(d.tx.clone(), d.account, key.clone(), *amount)
        .await
        .unwrap();
    // Sent again (the runner crashed before recording it): the same Pix, paid once.
    engine
        .pix(d.tx.clone(), d.account, key.clone(), *amount)
        .await
        .unwrap();
    engine.finish_scheduled(d.id, Ok(())).await.unwrap();
    assert!(engine.due_scheduled().await.unwrap().is_empty());
    let list = engine.scheduled(ana).await.unwrap();
    let done = list.iter().find(|s| s.id == pay.id).unwrap();
    assert_eq!(done.status, ScheduleStatus::Done);
    assert_eq!(done.tx_id.as_ref(), Some(&d.tx));
    assert_eq!(engine.account(ana).await.unwrap().available.get(), 7_500);
    assert_eq!(engine.account(beto).await.unwrap().available.get(), 2_500);
}

/// A packet of `cents` per leg, every leg from this bank to Beto's key.
fn packet(engine: &EngineHandle, cents: &[i64]) -> Order {
    let bank = engine.bank().id;
    let legs = cents
        .iter()
        .map(|c| PacketLeg {
            source_bank: bank,
            receiver_key: pix_key(BETO),
            receiver_bank: bank,
            amount: Cents::new(*c),
            message: domain::PixMessage::none(),
        })
        .collect();
    Order::Packet(Packet::new(legs, &[bank]).unwrap().into())
}

#[tokio::test]
async fn a_scheduled_packet_is_due_once_under_one_id_across_restarts_and_keeps_why_it_failed() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SetClock(std::sync::atomic::AtomicI64::new(NOON)));
    let (engine, thread) = EngineHandle::start(config(&dir), clock.clone()).unwrap();
    let ana = open(&engine, person("Ana Lima", ANA, "ana@example.com")).await;
    let tomorrow = day_of(NOON) + 1;
    let schedule = |order: Order| NewSchedule {
        account: ana,
        order,
        day: tomorrow,
        message: domain::PixMessage::none(),
    };
    let runs = engine
        .schedule_pix(schedule(packet(&engine, &[3_000, 2_000])))
        .await
        .unwrap()
        .unwrap();
    let cancelled = engine
        .schedule_pix(schedule(packet(&engine, &[100])))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(runs.amount, Cents::new(5_000), "its total");
    assert!(
        matches!(&runs.what, ScheduledWhat::Packet { legs } if legs.len() == 2),
        "{runs:?}"
    );
    engine
        .cancel_scheduled(ana, cancelled.id)
        .await
        .unwrap()
        .unwrap();

    // A restart before its day: still waiting, its legs as they were; the cancelled one never
    // comes due.
    drop(engine);
    thread.join().unwrap();
    let (engine, thread) = EngineHandle::start(config(&dir), clock.clone()).unwrap();
    let list = engine.scheduled(ana).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].id, runs.id);
    assert_eq!(list[0].what, runs.what, "the legs came back as scheduled");
    assert_eq!(list[0].status, ScheduleStatus::Waiting);
    assert_eq!(list[1].status, ScheduleStatus::Cancelled);
    assert!(engine.due_scheduled().await.unwrap().is_empty());

    // 06:00 on its day: the whole packet is due once, under one id that a restart keeps.
    clock.0.store(runs_from_ms(tomorrow), SeqCst);
    let due = engine.due_scheduled().await.unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].id, runs.id);
    assert_eq!(due[0].order, packet(&engine, &[3_000, 2_000]));
    drop(engine);
    thread.join().unwrap();
    let (engine, thread) = EngineHandle::start(config(&dir), clock.clone()).unwrap();
    assert_eq!(engine.due_scheduled().await.unwrap(), due, "the same id");

    // Refused on its day (the first leg's account lacked money): why is kept, and it is due
    // no more, whatever happens after.
    let why = ScheduleFailure::LegRefused {
        leg: 0,
        source_bank: engine.bank().id,
        refusal: Refusal::InsufficientFunds,
    };
    engine.finish_scheduled(runs.id, Err(why)).await.unwrap();
    assert!(engine.due_scheduled().await.unwrap().is_empty());
    drop(engine);
    thread.join().unwrap();
    clock.0.store(runs_from_ms(tomorrow) + 60_000, SeqCst);
    let (engine, _thread) = EngineHandle::start(config(&dir), clock.clone()).unwrap();
    assert!(engine.due_scheduled().await.unwrap().is_empty(), "ran once");
    let list = engine.scheduled(ana).await.unwrap();
    let ended = list.iter().find(|s| s.id == runs.id).unwrap();
    assert_eq!(ended.status, ScheduleStatus::Failed { why });
    assert_eq!(ended.tx_id.as_ref(), Some(&due[0].tx));
    assert_eq!(engine.account(ana).await.unwrap().available.get(), 0);
}
