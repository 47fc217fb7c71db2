//! A delay-injecting TCP proxy: a wide-area network between banks on one box (issue 30), where
//! `tc netem` is not available. Each `--route LISTEN=TARGET` accepts connections on `LISTEN`
//! and forwards them to `TARGET`, delaying every chunk of bytes, in each direction, by the
//! one-way delay plus a jitter; a chunk "lost" (probability `--loss`) arrives a retransmission
//! timeout later, as TCP would deliver it. Order and content are kept: it is a slow network,
//! not a corrupting one. Point a bank's peers (the membership file's URLs) at the proxy's
//! listening ports.
//!
//! usage: wan-proxy --route 127.0.0.1:19181=127.0.0.1:18181 [--route ...]
//!                  [--delay-ms 10] [--jitter-ms 2] [--loss 0.01] [--rto-ms 200] [--seed 1]

use loadgen::wan::{Link, Schedule};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Bytes read at most per chunk; and chunks in flight per direction (the rest waits in the
/// sender's socket buffer: back-pressure, bounded memory).
const CHUNK_MAX: usize = 64 * 1024;
const IN_FLIGHT_MAX: usize = 64;

struct Options {
    routes: Vec<(SocketAddr, SocketAddr)>,
    link: Link,
    seed: u64,
}

fn usage() -> ! {
    eprintln!(
        "usage: wan-proxy --route LISTEN=TARGET [--route ...] [--delay-ms N] [--jitter-ms N] \
         [--loss P] [--rto-ms N] [--seed N]"
    );
    std::process::exit(2)
}

fn parse() -> Options {
    let mut options = Options {
        routes: Vec::new(),
        link: Link::default(),
        seed: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        let number = |v: &str| v.parse::<u64>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--route" => {
                let (listen, target) = value.split_once('=').unwrap_or_else(|| usage());
                let listen = listen.parse().unwrap_or_else(|_| usage());
                let target = target.parse().unwrap_or_else(|_| usage());
                options.routes.push((listen, target));
            }
            "--delay-ms" => options.link.delay_ms = number(&value),
            "--jitter-ms" => options.link.jitter_ms = number(&value),
            "--rto-ms" => options.link.rto_ms = number(&value),
            "--loss" => {
                options.link.loss = value
                    .parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=0.5).contains(p))
                    .unwrap_or_else(|| usage())
            }
            "--seed" => options.seed = number(&value),
            _ => usage(),
        }
    }
    if options.routes.is_empty() || options.link.check().is_err() {
        usage();
    }
    options
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = parse();
    let mut seed = options.seed;
    let mut servers = Vec::new();
    for (listen, target) in options.routes {
        let listener = match TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("wan-proxy: cannot listen on {listen}: {e}");
                std::process::exit(1);
            }
        };
        let link = options.link;
        seed = seed.wrapping_add(1);
        let base = seed;
        servers.push(tokio::spawn(async move {
            let mut n = 0u64;
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                n += 1;
                // Each direction of each connection has its own seeded schedule.
                let seeds = (base.wrapping_mul(1_000_003) ^ n, base ^ n.rotate_left(17));
                tokio::spawn(proxy(client, target, link, seeds));
            }
        }));
    }
    eprintln!(
        "wan-proxy: {} routes, one way {} ms ± {} ms, loss {} (retransmitted after {} ms)",
        servers.len(),
        options.link.delay_ms,
        options.link.jitter_ms,
        options.link.loss,
        options.link.rto_ms
    );
    for s in servers {
        let _ = s.await;
    }
}

/// One connection: to the target, then both directions delayed until either side closes.
async fn proxy(client: TcpStream, target: SocketAddr, link: Link, seeds: (u64, u64)) {
    let Ok(Ok(server)) =
        tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(target)).await
    else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = tokio::spawn(pipe(
        client_read,
        server_write,
        Schedule::new(link, seeds.0),
    ));
    let down = tokio::spawn(pipe(
        server_read,
        client_write,
        Schedule::new(link, seeds.1),
    ));
    let _ = tokio::join!(up, down);
}

/// Reads chunks as they come and writes each at its scheduled time, in order.
async fn pipe(
    from: tokio::net::tcp::OwnedReadHalf,
    to: tokio::net::tcp::OwnedWriteHalf,
    mut schedule: Schedule,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT_MAX);
    let start = Instant::now();
    let reader = tokio::spawn(async move {
        loop {
            if from.readable().await.is_err() {
                return;
            }
            let mut buf = vec![0u8; CHUNK_MAX];
            match from.try_read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    let now_ms = start.elapsed().as_millis() as u64;
                    let at = start + Duration::from_millis(schedule.deliver_at(now_ms));
                    if tx.send((at, buf)).await.is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            }
        }
    });
    while let Some((at, chunk)) = rx.recv().await {
        tokio::time::sleep_until(at).await;
        let mut sent = 0;
        while sent < chunk.len() {
            if to.writable().await.is_err() {
                reader.abort();
                return;
            }
            match to.try_write(&chunk[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => {
                    reader.abort();
                    return;
                }
            }
        }
    }
    // The reader saw the end: the other side's write half closes when `to` is dropped here.
}
