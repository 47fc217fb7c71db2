//! Pure state machine of scheduled Pix (Pix agendado), one Pix or a whole packet: the ones still
//! waiting or running are kept in memory (bounded per account, [`WAITING_PER_ACCOUNT`]); every
//! change is recorded for the store, which keeps every scheduled entry, final ones included. The
//! caller passes the time and the ids.
//!
//! A scheduled entry waits until 06:00 (Brasília) of its day; then [`Schedules::take_due`] gives
//! it an id of its own, fixed from then on, so that running it again after a crash or a busy
//! consortium is the same Pix or packet, paid at most once; it ends done, failed with a reason,
//! or, while waiting, cancelled by its client. One that could not run at all on its day fails
//! then.

use domain::dto::PacketLeg;
use domain::packet::{Packet, MAX_PACKET_LEGS};
use domain::schedule::{
    day_of, runs_from_ms, ScheduleError, ScheduleFailure, ScheduleStatus, ScheduledLeg,
    ScheduledView, ScheduledWhat, MAX_DAYS_AHEAD, WAITING_PER_ACCOUNT,
};
use domain::{AccountId, BankId, Cents, PixKey, PixMessage, TxId};
use std::collections::BTreeMap;

/// What a scheduled entry sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Order {
    /// One Pix from the account here to `key`, whose receiver the client's review found.
    Pix {
        key: PixKey,
        amount: Cents,
        receiver_name: String,
        receiver_bank: BankId,
    },
    /// A Pix packet: every leg or none, each drawn from the client's account at its source bank.
    Packet(PacketOrder),
}

impl Order {
    /// What it sends in all.
    pub fn amount(&self) -> Cents {
        match self {
            Order::Pix { amount, .. } => *amount,
            Order::Packet(p) => p.total(),
        }
    }
}

/// A scheduled packet's legs: made only from a [`Packet`] checked when it was scheduled (so from
/// 1 to [`MAX_PACKET_LEGS`] legs, each of a valid amount), and checked again, against the
/// consortium of its day, before it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketOrder {
    legs: Vec<PacketLeg>,
}

impl From<Packet> for PacketOrder {
    fn from(packet: Packet) -> PacketOrder {
        PacketOrder {
            legs: packet.into_legs(),
        }
    }
}

impl PacketOrder {
    /// Legs read back from the store: `None` unless 1 to [`MAX_PACKET_LEGS`] of positive amounts,
    /// as a checked packet has.
    pub fn restore(legs: Vec<PacketLeg>) -> Option<PacketOrder> {
        let fits =
            (1..=MAX_PACKET_LEGS).contains(&legs.len()) && legs.iter().all(|l| l.amount.get() > 0);
        fits.then_some(PacketOrder { legs })
    }

    pub fn legs(&self) -> &[PacketLeg] {
        &self.legs
    }

    /// The legs' sum (at most 16 legs of at most the operation limit each: no overflow).
    pub fn total(&self) -> Cents {
        Cents::new(self.legs.iter().map(|l| l.amount.get()).sum())
    }
}

/// One scheduled Pix or packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheduled {
    pub id: u64,
    pub account: AccountId,
    pub order: Order,
    pub day: i64,
    pub status: ScheduleStatus,
    pub tx: Option<TxId>,
    pub created_ms: i64,
    /// The payer's message, sent with the Pix on its day (empty: none; a packet's legs carry
    /// their own).
    pub message: PixMessage,
}

impl Scheduled {
    pub fn view(&self) -> ScheduledView {
        let what = match &self.order {
            Order::Pix {
                key,
                receiver_name,
                receiver_bank,
                ..
            } => ScheduledWhat::Pix {
                key_masked: key.masked(),
                receiver_name: receiver_name.clone(),
                receiver_bank: *receiver_bank,
            },
            Order::Packet(p) => ScheduledWhat::Packet {
                legs: p
                    .legs()
                    .iter()
                    .map(|l| ScheduledLeg {
                        source_bank: l.source_bank,
                        key_masked: l.receiver_key.masked(),
                        receiver_bank: l.receiver_bank,
                        amount: l.amount,
                    })
                    .collect(),
            },
        };
        ScheduledView {
            id: self.id,
            what,
            amount: self.order.amount(),
            day: self.day,
            status: self.status,
            tx_id: self.tx.clone(),
            created_ms: self.created_ms,
            message: self.message.clone(),
        }
    }
}

/// What a client asks to schedule.
#[derive(Clone, Debug)]
pub struct NewSchedule {
    pub account: AccountId,
    pub order: Order,
    pub day: i64,
    /// The payer's message on a scheduled Pix (a packet's legs carry their own).
    pub message: PixMessage,
}

/// A scheduled Pix or packet whose time came, to run under `tx`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub id: u64,
    pub account: AccountId,
    pub order: Order,
    pub tx: TxId,
    pub message: PixMessage,
}

#[derive(Debug, Default)]
pub struct Schedules {
    /// Waiting and running ones.
    open: BTreeMap<u64, Scheduled>,
    next_id: u64,
    changes: Vec<Scheduled>,
}

impl Schedules {
    /// From the store: the open ones, and the highest id ever given.
    pub fn restore(open: Vec<Scheduled>, last_id: u64) -> Schedules {
        Schedules {
            open: open.into_iter().map(|s| (s.id, s)).collect(),
            next_id: last_id + 1,
            changes: Vec::new(),
        }
    }

    pub fn take_changes(&mut self) -> Vec<Scheduled> {
        std::mem::take(&mut self.changes)
    }

    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Open scheduled Pix of `account`, soonest first.
    pub fn open_of(&self, account: AccountId) -> Vec<&Scheduled> {
        let mut mine: Vec<&Scheduled> = self
            .open
            .values()
            .filter(|s| s.account == account)
            .collect();
        mine.sort_by_key(|s| (s.day, s.id));
        mine
    }

    /// Schedules `new` for its day, which must be after today and at most
    /// [`MAX_DAYS_AHEAD`] days ahead; the account may have at most [`WAITING_PER_ACCOUNT`]
    /// waiting.
    pub fn add(&mut self, new: NewSchedule, now_ms: i64) -> Result<&Scheduled, ScheduleError> {
        let today = day_of(now_ms);
        if new.day <= today {
            return Err(ScheduleError::NotAfterToday);
        }
        if new.day > today + MAX_DAYS_AHEAD {
            return Err(ScheduleError::TooFar);
        }
        let waiting = self
            .open
            .values()
            .filter(|s| s.account == new.account && s.status == ScheduleStatus::Waiting)
            .count();
        if waiting >= WAITING_PER_ACCOUNT {
            return Err(ScheduleError::TooMany);
        }
        let id = self.next_id.max(1);
        self.next_id = id + 1;
        let scheduled = Scheduled {
            id,
            account: new.account,
            order: new.order,
            day: new.day,
            status: ScheduleStatus::Waiting,
            tx: None,
            created_ms: now_ms,
            message: new.message,
        };
        self.changes.push(scheduled.clone());
        Ok(self.open.entry(id).or_insert(scheduled))
    }

    /// Cancels `account`'s scheduled Pix `id` while it waits.
    pub fn cancel(&mut self, account: AccountId, id: u64) -> Result<Scheduled, ScheduleError> {
        match self.open.get(&id) {
            Some(s) if s.account == account && s.status == ScheduleStatus::Waiting => {}
            _ => return Err(ScheduleError::NotWaiting),
        }
        let mut s = self.open.remove(&id).expect("just found");
        s.status = ScheduleStatus::Cancelled;
        self.changes.push(s.clone());
        Ok(s)
    }

    /// The scheduled Pix to run now: each waiting one whose day came (from 06:00), given its
    /// id by `new_tx`, and each running one not finished yet, under its id again (running it
    /// again answers with its first outcome). One whose day passed without it being sent fails
    /// ([`ScheduleFailure::NotDelivered`]): a waiting one (the bank was down all that day), or
    /// a running one whose id `sent` does not know (it never left the bank). One the bank may
    /// have sent is run again, whatever the day, until its outcome is known.
    pub fn take_due(
        &mut self,
        now_ms: i64,
        mut new_tx: impl FnMut() -> TxId,
        sent: impl Fn(&TxId) -> bool,
    ) -> Vec<Due> {
        let today = day_of(now_ms);
        let mut due = Vec::new();
        let mut lapsed = Vec::new();
        for s in self.open.values_mut() {
            if s.day < today
                && s.status == ScheduleStatus::Running
                && !s.tx.as_ref().is_some_and(&sent)
            {
                lapsed.push(s.id);
                continue;
            }
            if now_ms < runs_from_ms(s.day) {
                continue;
            }
            if s.status == ScheduleStatus::Waiting {
                if s.day < today {
                    // The bank was down all that day: it is not paid days late.
                    lapsed.push(s.id);
                    continue;
                }
                s.status = ScheduleStatus::Running;
                s.tx = Some(new_tx());
                self.changes.push(s.clone());
            }
            if let Some(tx) = s.tx.clone() {
                due.push(Due {
                    id: s.id,
                    account: s.account,
                    order: s.order.clone(),
                    tx,
                    message: s.message.clone(),
                });
            }
        }
        for id in lapsed {
            self.finish(id, Err(ScheduleFailure::NotDelivered));
        }
        due
    }

    /// Ends scheduled Pix `id`: done, or failed and why. Nothing for one not open.
    pub fn finish(&mut self, id: u64, result: Result<(), ScheduleFailure>) -> Option<Scheduled> {
        let mut s = self.open.remove(&id)?;
        s.status = match result {
            Ok(()) => ScheduleStatus::Done,
            Err(why) => ScheduleStatus::Failed { why },
        };
        self.changes.push(s.clone());
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::Refusal;

    /// 2026-12-07 12:00 in Brasília.
    const NOON: i64 = 1_796_655_600_000;
    const DAY: i64 = 86_400_000;

    fn new(account: i64, day: i64) -> NewSchedule {
        NewSchedule {
            account: AccountId(account),
            order: Order::Pix {
                key: PixKey::parse("111.444.777-35").unwrap(),
                amount: Cents::new(1_000),
                receiver_name: "Beto Reis".into(),
                receiver_bank: BankId::try_from(1).unwrap(),
            },
            day,
            message: PixMessage::none(),
        }
    }

    fn ids() -> impl FnMut() -> TxId {
        let mut n = 0;
        move || {
            n += 1;
            TxId::compose(
                BankId::try_from(1).unwrap(),
                "202612080600",
                &format!("{n:011}"),
            )
            .unwrap()
        }
    }

    #[test]
    fn the_noon_constant_is_noon_in_brasilia() {
        assert_eq!(domain::time_fmt::format_brasilia(NOON), "07/12/2026 12:00");
    }

    #[test]
    fn a_pix_waits_for_six_on_its_day_then_keeps_its_id_until_it_ends() {
        let mut s = Schedules::default();
        let today = day_of(NOON);
        let id = s.add(new(1, today + 1), NOON).unwrap().id;
        assert!(
            s.take_due(NOON + DAY / 2, ids(), |_| false).is_empty(),
            "midnight: not yet"
        );
        let tomorrow_six = runs_from_ms(today + 1);
        assert!(s.take_due(tomorrow_six - 1, ids(), |_| false).is_empty());
        let due = s.take_due(tomorrow_six, ids(), |_| false);
        assert_eq!(due.len(), 1);
        // Not finished (the consortium was busy, the bank restarted): the same id again.
        let again = s.take_due(tomorrow_six + 60_000, ids(), |_| false);
        assert_eq!(again, due);
        let restored = Schedules::restore(s.open.values().cloned().collect(), id);
        let mut restored = restored;
        assert_eq!(
            restored.take_due(tomorrow_six + 120_000, ids(), |_| false),
            due
        );
        assert_eq!(
            restored.finish(id, Ok(())).unwrap().status,
            ScheduleStatus::Done
        );
        assert!(restored
            .take_due(tomorrow_six + 180_000, ids(), |_| false)
            .is_empty());
        assert!(restored.finish(id, Ok(())).is_none(), "ends once");
    }

    #[test]
    fn a_packet_is_scheduled_whole_and_due_whole_under_one_id() {
        let mut s = Schedules::default();
        let today = day_of(NOON);
        let bank = BankId::try_from(1).unwrap();
        let leg = |cents| PacketLeg {
            source_bank: bank,
            receiver_key: PixKey::parse("111.444.777-35").unwrap(),
            receiver_bank: bank,
            amount: Cents::new(cents),
            message: PixMessage::none(),
        };
        let packet = Packet::new(vec![leg(1_000), leg(2_500)], &[bank]).unwrap();
        let new = NewSchedule {
            account: AccountId(1),
            order: Order::Packet(packet.into()),
            day: today + 1,
            message: PixMessage::none(),
        };
        let view = s.add(new, NOON).unwrap().view();
        assert_eq!(view.amount, Cents::new(3_500), "its total");
        assert!(
            matches!(&view.what, ScheduledWhat::Packet { legs } if legs.len() == 2),
            "{view:?}"
        );
        let due = s.take_due(runs_from_ms(today + 1), ids(), |_| false);
        assert_eq!(due.len(), 1, "one id for the whole packet");
        assert_eq!(due[0].order.amount(), Cents::new(3_500));
        assert!(PacketOrder::restore(vec![]).is_none());
        assert!(PacketOrder::restore(vec![leg(1); MAX_PACKET_LEGS + 1]).is_none());
        assert!(PacketOrder::restore(vec![leg(0)]).is_none());
        assert!(PacketOrder::restore(vec![leg(1); MAX_PACKET_LEGS]).is_some());
    }

    #[test]
    fn only_later_days_within_a_year_and_a_bounded_number_per_account() {
        let mut s = Schedules::default();
        let today = day_of(NOON);
        assert_eq!(
            s.add(new(1, today), NOON).unwrap_err(),
            ScheduleError::NotAfterToday
        );
        assert_eq!(
            s.add(new(1, today + MAX_DAYS_AHEAD + 1), NOON).unwrap_err(),
            ScheduleError::TooFar
        );
        for _ in 0..WAITING_PER_ACCOUNT {
            s.add(new(1, today + MAX_DAYS_AHEAD), NOON).unwrap();
        }
        assert_eq!(
            s.add(new(1, today + 2), NOON).unwrap_err(),
            ScheduleError::TooMany
        );
        assert!(
            s.add(new(2, today + 2), NOON).is_ok(),
            "another account's own"
        );
    }

    #[test]
    fn only_its_client_cancels_and_only_while_it_waits() {
        let mut s = Schedules::default();
        let today = day_of(NOON);
        let id = s.add(new(1, today + 1), NOON).unwrap().id;
        assert_eq!(s.cancel(AccountId(2), id), Err(ScheduleError::NotWaiting));
        let running = s.add(new(1, today + 1), NOON).unwrap().id;
        s.take_due(runs_from_ms(today + 1), ids(), |_| false);
        assert_eq!(
            s.cancel(AccountId(1), running),
            Err(ScheduleError::NotWaiting),
            "running already"
        );
        s.finish(
            running,
            Err(ScheduleFailure::Refused {
                refusal: Refusal::InsufficientFunds,
            }),
        );
        assert_eq!(
            s.cancel(AccountId(1), running),
            Err(ScheduleError::NotWaiting)
        );
        let changes = s.take_changes();
        assert!(matches!(
            changes.last().unwrap().status,
            ScheduleStatus::Failed { .. }
        ));
    }

    #[test]
    fn a_pix_running_past_its_day_runs_again_only_if_it_may_have_left_the_bank() {
        let mut s = Schedules::default();
        let today = day_of(NOON);
        let (sent, unsent) = (
            s.add(new(1, today + 1), NOON).unwrap().id,
            s.add(new(1, today + 1), NOON).unwrap().id,
        );
        let due = s.take_due(runs_from_ms(today + 1), ids(), |_| false);
        let sent_tx = due.iter().find(|d| d.id == sent).unwrap().tx.clone();
        s.take_changes();
        let again = s.take_due(NOON + 2 * DAY, ids(), |tx| *tx == sent_tx);
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].id, &again[0].tx), (sent, &sent_tx));
        let ended = s.take_changes().pop().unwrap();
        assert_eq!(
            (ended.id, ended.status),
            (
                unsent,
                ScheduleStatus::Failed {
                    why: ScheduleFailure::NotDelivered
                }
            )
        );
    }

    #[test]
    fn a_pix_whose_day_passed_with_the_bank_down_fails_and_is_not_paid_late() {
        let mut s = Schedules::default();
        let today = day_of(NOON);
        let id = s.add(new(1, today + 1), NOON).unwrap().id;
        assert!(s.take_due(NOON + 3 * DAY, ids(), |_| true).is_empty());
        let ended = s.take_changes().pop().unwrap();
        assert_eq!(ended.id, id);
        assert_eq!(
            ended.status,
            ScheduleStatus::Failed {
                why: ScheduleFailure::NotDelivered
            }
        );
    }
}
