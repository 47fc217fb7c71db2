//! The token ring, as a pure state machine (sans-IO): inputs are events with the current time,
//! outputs are [`Effect`]s for the caller to carry out (send the token, probe peers, run a batch).
//! Nothing here sleeps, reads a clock or opens a socket, so the same code runs in the bank node
//! and under a deterministic simulator.
//!
//! # Protocol
//! - The token carries an [`Epoch`] `(counter, origin)` and a `hop` count. Epochs are totally
//!   ordered and unique to the bank that created them, so two banks regenerating at once make two
//!   *different* epochs and the lower one loses: at most one holder per epoch.
//! - A bank accepts a token whose epoch is above the highest it has seen, or equal with a higher
//!   hop. Anything else is stale (older epoch) or a duplicate (same epoch, old hop) and is refused;
//!   the sender learns it from the answer and drops its copy.
//! - The holder runs a bounded batch of cross-bank work ([`Effect::RunBatch`]), then passes the token
//!   to its successor, skipping successors that do not answer, under a new epoch of its own (a
//!   silent successor may have taken the token and lost only its answer; the old epoch then dies
//!   as stale instead of living on beside the new one). If nobody answers, the bank is cut off: it
//!   keeps the token but runs no cross-bank work (there is no one to work with) and retries.
//! - No single bank can stop the ring or exhaust its epochs (issue 14: one bank may be rogue).
//!   A token is *plausible* only if its counters are below [`COUNTER_MAX`] and its epoch is at
//!   most [`MAX_EPOCH_JUMP`] above what this bank knows; anything else is refused
//!   ([`Receipt::Refused`]) and never adopted, from a pass or from a probe answer. A bank that
//!   starts knows nothing: it first probes, and takes as its floor the *second* highest epoch its
//!   peers report (one peer's word alone cannot move it). A claim that the token was seen recently
//!   holds off regeneration only while this bank itself has held the token within
//!   `starved_after_ms` (longer than any honest rotation takes).
//! - A rogue bank can push one bank out of step with the others: more than [`MAX_EPOCH_JUMP`]
//!   behind (it pushes the others ahead twice while that bank does not see the token), or ahead
//!   (it hands that bank two tokens in a row, each a jump ahead). Such a bank would refuse every
//!   live token, or hold one nobody takes, for ever. So a holder whose token at least two peers
//!   will not take (refused, or stale next to a token it cannot believe) stops passing and probes;
//!   and every probe's answers resynchronise a bank more than a jump out of step the way a
//!   starting bank learns: to the second highest epoch its peers report, which is never above
//!   what an honest peer reports.
//! - A consortium may run several rings over disjoint sets of members ([`ring_group`]): each bank
//!   coordinates its own clients' work while its ring's token visits it, and takes part in any
//!   bank's transactions at any time (reservations keep two-phase commit safe without mutual
//!   exclusion between coordinators). A token is plausible only if its epoch's origin is a member
//!   of this bank's ring, so no other ring's token (or a rogue's, made in another ring's name)
//!   is ever adopted. With one ring, as by default, every member is in it.
//! - Every bank starts without a token. A bank that has not seen the token for `token_timeout_ms` (plus a stagger by its position, so
//!   that banks do not all regenerate together) probes the ring. If a peer saw the token recently,
//!   it waits again. If no peer answers, it is the one cut off and stands by. Otherwise it
//!   regenerates the token with `counter + 1` and itself as origin.

use crate::proof::{BankKey, Sig, Signing};
use domain::BankId;

/// A token generation. Ordered by counter, then by the bank that generated it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Epoch {
    pub counter: u64,
    pub origin: BankId,
}

/// The token as it travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Token {
    pub epoch: Epoch,
    /// The epoch's origin's signature over the epoch: only the bank an epoch names as its origin
    /// can make it, so a member cannot hand out tokens of epochs in another's name (two holders
    /// of one honest epoch). Checked wherever a token is adopted (see [`RingConfig::sealing`]).
    #[serde(default)]
    pub seal: Option<Sig>,
    /// Passes since the epoch began; tells a re-delivered token from a new visit.
    pub hop: u64,
    /// Consecutive visits that found no work, up to and including the one that passed it on. A
    /// holder with nothing to do keeps the token only after a full rotation of such visits, so
    /// work anywhere keeps the token moving without any hints (see [`Ring::batch_done`]).
    /// Absent from a peer of an older version: zero, which only means one rotation without holds.
    #[serde(default)]
    pub idle: u32,
    /// The settlement window open when it left its last holder (`crate::settlement`): a holder
    /// that finds it ahead of its own cuts the window before it, and raises it when its own is
    /// ahead; so every batch after a cut, anywhere, is signed for the next window. Not sealed:
    /// a holder may raise it (a window sooner) but each bank moves at most one window per visit.
    /// Absent from a peer of an older version: 0.
    #[serde(default)]
    pub window: u64,
}

/// One visit of the token at a bank: its epoch and hop. A batch is run for a visit, and its end
/// only counts for that visit (a newer token may have superseded it meanwhile).
pub type Visit = (Epoch, u64);

/// Epoch counters and hops at or above this are absurd (no ring lives that long): refused, so
/// that arithmetic on them can never overflow.
pub const COUNTER_MAX: u64 = 1 << 62;
/// The most a token's epoch may be ahead of what a bank knows. Honest epochs grow by one per
/// regeneration or failed pass, so even a bank cut off for hours is behind by far less; a rogue
/// bank can push epochs forward by at most this per token it passes, which leaves the ring
/// centuries of epochs at any rate it can pass tokens.
pub const MAX_EPOCH_JUMP: u64 = 1_000_000;

/// The answer to a token delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Receipt {
    Accepted,
    /// Refused: the receiver has seen `newer`.
    Stale {
        newer: Token,
    },
    /// Refused: this exact token (or a later hop of it) was already accepted.
    Duplicate,
    /// Refused: implausible (absurd counters, an epoch further ahead than any regeneration
    /// explains), or this bank has not yet learned the live epoch. The sender treats it as no
    /// answer.
    Refused,
}

#[derive(Clone, Debug)]
pub struct RingConfig {
    pub me: BankId,
    /// Every member, including `me`; ring order is ascending id.
    pub members: Vec<BankId>,
    /// Silence after which a bank suspects the token is lost.
    pub token_timeout_ms: u64,
    /// Added per position after the first bank, so regenerations do not collide.
    pub stagger_ms: u64,
    /// With nothing to do anywhere for a full rotation, how long the holder keeps the token before
    /// passing it: bounds the idle rotation rate (and with it idle CPU). It doubles with each further
    /// idle rotation, up to `idle_hold_max_ms` (keep a full rotation of maximum holds below
    /// `token_timeout_ms`), and drops back as soon as some bank has work.
    pub idle_hold_ms: u64,
    pub idle_hold_max_ms: u64,
    /// After failing to pass to anyone, wait this long before trying again.
    pub retry_ms: u64,
    /// A bank that has not held the token for this long regenerates it whatever its peers claim
    /// to have seen: longer than any honest rotation (every holder's longest round and passes),
    /// so that a bank that keeps claiming a recent sighting cannot hold off regeneration for ever.
    pub starved_after_ms: u64,
    /// This bank's key, which seals the epochs it makes, and the members' keys, which check the
    /// seal of every token it adopts (`None`: seals are neither made nor checked; tests of the
    /// ring's other rules).
    pub sealing: Option<Signing>,
}

/// The members of `me`'s ring when the consortium `all` runs `groups` rings: the banks whose
/// position in ascending id order has the same remainder modulo `groups` as `me`'s, so that the
/// rings are disjoint, cover every member and differ in size by at most one. One group (or
/// fewer banks than groups) is the whole consortium.
pub fn ring_group(all: &[BankId], me: BankId, groups: usize) -> Vec<BankId> {
    let mut all = all.to_vec();
    if !all.contains(&me) {
        all.push(me);
    }
    all.sort();
    all.dedup();
    let groups = groups.clamp(1, all.len());
    let mine = all.iter().position(|b| *b == me).expect("pushed above") % groups;
    all.into_iter()
        .enumerate()
        .filter(|(i, _)| i % groups == mine)
        .map(|(_, b)| b)
        .collect()
}

/// The kind of statement an epoch's seal is.
const EPOCH_TAG: &str = "consorcio-epoch/v1";

impl Epoch {
    fn statement(&self) -> Vec<u8> {
        serde_json::to_vec(&(self.counter, self.origin)).expect("an epoch serialises")
    }

    /// This epoch sealed with `key` (valid only if `key` is its origin's).
    pub fn seal(&self, key: &BankKey) -> Sig {
        key.sign_statement(EPOCH_TAG, &self.statement())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Run up to one batch of cross-bank work now, then call [`Ring::batch_done`].
    RunBatch,
    /// Deliver `token` to `to` and report the outcome with [`Ring::pass_result`].
    Send { to: BankId, token: Token },
    /// Ask every other member whether it is alive and when it last saw the token; report with
    /// [`Ring::probe_result`].
    Probe,
}

/// What a peer said to a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProbeAnswer {
    pub from: BankId,
    /// The highest token it has accepted, if any.
    pub seen: Option<Token>,
    /// How long ago it last accepted or passed the token.
    pub seen_ago_ms: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not holding; waiting for the token.
    Waiting,
    /// Holding; a batch is running.
    Working,
    /// Holding with nothing to do until `until_ms`.
    Idle { until_ms: u64 },
    /// Holding; trying to pass to the member at `attempt` positions ahead.
    Passing { attempt: usize },
    /// Holding, but no one answered: cut off; retry passing at `until_ms`.
    Alone { until_ms: u64 },
    /// Not holding; a probe is out.
    Probing,
}

pub struct Ring {
    config: RingConfig,
    phase: Phase,
    /// The highest token this bank has accepted (or generated).
    seen: Option<Token>,
    /// When this bank last accepted or passed the token: what it reports to probes.
    last_seen_ms: u64,
    /// When the current wait for the token began. A probe that finds the token alive restarts the
    /// wait but is not a sighting: reporting it as one would let two waiting banks vouch for each
    /// other forever after the holder died.
    wait_from_ms: u64,
    /// Rotations this bank has taken part in, for the status page and benchmarks.
    pub visits: u64,
    /// Tokens this bank generated because the token was lost (for operators' metrics).
    pub regenerations: u64,
    /// Some bank has asked for the token: this bank's next idle visit passes it without holding.
    hurried: bool,
    /// What this bank learned of the live epoch when it started (the second highest its peers
    /// reported); `None` until its first probe is answered: until then it accepts no token.
    floor: Option<u64>,
    /// When this bank last took the token (or started): see [`RingConfig::starved_after_ms`].
    last_held_ms: u64,
    /// Peers that answered this bank's current pass but would not take its token (refused it, or
    /// called it stale next to one it cannot believe): with two of them, this bank is out of step
    /// with the others, not cut off (see [`Ring::send_attempt`]).
    refused_by: usize,
    /// The last epoch whose seal was checked and found good: epochs change only when a token is
    /// regenerated or a pass fails, so nearly every token needs no check of its own.
    sealed: std::cell::Cell<Option<(Epoch, Sig)>>,
}

impl Ring {
    /// A bank starting (or restarting). It holds nothing: the first token, like a lost one, comes
    /// from probe-then-regenerate, and the lowest member, whose timeout is shortest, goes first.
    /// A restarted bank therefore never revives an old epoch; it learns the live one from its peers.
    pub fn new(config: RingConfig, now_ms: u64) -> Ring {
        assert!(
            config.members.contains(&config.me),
            "a bank is a member of its own ring"
        );
        let mut members = config.members.clone();
        members.sort();
        members.dedup();
        let config = RingConfig { members, ..config };
        Ring {
            config,
            phase: Phase::Waiting,
            seen: None,
            last_seen_ms: now_ms,
            wait_from_ms: now_ms,
            visits: 0,
            regenerations: 0,
            hurried: false,
            floor: None,
            last_held_ms: now_ms,
            refused_by: 0,
            sealed: std::cell::Cell::new(None),
        }
    }

    /// Whether `token`'s epoch carries its origin's seal (always, without [`RingConfig::sealing`]).
    fn sealed(&self, token: &Token) -> bool {
        let Some(sealing) = &self.config.sealing else {
            return true;
        };
        let Some(seal) = token.seal else {
            return false;
        };
        if self.sealed.get() == Some((token.epoch, seal)) {
            return true;
        }
        let good = sealing.keys.verify(
            token.epoch.origin,
            EPOCH_TAG,
            &token.epoch.statement(),
            &seal,
        );
        if good {
            self.sealed.set(Some((token.epoch, seal)));
        }
        good
    }

    /// A new epoch of this bank's, sealed.
    fn new_epoch(&self, counter: u64) -> (Epoch, Option<Sig>) {
        let epoch = Epoch {
            counter,
            origin: self.config.me,
        };
        let seal = self.config.sealing.as_ref().map(|s| epoch.seal(&s.key));
        (epoch, seal)
    }

    /// The highest epoch counter this bank knows of (its token's, or its floor).
    fn horizon(&self) -> u64 {
        let seen = self.seen.map_or(0, |t| t.epoch.counter);
        seen.max(self.floor.unwrap_or(0))
    }

    /// Reports (or refusals) needed before this bank believes a peer about the live epoch: two
    /// (one in a ring of two), so that one peer's word cannot move it.
    fn quorum(&self) -> usize {
        self.config.members.len().saturating_sub(1).min(2)
    }

    /// Whether `token` is one this bank may adopt (see the module's rules).
    pub fn plausible(&self, token: &Token) -> bool {
        self.joined()
            && self.config.members.contains(&token.epoch.origin)
            && token.epoch.counter < COUNTER_MAX
            && token.hop < COUNTER_MAX
            && token.epoch.counter <= self.horizon().saturating_add(MAX_EPOCH_JUMP)
            && self.sealed(token)
    }

    /// The members of this bank's ring, in ring order (ascending id).
    pub fn members(&self) -> &[BankId] {
        &self.config.members
    }

    pub fn holding(&self) -> bool {
        !matches!(self.phase, Phase::Waiting | Phase::Probing)
    }

    /// True while this bank may run cross-bank operations.
    pub fn may_work(&self) -> bool {
        matches!(self.phase, Phase::Working)
    }

    pub fn seen(&self) -> Option<Token> {
        self.seen
    }

    /// The visit this bank holds the token for, if it holds it.
    pub fn visit(&self) -> Option<Visit> {
        self.seen
            .filter(|_| self.holding())
            .map(|t| (t.epoch, t.hop))
    }

    pub fn last_seen_ms(&self) -> u64 {
        self.last_seen_ms
    }

    fn take(&mut self, token: Token, now_ms: u64) -> Vec<Effect> {
        self.seen = Some(token);
        self.sighted(now_ms);
        self.last_held_ms = now_ms;
        self.visits += 1;
        self.phase = Phase::Working;
        vec![Effect::RunBatch]
    }

    /// A token arrived from a peer.
    pub fn receive(&mut self, token: Token, now_ms: u64) -> (Receipt, Vec<Effect>) {
        if !self.plausible(&token) {
            return (Receipt::Refused, Vec::new());
        }
        if let Some(seen) = self.seen {
            if token.epoch < seen.epoch {
                return (Receipt::Stale { newer: seen }, Vec::new());
            }
            if token.epoch == seen.epoch && token.hop <= seen.hop {
                return (Receipt::Duplicate, Vec::new());
            }
        }
        // A newer token supersedes anything this bank was doing with an older one.
        (Receipt::Accepted, self.take(token, now_ms))
    }

    /// The batch started by [`Effect::RunBatch`] for `visit` finished; `did_work` says whether
    /// it found any. The end of a batch run for an earlier visit (one a newer token superseded
    /// while its round was voting) is ignored: it must not cut the current visit short.
    ///
    /// The token counts the visits since the last one that found work. While that count is below
    /// the ring's size, some bank worked within the last rotation and the token is passed at once:
    /// under load it never waits anywhere, and a bank that found work on its last visit gets the
    /// token back without holds and needs to hurry no one. After a full idle rotation, holders keep
    /// the token for the idle hold, doubled per further idle rotation, unless hurried.
    pub fn batch_done(&mut self, visit: Visit, did_work: bool, now_ms: u64) -> Vec<Effect> {
        if self.phase != Phase::Working || self.visit() != Some(visit) {
            return Vec::new();
        }
        let seen = self.seen.as_mut().expect("working requires a token");
        seen.idle = if did_work {
            0
        } else {
            seen.idle.saturating_add(1)
        };
        let idle = seen.idle;
        let hold = self.idle_hold_ms(idle);
        let hurried = std::mem::take(&mut self.hurried);
        if hold == 0 || hurried {
            self.start_pass(now_ms)
        } else {
            self.phase = Phase::Idle {
                until_ms: now_ms + hold,
            };
            Vec::new()
        }
    }

    /// The batch of `visit` ran with settlement window `window` open here: the token carries the
    /// higher of it and its own on (see [`Token::window`]). Ignored for any other visit.
    pub fn raise_window(&mut self, visit: Visit, window: u64) {
        if self.visit() != Some(visit) {
            return;
        }
        if let Some(seen) = self.seen.as_mut() {
            seen.window = seen.window.max(window);
        }
    }

    /// The hold after a visit that makes `idle` consecutive idle visits: none within the first
    /// rotation, then the base doubled per further idle rotation, capped.
    fn idle_hold_ms(&self, idle: u32) -> u64 {
        let c = &self.config;
        let n = c.members.len() as u32;
        if idle < n {
            return 0;
        }
        let doublings = ((idle - n) / n).min(16);
        c.idle_hold_ms
            .checked_shl(doublings)
            .unwrap_or(u64::MAX)
            .min(c.idle_hold_max_ms.max(c.idle_hold_ms))
    }

    /// Some bank (this one or a peer) has cross-bank work waiting for the token: this bank's next
    /// idle visit passes it on without holding, and a holder idling right now runs a batch at once
    /// (the work may be its own) and passes.
    pub fn hurry(&mut self) -> Vec<Effect> {
        self.hurried = true;
        match self.phase {
            Phase::Idle { .. } => {
                self.phase = Phase::Working;
                vec![Effect::RunBatch]
            }
            _ => Vec::new(),
        }
    }

    fn sighted(&mut self, now_ms: u64) {
        self.last_seen_ms = now_ms;
        self.wait_from_ms = now_ms;
    }

    fn start_pass(&mut self, now_ms: u64) -> Vec<Effect> {
        self.sighted(now_ms);
        self.phase = Phase::Passing { attempt: 1 };
        self.refused_by = 0;
        self.send_attempt(1, now_ms)
    }

    fn send_attempt(&mut self, attempt: usize, now_ms: u64) -> Vec<Effect> {
        let n = self.config.members.len();
        if attempt >= n && self.refused_by >= self.quorum().max(1) {
            // Peers answered but would not take our token: we are out of step with them, not cut
            // off. Passing again would only meet the same answers for ever; the token is dropped
            // and a probe learns the live epoch (see `probe_result`).
            self.phase = Phase::Probing;
            return vec![Effect::Probe];
        }
        if attempt >= n {
            // Nobody answered: cut off. Keep the token, do no cross-bank work, retry later.
            self.phase = Phase::Alone {
                until_ms: now_ms + self.config.retry_ms,
            };
            return Vec::new();
        }
        let me = self.position();
        let to = self.config.members[(me + attempt) % n];
        let seen = self.seen.expect("passing requires a token");
        vec![Effect::Send {
            to,
            token: Token {
                hop: seen.hop.saturating_add(1),
                ..seen
            },
        }]
    }

    fn position(&self) -> usize {
        self.config
            .members
            .iter()
            .position(|m| *m == self.config.me)
            .expect("member")
    }

    /// The outcome of an [`Effect::Send`]: `None` if the peer did not answer in time.
    pub fn pass_result(
        &mut self,
        to: BankId,
        receipt: Option<Receipt>,
        now_ms: u64,
    ) -> Vec<Effect> {
        let Phase::Passing { attempt } = self.phase else {
            return Vec::new();
        };
        let n = self.config.members.len();
        if self.config.members[(self.position() + attempt) % n] != to {
            return Vec::new(); // an answer to an older attempt
        }
        match receipt {
            Some(Receipt::Accepted) | Some(Receipt::Duplicate) => {
                // Duplicate: the peer already has this hop (our earlier delivery got through).
                if let Some(seen) = self.seen.as_mut() {
                    seen.hop = seen.hop.saturating_add(1);
                }
                self.sighted(now_ms);
                self.phase = Phase::Waiting;
                Vec::new()
            }
            Some(Receipt::Stale { newer }) if self.plausible(&newer) => {
                // Our token is obsolete: drop it and learn the newer one.
                self.seen = Some(newer.max_by_epoch(self.seen));
                self.wait_from_ms = now_ms;
                self.phase = Phase::Waiting;
                Vec::new()
            }
            // An implausible "newer" token, a refusal, or no answer: the peer did not take ours,
            // or we cannot tell.
            Some(Receipt::Stale { .. }) | Some(Receipt::Refused) | None => {
                if receipt.is_some() {
                    self.refused_by += 1;
                }
                // No answer does not mean the peer did not get the token: its answer may be what
                // was lost. Sending the same epoch onward could then make two holders of one epoch
                // (found by the consortium simulation). So the token goes on under a new epoch of
                // ours; if the silent peer did take the old one, it is refused as stale as soon as
                // it meets a bank that has seen the new one.
                if let Some(seen) = self.seen {
                    let (epoch, seal) = self.new_epoch(seen.epoch.counter.saturating_add(1));
                    self.seen = Some(Token {
                        epoch,
                        seal,
                        hop: 0,
                        ..seen
                    });
                }
                self.phase = Phase::Passing {
                    attempt: attempt + 1,
                };
                self.send_attempt(attempt + 1, now_ms)
            }
        }
    }

    /// Time passes. Ends idle holds, retries a cut-off pass, and suspects a lost token.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Effect> {
        match self.phase {
            Phase::Idle { until_ms } if now_ms >= until_ms => self.start_pass(now_ms),
            Phase::Alone { until_ms } if now_ms >= until_ms => {
                self.phase = Phase::Passing { attempt: 1 };
                self.refused_by = 0;
                self.send_attempt(1, now_ms)
            }
            Phase::Waiting if self.next_deadline_ms().is_some_and(|d| now_ms >= d) => {
                self.phase = Phase::Probing;
                vec![Effect::Probe]
            }
            _ => Vec::new(),
        }
    }

    /// Whether this bank has learned the live epoch (from its first answered probe, or a token).
    fn joined(&self) -> bool {
        self.floor.is_some() || self.seen.is_some()
    }

    /// This bank's patience: the base timeout plus a stagger by its position.
    pub fn timeout_ms(&self) -> u64 {
        self.config.token_timeout_ms + self.position() as u64 * self.config.stagger_ms
    }

    /// The earliest time at which [`Ring::tick`] may have something to do.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        match self.phase {
            Phase::Idle { until_ms } | Phase::Alone { until_ms } => Some(until_ms),
            // A bank that has not learned the live epoch probes at once, then every retry.
            Phase::Waiting if !self.joined() => Some(self.wait_from_ms),
            Phase::Waiting => Some(self.wait_from_ms + self.timeout_ms()),
            Phase::Working | Phase::Passing { .. } | Phase::Probing => None,
        }
    }

    /// The answers to an [`Effect::Probe`] (only from peers that answered in time).
    pub fn probe_result(&mut self, answers: &[ProbeAnswer], now_ms: u64) -> Vec<Effect> {
        if self.phase != Phase::Probing {
            return Vec::new();
        }
        if !self.joined() {
            // Starting: learn the live epoch from the second highest report (the highest in a
            // ring of two), so that one peer's word cannot move it; until two peers answered,
            // ask again. Then wait for the token as any bank does.
            self.phase = Phase::Waiting;
            let Some(floor) = self.reported_epoch(answers) else {
                self.floor = (self.quorum() == 0).then_some(0);
                self.wait_from_ms = now_ms + self.config.retry_ms;
                return Vec::new();
            };
            self.floor = Some(floor);
            self.wait_from_ms = now_ms;
            return Vec::new();
        }
        // A bank out of step with the others (see the module's rules) resynchronises the way a
        // starting bank learns. Behind, it catches up, and their answers become plausible; more
        // than a jump ahead, its token is one nobody else believes (a rogue's), and it forgets
        // it. Its own epochs up there died with it: nobody else ever took them. Found by the
        // consortium simulation's rogue bank, which locked a bank out of the ring so.
        if let Some(reported) = self.reported_epoch(answers) {
            let horizon = self.horizon();
            if horizon > reported.saturating_add(MAX_EPOCH_JUMP) {
                self.seen = None;
                self.floor = Some(reported);
            } else if reported > horizon {
                self.floor = Some(reported);
            }
        }
        // Only plausible tokens are learned, and only their sightings count.
        let plausible: Vec<&ProbeAnswer> = answers
            .iter()
            .filter(|a| a.seen.is_none_or(|t| self.plausible(&t)))
            .collect();
        for t in plausible.iter().filter_map(|a| a.seen) {
            self.seen = Some(t.max_by_epoch(self.seen));
        }
        if answers.is_empty() {
            // Cut off from everyone: regenerating would only make a token nobody can use.
            self.phase = Phase::Waiting;
            self.wait_from_ms = now_ms;
            return Vec::new();
        }
        let recently = plausible.iter().any(|a| {
            a.seen.is_some()
                && a.seen_ago_ms
                    .is_some_and(|ago| ago < self.config.token_timeout_ms)
        });
        let starved = now_ms.saturating_sub(self.last_held_ms) >= self.config.starved_after_ms;
        if recently && !starved {
            self.phase = Phase::Waiting;
            self.wait_from_ms = now_ms;
            return Vec::new();
        }
        let (epoch, seal) = self.new_epoch(self.horizon().saturating_add(1));
        self.regenerations += 1;
        self.take(
            Token {
                epoch,
                seal,
                hop: 0,
                idle: 0,
                window: self.seen.map_or(0, |t| t.window),
            },
            now_ms,
        )
    }

    /// The live epoch counter as `answers` report it: the second highest (the highest in a ring
    /// of two), never above what an honest peer reports. `None` with too few answers.
    fn reported_epoch(&self, answers: &[ProbeAnswer]) -> Option<u64> {
        let needed = self.quorum();
        if needed == 0 || answers.len() < needed {
            return None;
        }
        let mut counters: Vec<u64> = answers
            .iter()
            .map(|a| a.seen.map_or(0, |t| t.epoch.counter))
            .filter(|c| *c < COUNTER_MAX)
            .collect();
        counters.sort_unstable_by(|a, b| b.cmp(a));
        Some(counters.get(needed - 1).copied().unwrap_or(0))
    }

    /// What this bank answers to a probe.
    pub fn probe_answer(&self, now_ms: u64) -> ProbeAnswer {
        ProbeAnswer {
            from: self.config.me,
            seen: self.seen,
            // A holder sees the token right now, however long it has been holding it.
            seen_ago_ms: self.seen.map(|_| {
                if self.holding() {
                    0
                } else {
                    now_ms.saturating_sub(self.last_seen_ms)
                }
            }),
        }
    }
}

impl Token {
    /// The token with the higher epoch (then hop) of `self` and `other`.
    fn max_by_epoch(self, other: Option<Token>) -> Token {
        match other {
            Some(o) if (o.epoch, o.hop) > (self.epoch, self.hop) => o,
            _ => self,
        }
    }
}

#[cfg(test)]
mod tests;
