//! Bank-node configuration from environment variables, optionally preloaded from a file.
//!
//! Every variable, its meaning and its default is in one table, README.md's "Running one bank by
//! hand" (`tests::every_variable_read_is_in_the_readme` keeps the two in step). `Config::from_vars`
//! builds the engine's own configuration types directly (`EngineConfig`, `RingConfig`,
//! `CoordinatorConfig`), which the drivers pass on as they are.
//!
//! Without `BANK_NAME`, a bank is named as the membership file names it, else after the original's
//! five for ids 1..=5, `Bank <id>` otherwise. `CONSORTIUM_SECRET` and `PUBLIC_URLS` are gone (a
//! key per bank and the membership file replace them); setting them is an error that says so.

use crate::fault::Fault;
use crate::membership::Membership;
use crate::origin::Origin;
use crate::twopc_driver::TwoPcSettings;
use domain::BankId;
use engine::coordinator::CoordinatorConfig;
use engine::ring::RingConfig;
use engine::twopc::DeliveryConfig;
use engine::EngineConfig;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A round's plans are to be decided within this long of its start (their `decide_by_ms`): far
/// beyond a prepare's timeout and the storing of decisions, which take seconds at worst.
const DECIDE_WITHIN_MS: i64 = 30_000;

/// Fully acknowledged decisions are recorded in one engine write at most this often (see
/// [`CoordinatorConfig::acks_recorded_every_ms`]).
const ACKS_RECORDED_EVERY_MS: u64 = 200;

/// The longest wait between two attempts to deliver a decision.
const DECISION_RETRY_MAX_MS: u64 = 5_000;

/// The original project's five banks, used when `BANK_NAME` is not set.
const DEMO_NAMES: [&str; 5] = ["Eleven", "Automobili", "Secret", "Formula", "Titanium"];

#[derive(Clone, Debug)]
pub struct Config {
    pub bank_id: BankId,
    pub bank_name: String,
    pub bind_addr: SocketAddr,
    /// Where the inter-bank API listens on its own, bounded per source address
    /// (`crate::guarded`); `None`: beside the pages on `bind_addr`.
    pub interbank_bind_addr: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub site_dir: PathBuf,
    /// The consortium; `None` for a bank alone (no ring, no inter-bank API).
    pub membership: Option<Membership>,
    /// This bank's signing key file.
    pub key_file: PathBuf,
    /// Where this bank reaches each member: the membership file's URLs, or `PEERS` instead.
    pub peers: BTreeMap<BankId, String>,
    /// The engine's own configuration (database, the members' limits); its keys are added at
    /// start, once the key file is read.
    pub engine: EngineConfig,
    /// The token ring's core configuration, passed to it as it is (its `sealing` keys are added
    /// at start).
    pub ring: RingConfig,
    /// The 2PC driver's, with the coordinator core's inside.
    pub twopc: TwoPcSettings,
    /// Timeout of every call to another bank (token pass, probe, lookup).
    pub peer_timeout_ms: u64,
    /// Tests only (`FAULT_CLOCK_SKEW_MS`): how far the engine's clock (sessions, consents, the
    /// ledger's time stamps) runs ahead of this machine's; 0 in every real deployment.
    pub clock_skew_ms: i64,
    /// `OPERATOR_TOKEN`: when set, `/metrics` answers only requests carrying
    /// `Authorization: Bearer <token>`.
    pub operator_token: Option<OperatorToken>,
    /// The site's own origin (`PUBLIC_URL`, else this bank's `public_url` in the membership
    /// file): the only one whose pages may post to it (`crate::origin`). `None`: the origin must
    /// name the host asked.
    pub public_origin: Option<Origin>,
    /// `ADDRESS_BUDGET_SCALE`: how many clients' worth of key lookups, codes and sign-ups one
    /// source address gets (see `engine::budget::ClientBudgets`).
    pub address_budget_scale: u32,
    /// `SCHEDULE_EVERY_MS`: how often scheduled Pix whose time came are looked for and sent.
    pub schedule_every_ms: u64,
}

/// The longest interval a setting in seconds may state: a week.
const SECONDS_MAX: u64 = 7 * 86_400;

/// The operators' bearer token. Never serialised, never printed.
#[derive(Clone)]
pub struct OperatorToken(String);

impl OperatorToken {
    /// Whether `presented` is the token; compares digests, so the time taken does not depend
    /// on how much of the token was right.
    pub fn matches(&self, presented: &str) -> bool {
        use sha2::{Digest, Sha256};
        Sha256::digest(self.0.as_bytes()) == Sha256::digest(presented.as_bytes())
    }
}

impl std::fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorToken(..)")
    }
}

/// The display name of bank `id` when nothing else names it.
pub fn default_name(id: u16) -> String {
    DEMO_NAMES
        .get(usize::from(id).wrapping_sub(1))
        .map(|n| n.to_string())
        .unwrap_or_else(|| format!("Bank {id}"))
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("BANK_ID is required (1..=200)")]
    MissingBankId,
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
    /// Settings that are each valid but do not fit together; the message names them.
    #[error("{0}")]
    Timing(String),
    #[error("reading BANK_CONFIG file {path}: {message}")]
    File { path: String, message: String },
}

fn invalid(key: &'static str, message: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.to_string(),
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        if let Ok(path) = std::env::var("BANK_CONFIG") {
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
                path: path.clone(),
                message: e.to_string(),
            })?;
            vars.extend(parse_file(&text).map_err(|message| ConfigError::File { path, message })?);
        }
        vars.extend(std::env::vars());
        Config::from_vars(&vars)
    }

    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
        let v = Vars(vars);
        for gone in ["CONSORTIUM_SECRET", "PUBLIC_URLS"] {
            if v.get(gone).is_some() {
                return Err(invalid(
                    gone,
                    "no longer used: each bank has its own key (KEY_FILE) and the consortium is described by MEMBERSHIP",
                ));
            }
        }
        let (bank_id, membership, bank_name) = who(&v)?;
        let id = u16::from(bank_id.get());
        let data_dir = v
            .get("DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(format!("data/bank-{id}")));
        let peers = peers(&v, membership.as_ref())?;
        let peer_timeout_ms = v.ms("PEER_TIMEOUT_MS", 200)?;
        let twopc = twopc(&v, bank_id)?;
        let mut ring = ring(&v, bank_id, &peers)?;
        ring.starved_after_ms = starved_after_ms(&ring, peer_timeout_ms, twopc.prepare_timeout_ms);
        let engine = engine(&v, (bank_id, &bank_name), &data_dir, membership.as_ref())?;
        let public_origin = match v.get("PUBLIC_URL") {
            Some(url) => Some(Origin::of_url(url).ok_or_else(|| {
                invalid(
                    "PUBLIC_URL",
                    "an http(s) URL, such as https://eleven.example",
                )
            })?),
            None => membership
                .as_ref()
                .and_then(|m| m.get(bank_id))
                .and_then(|own| Origin::of_url(&own.public_url)),
        };
        Ok(Config {
            bank_id,
            bank_name,
            bind_addr: match v.get("BIND_ADDR") {
                Some(a) => a.parse().map_err(|e| invalid("BIND_ADDR", e))?,
                None => SocketAddr::from(([127, 0, 0, 1], 8080 + id)),
            },
            interbank_bind_addr: v
                .get("INTERBANK_BIND_ADDR")
                .map(|a| a.parse().map_err(|e| invalid("INTERBANK_BIND_ADDR", e)))
                .transpose()?,
            site_dir: v
                .get("SITE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("target/site")),
            key_file: v
                .get("KEY_FILE")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join(crate::identity::KEY_FILE_NAME)),
            data_dir,
            membership,
            peers,
            engine,
            ring,
            twopc,
            peer_timeout_ms,
            clock_skew_ms: match v.get("FAULT_CLOCK_SKEW_MS") {
                None => 0,
                Some(s) => s
                    .parse::<i64>()
                    .ok()
                    .filter(|ms| ms.abs() <= 400 * 86_400_000)
                    .ok_or_else(|| {
                        invalid(
                            "FAULT_CLOCK_SKEW_MS",
                            "milliseconds, at most 400 days either way",
                        )
                    })?,
            },
            public_origin,
            schedule_every_ms: v.ms_from("SCHEDULE_EVERY_MS", 30_000, 50)?,
            address_budget_scale: match v.get("ADDRESS_BUDGET_SCALE") {
                None => 1,
                Some(t) => t
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or_else(|| {
                        invalid("ADDRESS_BUDGET_SCALE", "a whole number, 1 to 100000")
                    })?,
            },
            operator_token: match v.get("OPERATOR_TOKEN") {
                None => None,
                Some(s) if s.len() >= 16 && s.len() <= 256 && s.is_ascii() => {
                    Some(OperatorToken(s.to_string()))
                }
                Some(_) => {
                    return Err(invalid(
                        "OPERATOR_TOKEN",
                        "16 to 256 ASCII characters (a long random string)",
                    ))
                }
            },
        })
    }
}

/// The variables, each read by name, with its bounds.
struct Vars<'a>(&'a BTreeMap<String, String>);

impl Vars<'_> {
    /// A variable's value; blank counts as unset.
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// Milliseconds, from `min` to 10 minutes.
    fn ms_from(&self, key: &'static str, default: u64, min: u64) -> Result<u64, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (min..=600_000).contains(&n) => Ok(n),
                _ => Err(invalid(
                    key,
                    format!("milliseconds between {min} and 600000"),
                )),
            },
        }
    }

    /// Milliseconds, from 1 to 10 minutes.
    fn ms(&self, key: &'static str, default: u64) -> Result<u64, ConfigError> {
        self.ms_from(key, default, 1)
    }

    /// Seconds from 1 to a week, if set.
    fn seconds(&self, key: &'static str) -> Result<Option<u64>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (1..=SECONDS_MAX).contains(&n) => Ok(Some(n)),
                _ => Err(invalid(key, format!("seconds between 1 and {SECONDS_MAX}"))),
            },
        }
    }

    /// A count from 1 to 65,536.
    fn count(&self, key: &'static str, default: usize) -> Result<usize, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=65_536).contains(&n) => Ok(n),
                _ => Err(invalid(key, "a count between 1 and 65536")),
            },
        }
    }
}

/// This bank: its id, the consortium it is a member of (if any) and its name.
fn who(v: &Vars) -> Result<(BankId, Option<Membership>, String), ConfigError> {
    let id: u16 = v
        .get("BANK_ID")
        .ok_or(ConfigError::MissingBankId)?
        .parse()
        .map_err(|e| invalid("BANK_ID", e))?;
    let bank_id = BankId::try_from(id).map_err(|e| invalid("BANK_ID", e))?;
    let membership = match v.get("MEMBERSHIP") {
        Some(path) => Some(
            Membership::load(std::path::Path::new(path)).map_err(|e| invalid("MEMBERSHIP", e))?,
        ),
        None => None,
    };
    let listed = membership.as_ref().and_then(|m| m.get(bank_id));
    if membership.is_some() && listed.is_none() {
        return Err(invalid(
            "MEMBERSHIP",
            format!("bank {bank_id} is not a member of this consortium"),
        ));
    }
    let name = match (v.get("BANK_NAME"), listed) {
        (Some(n), _) => domain::input::name(n).map_err(|e| invalid("BANK_NAME", e))?,
        (None, Some(m)) => m.name.clone(),
        (None, None) => default_name(id),
    };
    Ok((bank_id, membership, name))
}

/// Where each member is reached: the membership file's URLs, or `PEERS` instead.
fn peers(
    v: &Vars,
    membership: Option<&Membership>,
) -> Result<BTreeMap<BankId, String>, ConfigError> {
    let mut peers: BTreeMap<BankId, String> = membership
        .iter()
        .flat_map(|m| m.members())
        .map(|m| (m.id, m.url.clone()))
        .collect();
    if let Some(p) = v.get("PEERS") {
        if membership.is_none() {
            return Err(invalid(
                "PEERS",
                "only with MEMBERSHIP (it says where to reach the members)",
            ));
        }
        for (id, url) in parse_peers(p)? {
            if !peers.contains_key(&id) {
                return Err(invalid(
                    "PEERS",
                    format!("bank {id} is not in the membership file"),
                ));
            }
            peers.insert(id, url);
        }
    }
    Ok(peers)
}

/// The token ring's configuration (without keys, added at start, and with `starved_after_ms`
/// still to compute), its timing relation checked.
fn ring(v: &Vars, me: BankId, peers: &BTreeMap<BankId, String>) -> Result<RingConfig, ConfigError> {
    let all: Vec<BankId> = peers.keys().copied().chain([me]).collect();
    let consortium = engine::ring::ring_group(&all, me, 1).len();
    // Several rings, each over its own members, for a large consortium whose single token would
    // take too long to come round (ARCHITECTURE.md, "Rings"). Every member must be given the
    // same number; each ring has two members at least.
    let groups = v.count("RING_GROUPS", 1)?;
    if groups > 1 && groups > consortium / 2 {
        return Err(invalid(
            "RING_GROUPS",
            format!(
                "at most {} for {consortium} banks (each ring needs two members at least)",
                consortium / 2
            ),
        ));
    }
    let members = engine::ring::ring_group(&all, me, groups);
    // 0 passes the token on at once when there is no work: the ring's full speed, at the cost of
    // CPU (the benchmark measures the ring's capacity that way).
    let idle_hold_ms = v.ms_from("RING_IDLE_HOLD_MS", 2, 0)?;
    let idle_hold_max_ms = v.ms_from("RING_IDLE_HOLD_MAX_MS", 40, 0)?;
    let rotation_based =
        default_token_timeout_ms(members.len(), idle_hold_ms.max(idle_hold_max_ms));
    let token_timeout_ms = v.ms("RING_TOKEN_TIMEOUT_MS", rotation_based)?;
    let ring = RingConfig {
        me,
        members,
        token_timeout_ms,
        stagger_ms: v.ms("RING_STAGGER_MS", 50)?,
        idle_hold_ms,
        idle_hold_max_ms,
        retry_ms: v.ms("RING_RETRY_MS", 100)?,
        starved_after_ms: 0,
        sealing: None,
    };
    check_ring_timing(&ring, ring.members.len())?;
    Ok(ring)
}

/// The 2PC driver's settings, with the coordinator core's configuration inside.
fn twopc(v: &Vars, me: BankId) -> Result<TwoPcSettings, ConfigError> {
    let prepare_timeout_ms = v.ms("PREPARE_TIMEOUT_MS", 2_000)?;
    let coordinator = CoordinatorConfig {
        me,
        queue_capacity: v.count("PACKET_QUEUE", 4_096)?,
        batch_max: v
            .count("PACKET_BATCH", 256)?
            .min(engine::twopc::MAX_ITEMS_PER_MESSAGE),
        queue_deadline_ms: v.ms("PACKET_DEADLINE_MS", 5_000)?,
        delivery: DeliveryConfig {
            first_retry_ms: v.ms("DECISION_RETRY_MS", 100)?,
            max_retry_ms: DECISION_RETRY_MAX_MS,
            // A delivery in flight is not repeated before its call could have timed out.
            in_flight_ms: prepare_timeout_ms,
            linger_ms: v.ms_from("DECISION_LINGER_MS", 50, 0)?,
            me,
        },
        acks_recorded_every_ms: ACKS_RECORDED_EVERY_MS,
        decide_within_ms: DECIDE_WITHIN_MS,
    };
    Ok(TwoPcSettings {
        coordinator,
        prepare_timeout_ms,
        in_doubt_after_ms: v.ms("IN_DOUBT_AFTER_MS", 1_000)?,
        settlement_window_ms: v.seconds("SETTLEMENT_WINDOW_S")?.map(|s| s * 1_000),
        fault: match v.get("FAULT_INJECT") {
            None => None,
            Some(s) => Some(Fault::parse(s).ok_or_else(|| {
                invalid(
                    "FAULT_INJECT",
                    "crash_before_decision or crash_after_decision",
                )
            })?),
        },
    })
}

/// The engine's configuration (without keys, added at start once the key file is read).
fn engine(
    v: &Vars,
    (id, name): (BankId, &str),
    data_dir: &std::path::Path,
    membership: Option<&Membership>,
) -> Result<EngineConfig, ConfigError> {
    let bank = domain::dto::BankInfo {
        id,
        name: name.to_string(),
    };
    let mut engine = EngineConfig::new(bank, data_dir.join(engine::store::DB_FILE_NAME));
    engine.settlement_deadline_ms = v
        .seconds("SETTLEMENT_DEADLINE_S")?
        .map(|s| i64::try_from(s * 1_000).unwrap_or(i64::MAX));
    if let Some(membership) = membership {
        engine.limits = membership.limits();
    }
    engine.spare_pages = match v.get("FAULT_DB_SPARE_PAGES") {
        None => None,
        Some(s) => Some(
            s.parse::<u32>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| {
                    invalid("FAULT_DB_SPARE_PAGES", "a page count between 1 and 1000000")
                })?,
        ),
    };
    engine.pix_limits = pix_limits(v)?;
    Ok(engine)
}

/// The Pix limits of a client who set none: `PIX_DAY_LIMIT_CENTS` and `PIX_NIGHT_LIMIT_CENTS`
/// for individuals (the night's not above the day's), `PIX_COMPANY_LIMIT_CENTS` for companies in
/// either period; each unset one keeps [`domain::pix_limits::Defaults::STANDARD`]'s.
fn pix_limits(v: &Vars) -> Result<domain::pix_limits::Defaults, ConfigError> {
    use domain::money::MAX_BALANCE;
    use domain::pix_limits::{Defaults, PixLimits};
    let standard = Defaults::STANDARD;
    let cents = |key: &'static str, default: domain::Cents| match v.get(key) {
        None => Ok(default),
        Some(t) => t
            .parse::<i64>()
            .ok()
            .filter(|c| (0..=MAX_BALANCE.get()).contains(c))
            .map(domain::Cents::new)
            .ok_or_else(|| invalid(key, format!("cents, 0 to {}", MAX_BALANCE.get()))),
    };
    let individual = PixLimits {
        day: cents("PIX_DAY_LIMIT_CENTS", standard.individual.day)?,
        night: cents("PIX_NIGHT_LIMIT_CENTS", standard.individual.night)?,
    };
    if individual.night > individual.day {
        return Err(invalid(
            "PIX_NIGHT_LIMIT_CENTS",
            "not above PIX_DAY_LIMIT_CENTS",
        ));
    }
    let company = cents("PIX_COMPANY_LIMIT_CENTS", standard.company.day)?;
    Ok(Defaults {
        individual,
        company: PixLimits {
            day: company,
            night: company,
        },
    })
}

/// How long a bank may go without holding the token before it regenerates it whatever its
/// peers claim: one rotation in which every holder runs its longest round (a prepare timeout),
/// tries every successor (a peer timeout each) and holds its longest idle hold, plus the token
/// timeout. No honest ring is slower; a bank that keeps claiming a recent sighting holds off
/// regeneration no longer than this.
fn starved_after_ms(ring: &RingConfig, peer_timeout_ms: u64, prepare_timeout_ms: u64) -> u64 {
    let n = u64::try_from(ring.members.len().max(1)).unwrap_or(u64::MAX);
    let per_holder = prepare_timeout_ms
        .saturating_add(n.saturating_mul(peer_timeout_ms))
        .saturating_add(ring.idle_hold_max_ms.max(ring.idle_hold_ms));
    n.saturating_mul(per_holder)
        .saturating_add(ring.token_timeout_ms)
}

/// The token timeout when none is set: 300 ms, or, for a consortium large enough that an idle
/// rotation of longest holds takes longer, that rotation plus 100 ms (so 20 banks work out of the
/// box, the idle ring's CPU staying what it is at five; regeneration waits that much longer).
fn default_token_timeout_ms(members: usize, idle_hold_ms: u64) -> u64 {
    let rotation_ms = u64::try_from(members)
        .unwrap_or(u64::MAX)
        .saturating_mul(idle_hold_ms);
    rotation_ms.saturating_add(100).max(300)
}

/// The ring's timing relation: a full rotation of maximum idle holds (one per member) must end
/// before any bank's patience runs out, or an idle ring would be taken for a lost token and
/// regenerated over and over.
fn check_ring_timing(ring: &RingConfig, members: usize) -> Result<(), ConfigError> {
    let rotation_ms = u64::try_from(members)
        .unwrap_or(u64::MAX)
        .saturating_mul(ring.idle_hold_max_ms.max(ring.idle_hold_ms));
    if members > 1 && rotation_ms >= ring.token_timeout_ms {
        return Err(ConfigError::Timing(format!(
            "{members} banks x RING_IDLE_HOLD_MAX_MS {} = {rotation_ms} ms must stay below RING_TOKEN_TIMEOUT_MS {} \
             (an idle rotation would look like a lost token)",
            ring.idle_hold_max_ms.max(ring.idle_hold_ms),
            ring.token_timeout_ms
        )));
    }
    Ok(())
}

/// `KEY=VALUE` per line; blank lines and `#` comments ignored.
fn parse_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected KEY=VALUE", n + 1))?;
        out.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(out)
}

/// `1=http://127.0.0.1:8081,2=http://10.0.0.2:8082`.
fn parse_peers(text: &str) -> Result<BTreeMap<BankId, String>, ConfigError> {
    let mut peers = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (id, url) = item
            .split_once('=')
            .ok_or_else(|| invalid("PEERS", format!("'{item}' is not id=url")))?;
        let id: u16 = id
            .trim()
            .parse()
            .map_err(|_| invalid("PEERS", format!("'{id}' is not a bank id")))?;
        let id = BankId::try_from(id).map_err(|e| invalid("PEERS", e))?;
        let url = crate::membership::http_url(url)
            .ok_or_else(|| invalid("PEERS", format!("'{}' is not an http(s) URL", url.trim())))?;
        if peers.insert(id, url).is_some() {
            return Err(invalid("PEERS", format!("bank {id} listed twice")));
        }
    }
    Ok(peers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The README's table: `(variable, default)` per row.
    fn readme_table() -> BTreeMap<String, String> {
        include_str!("../../README.md")
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                // | `VAR` | meaning | default |
                let var = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                let valid = var.chars().all(|c| c.is_ascii_uppercase() || c == '_');
                (valid && cells.len() == 5).then(|| (var.to_string(), cells[3].to_string()))
            })
            .collect()
    }

    /// Every `reader("VAR", default…` call in `source`: the variable and its default, if any.
    fn reads(source: &str, readers: &[&str]) -> Vec<(String, Option<String>)> {
        let mut out = Vec::new();
        for reader in readers {
            let call = format!("{reader}(\"");
            for (at, _) in source.match_indices(&call) {
                let rest = &source[at + call.len()..];
                let Some(end) = rest.find('"') else { continue };
                let default = rest[end + 1..]
                    .strip_prefix(", ")
                    .and_then(|d| d.split([',', ')']).next())
                    .map(|d| d.replace('_', ""));
                out.push((rest[..end].to_string(), default));
            }
        }
        out
    }

    #[test]
    fn every_variable_read_is_in_the_readme() {
        let table = readme_table();
        let mut read = reads(
            include_str!("config.rs"),
            &[
                "get",
                "ms",
                "ms_from",
                "count",
                "seconds",
                "cents",
                "std::env::var",
            ],
        );
        read.extend(reads(
            include_str!("main.rs"),
            &["env", "std::env::var", "try_from_env"],
        ));
        assert!(read.len() >= 25, "the reads were found: {read:?}");
        for (var, default) in &read {
            if var == "VAR" {
                continue; // this test's own example
            }
            let listed = table
                .get(var)
                .unwrap_or_else(|| panic!("{var} is read but not in README.md's table"));
            if let Some(d) = default.as_deref().filter(|d| d.parse::<u64>().is_ok()) {
                assert!(
                    listed.starts_with(d),
                    "{var}: the code's default is {d}, README.md says {listed}"
                );
            }
        }
        for var in table.keys() {
            assert!(
                read.iter().any(|(v, _)| v == var),
                "README.md lists {var}, which nothing reads"
            );
        }
    }

    #[test]
    fn pix_limits_default_to_the_bcbs_and_impossible_ones_are_refused() {
        let c = Config::from_vars(&vars(&[("BANK_ID", "1")])).unwrap();
        assert_eq!(c.engine.pix_limits, domain::pix_limits::Defaults::STANDARD);
        for bad in [
            [
                ("PIX_DAY_LIMIT_CENTS", "100"),
                ("PIX_NIGHT_LIMIT_CENTS", "200"),
            ],
            [
                ("PIX_DAY_LIMIT_CENTS", "-5"),
                ("PIX_NIGHT_LIMIT_CENTS", "0"),
            ],
            [
                ("PIX_DAY_LIMIT_CENTS", "ten"),
                ("PIX_NIGHT_LIMIT_CENTS", "0"),
            ],
        ] {
            let mut given = vec![("BANK_ID", "1")];
            given.extend(bad);
            let e = Config::from_vars(&vars(&given)).unwrap_err();
            assert!(e.to_string().contains("PIX_"), "{bad:?}: {e}");
        }
        assert!(Config::from_vars(&vars(&[("BANK_ID", "1"), ("SCHEDULE_EVERY_MS", "1")])).is_err());
    }

    #[test]
    fn defaults_follow_the_bank_id() {
        let c = Config::from_vars(&vars(&[("BANK_ID", "4")])).unwrap();
        assert_eq!(c.bank_name, "Formula");
        assert_eq!(c.bind_addr.port(), 8084);
        assert_eq!(c.data_dir, PathBuf::from("data/bank-4"));
        assert_eq!(
            (c.ring.idle_hold_ms, c.twopc.coordinator.delivery.linger_ms),
            (2, 50)
        );
        // 0 is allowed for these two: the token passed on at once, a decision sent at once.
        let c = Config::from_vars(&vars(&[
            ("BANK_ID", "4"),
            ("RING_IDLE_HOLD_MS", "0"),
            ("DECISION_LINGER_MS", "0"),
        ]))
        .unwrap();
        assert_eq!(
            (c.ring.idle_hold_ms, c.twopc.coordinator.delivery.linger_ms),
            (0, 0)
        );
    }

    #[test]
    fn bad_values_are_named() {
        for (pairs, key) in [
            (vec![], "BANK_ID is required"),
            (vec![("BANK_ID", "0")], "BANK_ID"),
            (vec![("BANK_ID", "x")], "BANK_ID"),
            (
                vec![("BANK_ID", "1"), ("BIND_ADDR", "nowhere")],
                "BIND_ADDR",
            ),
            (
                vec![("BANK_ID", "1"), ("PEERS", "2=http://a")],
                "only with MEMBERSHIP",
            ),
            (
                vec![
                    ("BANK_ID", "1"),
                    ("MEMBERSHIP", "/nonexistent/membership.json"),
                ],
                "MEMBERSHIP",
            ),
            (vec![("BANK_ID", "1"), ("BANK_NAME", "<b>")], "BANK_NAME"),
            (
                vec![
                    ("BANK_ID", "1"),
                    ("CONSORTIUM_SECRET", "0123456789abcdef0123456789abcdef"),
                ],
                "CONSORTIUM_SECRET: no longer used",
            ),
            (
                vec![("BANK_ID", "1"), ("RING_TOKEN_TIMEOUT_MS", "0")],
                "RING_TOKEN_TIMEOUT_MS",
            ),
            (
                vec![("BANK_ID", "1"), ("PEER_TIMEOUT_MS", "-5")],
                "PEER_TIMEOUT_MS",
            ),
            (
                vec![("BANK_ID", "1"), ("PUBLIC_URLS", "1=http://a")],
                "PUBLIC_URLS: no longer used",
            ),
            (
                vec![("BANK_ID", "1"), ("PACKET_BATCH", "0")],
                "PACKET_BATCH",
            ),
            (
                vec![("BANK_ID", "1"), ("PACKET_QUEUE", "lots")],
                "PACKET_QUEUE",
            ),
            (
                vec![("BANK_ID", "1"), ("PREPARE_TIMEOUT_MS", "9999999")],
                "PREPARE_TIMEOUT_MS",
            ),
            (
                vec![("BANK_ID", "1"), ("FAULT_INJECT", "crash_sometimes")],
                "FAULT_INJECT",
            ),
            (
                vec![("BANK_ID", "1"), ("OPERATOR_TOKEN", "short")],
                "OPERATOR_TOKEN",
            ),
            (
                vec![("BANK_ID", "1"), ("FAULT_DB_SPARE_PAGES", "0")],
                "FAULT_DB_SPARE_PAGES",
            ),
            (
                vec![("BANK_ID", "1"), ("DECISION_LINGER_MS", "-1")],
                "DECISION_LINGER_MS",
            ),
            (
                vec![("BANK_ID", "1"), ("RING_IDLE_HOLD_MS", "600001")],
                "RING_IDLE_HOLD_MS",
            ),
        ] {
            let err = Config::from_vars(&vars(&pairs)).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn membership_peers_and_files_parse() {
        let dir = tempfile::tempdir().unwrap();
        let key = |n: u8| {
            hex::encode(
                ed25519_dalek::SigningKey::from_bytes(&[n; 32])
                    .verifying_key()
                    .to_bytes(),
            )
        };
        let file = dir.path().join("membership.json");
        let entry = |id: u16, n: u8| {
            format!(
                r#"{{ "id": {id}, "name": "Banco {id}", "url": "http://h:{id}", "public_key": "{}", "limit_cents": 100 }}"#,
                key(n)
            )
        };
        std::fs::write(
            &file,
            format!(
                r#"{{ "banks": [{}, {}, {}] }}"#,
                entry(1, 1),
                entry(2, 2),
                entry(3, 3)
            ),
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let c = Config::from_vars(&vars(&[
            ("BANK_ID", "1"),
            ("MEMBERSHIP", path),
            ("PEERS", "2=http://127.0.0.1:8082/"),
        ]))
        .unwrap();
        assert_eq!(
            c.bank_name, "Banco 1",
            "named as the membership file names it"
        );
        assert_eq!(c.peers.len(), 3);
        assert_eq!(
            c.peers[&BankId::try_from(2).unwrap()],
            "http://127.0.0.1:8082",
            "PEERS overrides where a member is reached"
        );
        assert_eq!(c.peers[&BankId::try_from(3).unwrap()], "http://h:3");
        assert_eq!(c.key_file, PathBuf::from("data/bank-1/bank.key"));
        // The ring's timing relation, with the member count from the file.
        let err = Config::from_vars(&vars(&[
            ("BANK_ID", "1"),
            ("MEMBERSHIP", path),
            ("RING_IDLE_HOLD_MAX_MS", "100"),
            ("RING_TOKEN_TIMEOUT_MS", "300"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("3 banks x RING_IDLE_HOLD_MAX_MS 100 = 300 ms must stay below RING_TOKEN_TIMEOUT_MS 300"), "{err}");
        let ok = Config::from_vars(&vars(&[
            ("BANK_ID", "1"),
            ("MEMBERSHIP", path),
            ("RING_IDLE_HOLD_MAX_MS", "99"),
            ("RING_TOKEN_TIMEOUT_MS", "300"),
        ]))
        .unwrap();
        assert_eq!(
            ok.ring.starved_after_ms,
            3 * (2_000 + 3 * 200 + 99) + 300,
            "longer than any honest rotation"
        );
        // Unset, the token timeout grows with a rotation of longest holds, so the relation
        // holds for any number of banks.
        let grown = Config::from_vars(&vars(&[
            ("BANK_ID", "1"),
            ("MEMBERSHIP", path),
            ("RING_IDLE_HOLD_MAX_MS", "100"),
        ]))
        .unwrap();
        assert_eq!(grown.ring.token_timeout_ms, 3 * 100 + 100);
        assert_eq!(
            default_token_timeout_ms(5, 40),
            300,
            "five banks: unchanged"
        );
        assert_eq!(default_token_timeout_ms(20, 40), 900);
        // Rings over groups of members: three banks make one ring at most (two members each).
        let err = Config::from_vars(&vars(&[
            ("BANK_ID", "1"),
            ("MEMBERSHIP", path),
            ("RING_GROUPS", "2"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("RING_GROUPS") && err.contains("at most 1 for 3 banks"),
            "{err}"
        );
        let one = Config::from_vars(&vars(&[
            ("BANK_ID", "2"),
            ("MEMBERSHIP", path),
            ("RING_GROUPS", "1"),
        ]))
        .unwrap();
        assert_eq!(one.ring.members.len(), 3);
        let err = Config::from_vars(&vars(&[("BANK_ID", "4"), ("MEMBERSHIP", path)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("bank 4 is not a member"), "{err}");
        let err = Config::from_vars(&vars(&[
            ("BANK_ID", "1"),
            ("MEMBERSHIP", path),
            ("PEERS", "7=http://x"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("bank 7 is not in the membership file"),
            "{err}"
        );
        assert_eq!(
            parse_file("# c\nA=1\n\nB = two\n").unwrap(),
            vec![("A".into(), "1".into()), ("B".into(), "two".into())]
        );
        assert!(parse_file("nonsense").is_err());
    }
}
