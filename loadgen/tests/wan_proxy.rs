//! The WAN proxy, run as the benchmark runs it: bytes go through unchanged, in order, both ways,
//! with loss on, and no sooner than the link's delay allows (a lower bound: a slow box only
//! makes it later).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the proxy from `listen` to `target`, and waits for its line saying it listens.
fn proxy(listen: SocketAddr, target: SocketAddr, args: &[&str]) -> Proxy {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wan-proxy"))
        .arg("--route")
        .arg(format!("{listen}={target}"))
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("wan-proxy starts");
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("1 routes"), "{line}");
    Proxy(child)
}

/// An echo server: every byte read is written back.
async fn echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (r, w) = s.into_split();
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    if r.readable().await.is_err() {
                        return;
                    }
                    let n = match r.try_read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                        Err(_) => return,
                    };
                    write_all(&w, &buf[..n]).await;
                }
            });
        }
    });
    addr
}

async fn write_all(w: &tokio::net::tcp::OwnedWriteHalf, mut data: &[u8]) {
    while !data.is_empty() {
        w.writable().await.unwrap();
        match w.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
}

async fn read_exact(r: &tokio::net::tcp::OwnedReadHalf, out: &mut [u8]) {
    let mut got = 0;
    while got < out.len() {
        r.readable().await.unwrap();
        match r.try_read(&mut out[got..]) {
            Ok(0) => panic!("closed after {got} bytes"),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test]
async fn bytes_cross_unchanged_in_order_and_no_sooner_than_the_delay() {
    let target = echo().await;
    // A free port for the proxy: bound, then released for it.
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let _proxy = proxy(
        listen,
        target,
        &[
            "--delay-ms",
            "30",
            "--jitter-ms",
            "5",
            "--loss",
            "0.05",
            "--seed",
            "9",
        ],
    );
    let stream = TcpStream::connect(listen).await.unwrap();
    let (r, w) = stream.into_split();

    // One small round trip: there and back, at least twice the delay less the jitter.
    let start = Instant::now();
    write_all(&w, b"ping").await;
    let mut pong = [0u8; 4];
    read_exact(&r, &mut pong).await;
    let rtt = start.elapsed();
    assert_eq!(&pong, b"ping");
    assert!(rtt >= Duration::from_millis(50), "{rtt:?}");

    // A megabyte of numbered bytes, with 5 % of chunks lost and sent late: all back, in order.
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let sent = data.clone();
    let writer = tokio::spawn(async move { write_all(&w, &sent).await });
    let mut back = vec![0u8; data.len()];
    read_exact(&r, &mut back).await;
    writer.await.unwrap();
    assert!(back == data, "the bytes came back unchanged and in order");
    eprintln!("round trip through the proxy at 30 ms one way: {rtt:?}");
}
