//! A fault-injecting TCP proxy on loopback, between devices and a relay.
//!
//! Each accepted connection gets one fate, drawn from a seeded generator: passed through
//! untouched, delayed, dropped before anything is forwarded, reset (TCP RST) after the first
//! bytes of its request went upstream, or cut off after a random number of bytes of what the
//! relay answers or of what the device sends (counted over the connection, which may carry
//! several requests). While the relay is down, every connection is reset once it fails to
//! reach it ([`FaultProxy::relay_down`] counts those).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What happened to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fate {
    /// Forwarded both ways untouched.
    Pass,
    /// Forwarded after a delay of 50–800 ms.
    Delay,
    /// Closed before anything was forwarded.
    Drop,
    /// The first bytes of the request (one read) went upstream; then the device's side was reset
    /// (RST) before any answer.
    Reset,
    /// What the relay sent on the connection was cut off after 1–2,000 bytes.
    TruncateResponse,
    /// What the device sent on the connection was cut off after 1–600 bytes.
    TruncateRequest,
}

const FATES: [Fate; 6] = [
    Fate::Pass,
    Fate::Delay,
    Fate::Drop,
    Fate::Reset,
    Fate::TruncateResponse,
    Fate::TruncateRequest,
];

/// The proxy; stops accepting when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, to give devices instead of the relay's own URL.
    pub url: String,
    stop: Arc<AtomicBool>,
    counts: Arc<[AtomicU64; 6]>,
    down: Arc<AtomicU64>,
    addr: SocketAddr,
}

impl FaultProxy {
    /// Proxies to `upstream` (`127.0.0.1:PORT`); a connection is faulty with probability
    /// `fault_percent`/100, its fate then uniform over the five faults.
    pub fn start(upstream: SocketAddr, fault_percent: u64, seed: u64) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let stop = Arc::new(AtomicBool::new(false));
        let counts: Arc<[AtomicU64; 6]> = Arc::new(Default::default());
        let down = Arc::new(AtomicU64::new(0));
        let rng = Arc::new(Mutex::new(crate::SplitMix(seed)));
        let (s, n, d) = (Arc::clone(&stop), Arc::clone(&counts), Arc::clone(&down));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else {
                    std::thread::sleep(Duration::from_millis(10)); // out of descriptors, say
                    continue;
                };
                let (roll, extra) = {
                    let mut r = rng.lock().unwrap_or_else(|e| e.into_inner());
                    (r.next(), r.next())
                };
                let fate = if roll % 100 >= fault_percent {
                    Fate::Pass
                } else {
                    FATES[1 + (roll / 100 % 5) as usize]
                };
                n[fate as usize].fetch_add(1, Ordering::Relaxed);
                let d = Arc::clone(&d);
                std::thread::spawn(move || serve(conn, upstream, fate, extra, &d));
            }
        });
        FaultProxy { url: format!("http://{addr}"), stop, counts, down, addr }
    }

    /// How many connections found the relay down (and were reset), whatever their fate.
    pub fn relay_down(&self) -> u64 {
        self.down.load(Ordering::Relaxed)
    }

    /// How many connections met each fate so far.
    pub fn fates(&self) -> Vec<(Fate, u64)> {
        FATES.iter().map(|f| (*f, self.counts[*f as usize].load(Ordering::Relaxed))).collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr); // wake the accept loop
    }
}

/// Copies `from` to `to` until EOF or `limit` bytes, then shuts `to`'s writing side.
fn pump(mut from: TcpStream, mut to: TcpStream, limit: Option<u64>) {
    let mut buf = [0u8; 16 * 1024];
    let mut left = limit.unwrap_or(u64::MAX);
    while left > 0 {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n.min(usize::try_from(left).unwrap_or(usize::MAX)),
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        left -= n as u64;
    }
    if limit.is_some() {
        // Cut off: close both sides so neither end waits for the rest.
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    } else {
        let _ = to.shutdown(Shutdown::Write);
    }
}

fn serve(down: TcpStream, upstream: SocketAddr, fate: Fate, extra: u64, relay_down: &AtomicU64) {
    let _ = down.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = down.set_write_timeout(Some(Duration::from_secs(30)));
    match fate {
        Fate::Drop => {
            let _ = down.shutdown(Shutdown::Both);
            return;
        }
        Fate::Delay => std::thread::sleep(Duration::from_millis(50 + extra % 750)),
        _ => {}
    }
    let Ok(up) = TcpStream::connect(upstream) else {
        relay_down.fetch_add(1, Ordering::Relaxed);
        reset(down); // the relay is down: the device sees a reset, as it would
        return;
    };
    let _ = up.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = up.set_write_timeout(Some(Duration::from_secs(30)));
    let (Ok(down2), Ok(up2)) = (down.try_clone(), up.try_clone()) else { return };
    match fate {
        Fate::Reset => {
            // Forward the first request's bytes, then reset the device's side.
            let mut buf = [0u8; 64 * 1024];
            let mut d = &down;
            if let Ok(n) = d.read(&mut buf) {
                let _ = (&up).write_all(&buf[..n]);
            }
            std::thread::sleep(Duration::from_millis(extra % 50));
            drop(down2);
            reset(down);
            let _ = up.shutdown(Shutdown::Both);
        }
        Fate::TruncateRequest => {
            let limit = 1 + extra % 600;
            let t = std::thread::spawn(move || pump(up2, down2, None));
            pump(down, up, Some(limit));
            let _ = t.join();
        }
        Fate::TruncateResponse => {
            let limit = 1 + extra % 2_000;
            let t = std::thread::spawn(move || pump(down2, up2, None));
            pump(up, down, Some(limit));
            let _ = t.join();
        }
        Fate::Pass | Fate::Delay | Fate::Drop => {
            let t = std::thread::spawn(move || pump(down2, up2, None));
            pump(up, down, None);
            let _ = t.join();
        }
    }
}

/// Closes `s` (its last handle) with a TCP reset (linger 0) instead of an orderly FIN.
fn reset(s: TcpStream) {
    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
    drop(s);
}
