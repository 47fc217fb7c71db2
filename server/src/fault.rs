//! Test-only crash points (`FAULT_INJECT`): the coordinator aborts its process at a chosen moment
//! of two-phase commit, like a power cut, so that tests reach the protocol's worst moments
//! deterministically. `None` in every real deployment.

/// Where the coordinator crashes on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Every participant has voted; no decision stored. Recovery must abort everywhere.
    CrashBeforeDecision,
    /// The decision is stored; nobody has heard it. Recovery must deliver it.
    CrashAfterDecision,
}

impl Fault {
    pub fn parse(text: &str) -> Option<Fault> {
        match text {
            "crash_before_decision" => Some(Fault::CrashBeforeDecision),
            "crash_after_decision" => Some(Fault::CrashAfterDecision),
            _ => None,
        }
    }
}

/// Aborts the process if `fault` is the one configured: nothing after it runs.
pub fn inject(fault: Option<Fault>, at: Fault) {
    if fault == Some(at) {
        eprintln!("FAULT_INJECT: {at:?}: aborting the process");
        std::process::abort();
    }
}
