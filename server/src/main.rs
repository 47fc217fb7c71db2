//! `bank-node`: one bank of the consortium. Configuration: see `server::config`.
//!
//! `bank-node keygen` creates this bank's signing key and prints its public key; `bank-node pubkey`
//! prints the public key of the existing one. `bank-node evidence <tx>` prints and verifies the
//! signed messages this bank kept about a transaction.
//!
//! `bank-node healthcheck` instead asks the bank listening on `BIND_ADDR` (default
//! `127.0.0.1:808<BANK_ID>`) for `GET /healthz` and exits 0 on a 200, 1 otherwise: the health
//! check of the Docker image, which has no shell or curl (`FROM scratch`).

#[cfg(not(target_env = "musl"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => serve(),
        Some("healthcheck") => healthcheck(),
        Some("keygen") => keygen(&args[1..], true),
        Some("evidence") => evidence(&args[1..]),
        Some("pubkey") => keygen(&args[1..], false),
        Some(other) => {
            eprintln!("bank-node: unknown command '{other}'; commands: keygen, pubkey, evidence, healthcheck (none: serve)");
            ExitCode::from(2)
        }
    }
}

/// `bank-node evidence <tx id>`: every signed message this bank kept about the transaction, each
/// with whether its signature holds, by the membership file (`MEMBERSHIP`) and the evidence in
/// `DATA_DIR` (the bank's configuration, as for serving: `BANK_CONFIG` works too).
fn evidence(args: &[String]) -> ExitCode {
    let Some(tx) = args.first().and_then(|t| domain::TxId::parse(t).ok()) else {
        eprintln!("bank-node: usage: bank-node evidence <transaction id>");
        return ExitCode::from(2);
    };
    let config = match server::config::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bank-node: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(membership) = config.membership else {
        eprintln!(
            "bank-node: set MEMBERSHIP: signatures are checked against the members' public keys"
        );
        return ExitCode::from(2);
    };
    match server::evidence::report(&tx, &config.data_dir, &membership) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bank-node: {e}");
            ExitCode::from(1)
        }
    }
}

/// `bank-node keygen [KEY_FILE]` creates this bank's signing key (refusing to overwrite one) and
/// prints its public key, for the membership file; `bank-node pubkey [KEY_FILE]` prints the public
/// key of the existing one. The key file defaults to `KEY_FILE`, else `DATA_DIR/bank.key`, else
/// `data/bank-<BANK_ID>/bank.key`.
fn keygen(args: &[String], create: bool) -> ExitCode {
    let env = |k: &str| {
        std::env::var(k)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let path = match (
        args.first(),
        env("KEY_FILE"),
        env("DATA_DIR"),
        env("BANK_ID"),
    ) {
        (Some(p), ..) => std::path::PathBuf::from(p),
        (None, Some(p), ..) => p.into(),
        (None, None, Some(d), _) => std::path::Path::new(&d).join(server::identity::KEY_FILE_NAME),
        (None, None, None, Some(id)) => std::path::PathBuf::from(format!("data/bank-{id}"))
            .join(server::identity::KEY_FILE_NAME),
        (None, None, None, None) => {
            eprintln!("bank-node: give the key file, or set KEY_FILE, DATA_DIR or BANK_ID");
            return ExitCode::from(2);
        }
    };
    let key = if create {
        server::identity::BankKey::create(&path)
    } else {
        std::fs::read_to_string(&path)
            .map_err(|e| format!("reading {}: {e}", path.display()))
            .and_then(|_| server::identity::BankKey::load_or_create(&path))
    };
    match key {
        Ok(key) => {
            println!("{}", key.public_hex());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bank-node: {e}");
            ExitCode::from(1)
        }
    }
}

#[tokio::main]
async fn serve() -> ExitCode {
    // Logs go to stderr: stdout carries only the "listening on" line scripts and tests wait for.
    // LOG_FORMAT=json: one JSON object per line, for log shippers; anything else: text.
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        logs.json().init();
    } else {
        logs.init();
    }
    let config = match server::config::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bank-node: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.bind_addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bank-node: cannot listen on {}: {e}", config.bind_addr);
            return ExitCode::from(1);
        }
    };
    match server::run(config, listener, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bank-node: {e}");
            ExitCode::from(1)
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM (what `docker stop` sends).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// A plain HTTP/1.0 `GET /healthz` to this machine's bank, 2 s at most in all.
fn healthcheck() -> ExitCode {
    match probe_healthz() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bank-node healthcheck: {e}");
            ExitCode::from(1)
        }
    }
}

fn probe_healthz() -> Result<(), String> {
    let env = |k: &str| {
        std::env::var(k)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut addr: SocketAddr = match (env("BIND_ADDR"), env("BANK_ID")) {
        (Some(a), _) => a.parse().map_err(|e| format!("BIND_ADDR '{a}': {e}"))?,
        (None, Some(id)) => {
            let id: u16 = id.parse().map_err(|e| format!("BANK_ID '{id}': {e}"))?;
            SocketAddr::from(([127, 0, 0, 1], 8080u16.saturating_add(id)))
        }
        (None, None) => return Err("set BIND_ADDR or BANK_ID".into()),
    };
    // A bank listening on every interface is asked on loopback.
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        IpAddr::V6(ip) if ip.is_unspecified() => addr.set_ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        _ => {}
    }
    let timeout = Duration::from_secs(2);
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET /healthz HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("{addr}: {e}"))?;
    // The status line is all that matters; read at most a small head of the answer.
    let mut head = Vec::with_capacity(256);
    stream
        .take(256)
        .read_to_end(&mut head)
        .map_err(|e| format!("{addr}: {e}"))?;
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or("");
    match status_line.split_whitespace().nth(1) {
        Some("200") if status_line.starts_with("HTTP/1.") => Ok(()),
        _ => Err(format!("{addr}: answered '{status_line}'")),
    }
}
