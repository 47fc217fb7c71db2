//! Scheduled Pix's and packets' commands (the rules are [`crate::schedule`]'s): a client
//! schedules, lists and cancels; the node's scheduler takes the ones whose day came, each under
//! an id fixed then, sends each like one sent now, and records how it ended.

use super::*;
use crate::schedule::{Due, NewSchedule};
use domain::schedule::{ScheduleError, ScheduleFailure, ScheduledView};

/// The ended scheduled Pix a client's list shows, newest first.
const ENDED_LISTED: u32 = 20;

pub(super) struct AddSchedule {
    new: NewSchedule,
}

impl Request for AddSchedule {
    type Answer = Result<ScheduledView, ScheduleError>;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Self::Answer> {
        let AddSchedule { new } = self;
        if state.ledger.account(new.account).is_none() {
            return Err(LedgerError::UnknownAccount.into());
        }
        Ok(state.schedules.add(new, now).map(|s| s.view()))
    }
}

pub(super) struct CancelSchedule {
    account: AccountId,
    id: u64,
}

impl Request for CancelSchedule {
    type Answer = Result<ScheduledView, ScheduleError>;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Self::Answer> {
        let CancelSchedule { account, id } = self;
        Ok(state.schedules.cancel(account, id).map(|s| s.view()))
    }
}

/// An account's open scheduled Pix (soonest first), then its newest ended ones.
pub(super) struct ListSchedules {
    account: AccountId,
}

impl Request for ListSchedules {
    type Answer = Vec<ScheduledView>;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Vec<ScheduledView>> {
        let ListSchedules { account } = self;
        let mut list: Vec<ScheduledView> = state
            .schedules
            .open_of(account)
            .into_iter()
            .map(|s| s.view())
            .collect();
        let ended = state
            .store
            .ended_schedules(account, ENDED_LISTED)
            .map_err(store_error)?;
        list.extend(ended.iter().map(|s| s.view()));
        Ok(list)
    }
}

pub(super) struct TakeDue;

impl Request for TakeDue {
    type Answer = Vec<Due>;

    fn run(self, state: &mut State, now: i64) -> EngineResult<Vec<Due>> {
        let (bank, stamp) = (state.config.bank.id, domain::time_fmt::stamp_brasilia(now));
        let new_tx = || {
            let suffix = Alphanumeric.sample_string(&mut rand::rng(), 11);
            TxId::compose(bank, &stamp, &suffix).expect("composed ids are well-formed")
        };
        // May `tx` have left this bank? Its entries, or a decision on it, say so.
        let store = &state.store;
        let sent = |tx: &TxId| {
            store.entries_of_tx(tx).map_or(true, |e| !e.is_empty())
                || store.decision(tx).map_or(true, |d| d.is_some())
        };
        Ok(state.schedules.take_due(now, new_tx, sent))
    }
}

pub(super) struct FinishSchedule {
    id: u64,
    result: Result<(), ScheduleFailure>,
}

impl Request for FinishSchedule {
    type Answer = ();

    fn run(self, state: &mut State, _now: i64) -> EngineResult<()> {
        let FinishSchedule { id, result } = self;
        state.schedules.finish(id, result);
        Ok(())
    }
}

impl EngineHandle {
    /// Schedules a Pix (the receiver as the client's review found it) or a packet (checked as
    /// one sent now) for a later day.
    pub async fn schedule_pix(
        &self,
        new: NewSchedule,
    ) -> EngineResult<Result<ScheduledView, ScheduleError>> {
        self.request(AddSchedule { new }).await
    }

    /// Cancels `account`'s scheduled Pix `id` while it waits for its day.
    pub async fn cancel_scheduled(
        &self,
        account: AccountId,
        id: u64,
    ) -> EngineResult<Result<ScheduledView, ScheduleError>> {
        self.request(CancelSchedule { account, id }).await
    }

    /// `account`'s scheduled Pix: the open ones, soonest first, then the newest that ended.
    pub async fn scheduled(&self, account: AccountId) -> EngineResult<Vec<ScheduledView>> {
        self.request(ListSchedules { account }).await
    }

    /// The scheduled Pix to send now, each under its fixed id (see
    /// [`crate::schedule::Schedules::take_due`]).
    pub async fn due_scheduled(&self) -> EngineResult<Vec<Due>> {
        self.request(TakeDue).await
    }

    /// Records how scheduled Pix `id` ended.
    pub async fn finish_scheduled(
        &self,
        id: u64,
        result: Result<(), ScheduleFailure>,
    ) -> EngineResult<()> {
        self.request(FinishSchedule { id, result }).await
    }
}
