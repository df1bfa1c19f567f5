//! [`Proxy`]: a TCP proxy on a free loopback port in front of one server, so a test can cut,
//! stall and slow the link a process under test depends on, as a network would.
//!
//! Each accepted connection gets its own connection to the upstream server and two threads that
//! copy bytes, one each way. [`Proxy::cut`] closes every open connection (new ones go through);
//! [`Proxy::stall`] keeps connections open but passes nothing, either way, on old and new ones
//! alike, until [`Proxy::open`]; [`Proxy::slow`] holds every chunk of up to 16 KiB for a while.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a copying thread that waits looks at the proxy's state again.
const TICK: Duration = Duration::from_millis(10);

/// How bytes pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Open,
    Stalled,
    /// Every chunk waits this long before it is passed on.
    Slow(Duration),
}

struct Shared {
    upstream: String,
    flow: Mutex<Flow>,
    /// Both sockets of each open connection, to close them on a cut.
    links: Mutex<HashMap<u64, [TcpStream; 2]>>,
    next: AtomicU64,
    stop: AtomicBool,
}

/// A proxy in front of `upstream`; stops, closing every connection, on `Drop`.
pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards each connection to `upstream`
    /// (`host:port`), which need not be up yet: a connection it refuses is closed.
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy's port");
        let port = listener.local_addr().expect("the proxy's address").port();
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            flow: Mutex::new(Flow::Open),
            links: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let accepting = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("proxy-{port}"))
            .spawn(move || accept(&listener, &accepting))
            .expect("start the proxy thread");
        Proxy { port, shared }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr())
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.next.load(Ordering::Relaxed)
    }

    /// Closes every open connection, both ways, at once; new connections go through.
    pub fn cut(&self) {
        let links: Vec<[TcpStream; 2]> = self.links().drain().map(|(_, link)| link).collect();
        for [client, server] in links {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
    }

    /// Connections stay open and new ones are accepted, but no byte passes until
    /// [`Proxy::open`].
    pub fn stall(&self) {
        self.set(Flow::Stalled);
    }

    /// Every chunk of up to 16 KiB waits `delay` before it is passed on.
    pub fn slow(&self, delay: Duration) {
        self.set(Flow::Slow(delay));
    }

    /// Bytes pass freely again.
    pub fn open(&self) {
        self.set(Flow::Open);
    }

    fn set(&self, flow: Flow) {
        *self.shared.flow.lock().unwrap_or_else(|p| p.into_inner()) = flow;
    }

    fn links(&self) -> std::sync::MutexGuard<'_, HashMap<u64, [TcpStream; 2]>> {
        self.shared.links.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        // Wake the accepting thread, which then sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        self.open();
        self.cut();
    }
}

fn accept(listener: &TcpListener, shared: &Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(client) = client else { continue };
        let Ok(server) = TcpStream::connect(&shared.upstream) else {
            continue;
        };
        let id = shared.next.fetch_add(1, Ordering::Relaxed);
        let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
            continue;
        };
        if let (Ok(c3), Ok(s3)) = (client.try_clone(), server.try_clone()) {
            shared
                .links
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, [c3, s3]);
        }
        for (from, to) in [(client, s2), (server, c2)] {
            let shared = Arc::clone(shared);
            let _ = std::thread::Builder::new()
                .name(format!("proxy-link-{id}"))
                .spawn(move || pump(from, to, id, &shared));
        }
    }
}

/// Copies `from` to `to` until either side closes or the link is cut, obeying the flow.
fn pump(mut from: TcpStream, mut to: TcpStream, id: u64, shared: &Shared) {
    let _ = from.set_read_timeout(Some(TICK * 10));
    let mut buf = vec![0u8; 16 << 10];
    let alive = || {
        !shared.stop.load(Ordering::Relaxed)
            && shared
                .links
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(&id)
    };
    loop {
        // Nothing is read while stalled, so TCP pushes back on the sender too.
        while flow(shared) == Flow::Stalled {
            if !alive() {
                return close(&from, &to, id, shared);
            }
            std::thread::sleep(TICK);
        }
        let n = match from.read(&mut buf) {
            Ok(0) => return close(&from, &to, id, shared),
            Ok(n) => n,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if !alive() {
                    return close(&from, &to, id, shared);
                }
                continue;
            }
            Err(_) => return close(&from, &to, id, shared),
        };
        loop {
            match flow(shared) {
                Flow::Open => break,
                Flow::Slow(delay) => {
                    std::thread::sleep(delay);
                    break;
                }
                Flow::Stalled if alive() => std::thread::sleep(TICK),
                Flow::Stalled => return close(&from, &to, id, shared),
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            return close(&from, &to, id, shared);
        }
    }
}

fn flow(shared: &Shared) -> Flow {
    *shared.flow.lock().unwrap_or_else(|p| p.into_inner())
}

/// Closes both sockets of the link and forgets it.
fn close(from: &TcpStream, to: &TcpStream, id: u64, shared: &Shared) {
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
    shared
        .links
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id);
}
