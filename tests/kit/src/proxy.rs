//! A fault-injecting TCP proxy on loopback, between devices and a relay.
//!
//! Each accepted connection gets one fate, drawn from a seeded generator: passed through
//! untouched, delayed, dropped before anything is forwarded, reset (TCP RST) after the request
//! went upstream, its response truncated, or its request cut off half-way. [`FaultProxy::calm`]
//! turns the faults off (every connection passes) so a test can let the devices converge.

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
    /// The request went upstream; then the device's side was reset (RST) before any answer.
    Reset,
    /// The answer was cut off after a random number of bytes.
    TruncateResponse,
    /// The request was cut off after a random number of bytes; the relay saw half a request.
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
    calm: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    counts: Arc<[AtomicU64; 6]>,
    addr: SocketAddr,
}

impl FaultProxy {
    /// Proxies to `upstream` (`127.0.0.1:PORT`); a connection is faulty with probability
    /// `fault_percent`/100, its fate then uniform over the five faults.
    pub fn start(upstream: SocketAddr, fault_percent: u64, seed: u64) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let calm = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let counts: Arc<[AtomicU64; 6]> = Arc::new(Default::default());
        let rng = Arc::new(Mutex::new(seed));
        let (c, s, n) = (Arc::clone(&calm), Arc::clone(&stop), Arc::clone(&counts));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(down) = conn else { continue };
                let (roll, extra) = {
                    let mut r = rng.lock().unwrap_or_else(|e| e.into_inner());
                    (next(&mut r), next(&mut r))
                };
                let fate = if c.load(Ordering::Relaxed) || roll % 100 >= fault_percent {
                    Fate::Pass
                } else {
                    FATES[1 + (roll / 100 % 5) as usize]
                };
                n[fate as usize].fetch_add(1, Ordering::Relaxed);
                std::thread::spawn(move || serve(down, upstream, fate, extra));
            }
        });
        FaultProxy { url: format!("http://{addr}"), calm, stop, counts, addr }
    }

    /// Turns the faults off (`true`) or on again.
    pub fn calm(&self, calm: bool) {
        self.calm.store(calm, Ordering::Relaxed);
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

fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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

fn serve(down: TcpStream, upstream: SocketAddr, fate: Fate, extra: u64) {
    let _ = down.set_read_timeout(Some(Duration::from_secs(30)));
    match fate {
        Fate::Drop => {
            let _ = down.shutdown(Shutdown::Both);
            return;
        }
        Fate::Delay => std::thread::sleep(Duration::from_millis(50 + extra % 750)),
        _ => {}
    }
    let Ok(up) = TcpStream::connect(upstream) else {
        reset(down); // the relay is down: the device sees a reset, as it would
        return;
    };
    let _ = up.set_read_timeout(Some(Duration::from_secs(30)));
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
