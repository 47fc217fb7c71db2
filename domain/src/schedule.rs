//! Pix agendado: a Pix, or a whole Pix packet, the client schedules for a later day, run by its
//! bank on that day, from the start of the daytime period (06:00 in Brasília), through the same
//! paths as one sent now. What a client sees of one, and the rules on when it may be.

use crate::money::Cents;
use crate::refusal::Refusal;
use serde::{Deserialize, Serialize};

/// The farthest ahead a Pix may be scheduled, in days.
pub const MAX_DAYS_AHEAD: i64 = 365;
/// Scheduled Pix one account may have waiting at once.
pub const WAITING_PER_ACCOUNT: usize = 20;
/// A scheduled Pix runs on its day from this hour (Brasília): the daytime period, whose limit
/// it counts against.
pub const RUNS_FROM_HOUR: i64 = 6;

const DAY_MS: i64 = 86_400_000;
const BRASILIA_OFFSET_MS: i64 = -3 * 3_600_000;

/// The Brasília day (days since 1970-01-01 there) `unix_ms` falls in.
pub fn day_of(unix_ms: i64) -> i64 {
    (unix_ms + BRASILIA_OFFSET_MS).div_euclid(DAY_MS)
}

/// When a Pix scheduled for `day` may run: 06:00 that day in Brasília (Unix ms).
pub fn runs_from_ms(day: i64) -> i64 {
    day * DAY_MS - BRASILIA_OFFSET_MS + RUNS_FROM_HOUR * 3_600_000
}

/// Where a scheduled Pix is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ScheduleStatus {
    /// Waiting for its day.
    Waiting,
    /// Its day came: the bank is sending it (under the id it will keep).
    Running,
    /// Sent and committed.
    Done,
    /// Not sent, and why; nothing moved.
    Failed { why: ScheduleFailure },
    /// Cancelled by the client before its day.
    Cancelled,
}

impl ScheduleStatus {
    /// Whether it can still change.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ScheduleStatus::Done | ScheduleStatus::Failed { .. } | ScheduleStatus::Cancelled
        )
    }
}

/// Why a scheduled Pix was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum ScheduleFailure {
    /// Refused on its day, as a Pix sent then would have been (no money, the limit...).
    Refused { refusal: Refusal },
    /// The key paid nobody any more on its day.
    NoReceiver,
    /// The consortium could not take it all that day.
    NotDelivered,
    /// A scheduled packet's transfer `leg` (counted from 0), paid from the client's account at
    /// `source_bank`, was refused on its day, so none of the packet moved.
    LegRefused {
        leg: u16,
        source_bank: crate::BankId,
        refusal: Refusal,
    },
}

/// Why a Pix cannot be scheduled (or cancelled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ScheduleError {
    #[error("the day is not after today")]
    NotAfterToday,
    #[error("the day is too far ahead")]
    TooFar,
    #[error("too many scheduled Pix waiting")]
    TooMany,
    #[error("no such scheduled Pix waiting")]
    NotWaiting,
}

/// A scheduled Pix or packet as its client sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledView {
    pub id: u64,
    /// What it sends: one Pix, or a packet's transfers (`kind` in JSON, beside the other fields).
    #[serde(flatten)]
    pub what: ScheduledWhat,
    /// What it sends in all (a packet's total).
    pub amount: Cents,
    /// The Brasília day it runs on.
    pub day: i64,
    pub status: ScheduleStatus,
    /// The Pix's id once it ran (its comprovante).
    pub tx_id: Option<crate::TxId>,
    pub created_ms: i64,
    /// The payer's message, sent with it (empty: none).
    #[serde(default, skip_serializing_if = "crate::PixMessage::is_empty")]
    pub message: crate::PixMessage,
}

/// What a scheduled entry sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScheduledWhat {
    /// One Pix from the account here: the receiver's key, masked, and name and bank as the
    /// review found them.
    Pix {
        key_masked: String,
        receiver_name: String,
        receiver_bank: crate::BankId,
    },
    /// A packet (all or nothing), its transfers in order.
    Packet { legs: Vec<ScheduledLeg> },
}

/// One transfer of a scheduled packet, as its client sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledLeg {
    /// The bank of the client's account that pays it.
    pub source_bank: crate::BankId,
    pub key_masked: String,
    pub receiver_bank: crate::BankId,
    pub amount: Cents,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_starts_at_midnight_and_runs_from_six_in_brasilia() {
        // 2026-12-07 02:59 UTC is still the 6th in Brasília; 03:00 UTC is the 7th.
        let seventh_utc_3am = 1_796_612_400_000;
        assert_eq!(day_of(seventh_utc_3am) - day_of(seventh_utc_3am - 1), 1);
        let day = day_of(seventh_utc_3am);
        assert_eq!(
            crate::time_fmt::format_brasilia(runs_from_ms(day)),
            "07/12/2026 06:00"
        );
    }

    #[test]
    fn a_view_says_its_kind_beside_its_other_fields_and_reads_back() {
        let bank = crate::BankId::try_from(1).unwrap();
        let pix = ScheduledView {
            id: 7,
            what: ScheduledWhat::Pix {
                key_masked: "***.444.777-**".into(),
                receiver_name: "Beto Reis".into(),
                receiver_bank: bank,
            },
            amount: Cents::new(3_000),
            day: 20_000,
            status: ScheduleStatus::Failed {
                why: ScheduleFailure::LegRefused {
                    leg: 1,
                    source_bank: bank,
                    refusal: Refusal::InsufficientFunds,
                },
            },
            tx_id: None,
            created_ms: 1,
            message: crate::PixMessage::parse("Aluguel").unwrap(),
        };
        let json = serde_json::to_value(&pix).unwrap();
        assert_eq!(json["kind"], "pix");
        assert_eq!(json["receiver_name"], "Beto Reis");
        assert_eq!(json["status"]["why"]["reason"], "leg_refused");
        assert_eq!(serde_json::from_value::<ScheduledView>(json).unwrap(), pix);
        let packet = ScheduledView {
            what: ScheduledWhat::Packet {
                legs: vec![ScheduledLeg {
                    source_bank: bank,
                    key_masked: "***".into(),
                    receiver_bank: bank,
                    amount: Cents::new(3_000),
                }],
            },
            ..pix
        };
        let json = serde_json::to_value(&packet).unwrap();
        assert_eq!(json["kind"], "packet");
        assert_eq!(
            serde_json::from_value::<ScheduledView>(json).unwrap(),
            packet
        );
    }
}
