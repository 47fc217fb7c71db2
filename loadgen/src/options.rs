//! The command line: the flags loadgen takes, their defaults, and the checks on them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const USAGE: &str = "\
usage: loadgen --banks URL1,URL2,URL3,URL4,URL5 [options]
  --banks LIST            the banks' base URLs, bank ids 1..=N in order (required, N >= 2)
  --accounts N            accounts opened at each bank (default 10; at least 2)
  --clients C             concurrent clients (default 8)
  --duration-secs S       run the workload for S seconds (default 10) ...
  --ops K                 ... or for K operations in all
  --json PATH             also write the results as JSON to PATH
  --mix D,I,X,P           weights of deposit, intra-bank Pix, inter-bank Pix, packet (default 1,1,1,1)
  --retries R             re-sends of the same id after a 503 or transport error (default 4)
  --setup-concurrency M   parallel account openings / logins (Argon2 is slow; default 4)
  --settle-secs T         how long to wait for the banks to settle before the audit (default 30)
  --seed X                random seed (default: from the clock)
  --label TEXT            a name for this run, copied into the report";

#[derive(Clone, Debug)]
pub struct Args {
    pub banks: Vec<String>,
    pub accounts: usize,
    pub clients: usize,
    pub duration: Option<Duration>,
    pub ops: Option<u64>,
    pub json: Option<String>,
    pub mix: [u32; 4],
    pub retries: u32,
    pub setup_concurrency: usize,
    pub settle: Duration,
    pub seed: u64,
    pub label: Option<String>,
}

/// The defaults, the seed from the clock.
impl Default for Args {
    fn default() -> Args {
        Args {
            banks: Vec::new(),
            accounts: 10,
            clients: 8,
            duration: None,
            ops: None,
            json: None,
            mix: [1, 1, 1, 1],
            retries: 4,
            setup_concurrency: 4,
            settle: Duration::from_secs(30),
            seed: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1),
            label: None,
        }
    }
}

/// The options from the command line (without the program name). `Err("")` asks for the usage
/// text alone (`--help`); any other `Err` says what is wrong.
pub fn parse_args(argv: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = argv.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        set(&mut args, &flag, value)?;
    }
    check(args)
}

fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{flag}: not a number: {v}"))
}

/// Sets the option `flag` from its value, which is only taken once the flag is known.
fn set(
    args: &mut Args,
    flag: &str,
    value: impl FnOnce() -> Result<String, String>,
) -> Result<(), String> {
    match flag {
        "--banks" => {
            args.banks = value()?
                .split(',')
                .map(|s| s.trim().trim_end_matches('/').to_string())
                .filter(|s| !s.is_empty())
                .collect()
        }
        "--accounts" => args.accounts = num(flag, value()?)?,
        "--clients" => args.clients = num(flag, value()?)?,
        "--duration-secs" => {
            args.duration = Some(Duration::from_secs_f64(num::<f64>(flag, value()?)?))
        }
        "--ops" => args.ops = Some(num(flag, value()?)?),
        "--json" => args.json = Some(value()?),
        "--retries" => args.retries = num(flag, value()?)?,
        "--setup-concurrency" => args.setup_concurrency = num(flag, value()?)?,
        "--settle-secs" => args.settle = Duration::from_secs_f64(num::<f64>(flag, value()?)?),
        "--seed" => args.seed = num(flag, value()?)?,
        "--label" => args.label = Some(value()?),
        "--mix" => {
            let v = value()?;
            let w: Vec<u32> = v
                .split(',')
                .map(|p| num(flag, p.to_string()))
                .collect::<Result<_, _>>()?;
            if w.len() != 4 || w.iter().all(|&x| x == 0) {
                return Err("--mix takes four weights, not all zero".into());
            }
            args.mix = [w[0], w[1], w[2], w[3]];
        }
        other => return Err(format!("unknown argument: {other}")),
    }
    Ok(())
}

/// The checks across options, and the default run length (10 s) when none was given.
fn check(mut args: Args) -> Result<Args, String> {
    if !(2..=usize::from(domain::BankId::MAX)).contains(&args.banks.len()) {
        return Err(format!(
            "--banks needs 2 to {} URLs, got {}",
            domain::BankId::MAX,
            args.banks.len()
        ));
    }
    if args.accounts < 2 {
        return Err(
            "--accounts must be at least 2 (packets need people with accounts at two banks)".into(),
        );
    }
    if args.clients == 0 || args.setup_concurrency == 0 {
        return Err("--clients and --setup-concurrency must be positive".into());
    }
    if args.duration.is_some() && args.ops.is_some() {
        return Err("give --duration-secs or --ops, not both".into());
    }
    if args.duration.is_none() && args.ops.is_none() {
        args.duration = Some(Duration::from_secs(10));
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args() {
        let a = parse_args(
            "--banks a,b,c,d,e --accounts 4 --clients=3 --ops 7"
                .split(' ')
                .map(String::from),
        )
        .unwrap();
        assert_eq!(
            (a.accounts, a.clients, a.ops, a.duration),
            (4, 3, Some(7), None)
        );
        assert!(parse_args("--banks a --ops 1".split(' ').map(String::from)).is_err());
        let two = parse_args("--banks a,b --ops 1".split(' ').map(String::from)).unwrap();
        assert_eq!(two.banks.len(), 2);
        let many = (0..201)
            .map(|i| format!("u{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_args(["--banks".to_string(), many]).is_err());
    }
}
