//! A constant-rate HTTPS load generator for the admission benches (`bench/admission.sh`).
//!
//! Request `i` is due at `start + i / rate`. Each of `-c` keep-alive TLS connections (all
//! opened before the clock starts) has its own thread: it takes the next request number,
//! sleeps until it is due, sends it and reads the whole answer. A request's latency counts
//! from when it was due, so time spent waiting for a busy connection is charged to the
//! server (the coordinated-omission correction of `oha --latency-correction` and wrk2).
//!
//! Results go into arrays allocated and touched before the clock starts, one slot per
//! request, so nothing grows while requests are timed. `oha` keeps a vector of results
//! that doubles as it fills; each doubling stalls it (at 65,536, 131,072, 262,144 and
//! 524,288 requests: up to 97 ms at 10,000 req/s on 2 cores, the same on `GET /healthz`),
//! and those stalls showed in its p99.9 over a million requests.
//!
//! ```text
//! loadgen --cacert CA.pem -c 32 -q 10000 (-n 1000000 | -z 20) [-m POST] [-T TYPE] [-D FILE]
//!         [--csv OUT] https://127.0.0.1:PORT/PATH
//! ```
//!
//! Answers must carry `Content-Length` (the server's do); any other answer, a read error or a
//! closed connection counts as a failed request, and the connection is opened again.
//!
//! It prints one line: the count, the rate achieved, p50, p99, p99.9 and the maximum (ms),
//! and fails (exit 2) when no request was answered 200.
//! `--csv` writes `request-start,request-duration,status` per request (seconds from the
//! start; `status` 0 for a failed request), the columns of `oha --output-format csv`.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// Failed requests whose error was printed (the first few).
static FAILURES_SHOWN: AtomicUsize = AtomicUsize::new(0);

type Fallible<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// What to send, how often and over how many connections.
struct Plan {
    host: String,
    port: u16,
    request: Vec<u8>,
    tls: Arc<rustls::ClientConfig>,
    connections: usize,
    rate: f64,
    total: usize,
    csv: Option<String>,
}

/// One slot per request: microseconds from due to answered, and the HTTP status.
struct Results {
    micros: Vec<AtomicU32>,
    status: Vec<AtomicU16>,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("loadgen: {e}");
        std::process::exit(2);
    }
}

fn run() -> Fallible<()> {
    let plan = parse_args(std::env::args().skip(1).collect())?;
    let results = Arc::new(Results {
        // Written (not just allocated) so that no page is first touched while timing.
        micros: (0..plan.total).map(|_| AtomicU32::new(u32::MAX)).collect(),
        status: (0..plan.total).map(|_| AtomicU16::new(0)).collect(),
    });
    let next = Arc::new(AtomicUsize::new(0));
    let ready = Arc::new(Barrier::new(plan.connections + 1));
    let plan = Arc::new(plan);
    let start = Arc::new(std::sync::OnceLock::<Instant>::new());
    let mut threads = Vec::new();
    for _ in 0..plan.connections {
        let (plan, results, next, ready, start) = (
            Arc::clone(&plan),
            Arc::clone(&results),
            Arc::clone(&next),
            Arc::clone(&ready),
            Arc::clone(&start),
        );
        threads.push(std::thread::spawn(move || -> Fallible<()> {
            let mut conn = connect(&plan);
            ready.wait();
            let start = *start.wait();
            let period = 1e9 / plan.rate;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= plan.total {
                    return Ok(());
                }
                let due = start + Duration::from_nanos((i as f64 * period) as u64);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                let status = match conn
                    .as_mut()
                    .map_err(|e| e.to_string().into())
                    .and_then(|c| exchange(c, &plan.request))
                {
                    Ok(status) => status,
                    Err(e) => {
                        if FAILURES_SHOWN.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("loadgen: request {i}: {e}");
                        }
                        0
                    }
                };
                let micros = due.elapsed().as_micros().min(u128::from(u32::MAX - 1)) as u32;
                results.micros[i].store(micros, Ordering::Relaxed);
                results.status[i].store(status, Ordering::Relaxed);
                if status == 0 {
                    conn = connect(&plan);
                }
            }
        }));
    }
    ready.wait();
    let began = Instant::now() + Duration::from_millis(20);
    start.set(began).map_err(|_| "start set twice")?;
    for t in threads {
        t.join().map_err(|_| "a connection thread panicked")??;
    }
    let span = began.elapsed().as_secs_f64();
    report(&plan, &results, span)
}

/// A keep-alive TLS connection to the target.
type Conn = BufReader<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>;

fn connect(plan: &Plan) -> Fallible<Conn> {
    let tcp = TcpStream::connect((plan.host.as_str(), plan.port))?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(plan.host.clone())?;
    let tls = rustls::ClientConnection::new(Arc::clone(&plan.tls), name)?;
    let mut stream = rustls::StreamOwned::new(tls, tcp);
    // Finish the handshake now, not inside the first timed request.
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(BufReader::new(stream))
}

/// Send one request and read the whole answer; its status.
fn exchange(conn: &mut Conn, request: &[u8]) -> Fallible<u16> {
    let stream = conn.get_mut();
    stream.write_all(request)?;
    stream.flush()?;
    let mut line = String::new();
    conn.read_line(&mut line)?;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP status line: {line:?}"))?;
    let mut length = None;
    loop {
        line.clear();
        if conn.read_line(&mut line)? == 0 {
            return Err("connection closed in the headers".into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = Some(value.trim().parse::<u64>()?);
        }
    }
    let length = length.ok_or("an answer without Content-Length")?;
    std::io::copy(&mut conn.by_ref().take(length), &mut std::io::sink())?;
    Ok(status)
}

fn report(plan: &Plan, results: &Results, span: f64) -> Fallible<()> {
    let period = 1.0 / plan.rate;
    let mut ok: Vec<u32> = Vec::with_capacity(plan.total);
    let mut out = match &plan.csv {
        Some(path) => {
            let mut w = BufWriter::new(std::fs::File::create(path)?);
            writeln!(w, "request-start,request-duration,status")?;
            Some(w)
        }
        None => None,
    };
    for i in 0..plan.total {
        let micros = results.micros[i].load(Ordering::Relaxed);
        let status = results.status[i].load(Ordering::Relaxed);
        if status == 200 {
            ok.push(micros);
        }
        if let Some(w) = out.as_mut() {
            writeln!(
                w,
                "{:.6},{:.6},{status}",
                i as f64 * period,
                f64::from(micros) / 1e6
            )?;
        }
    }
    if let Some(mut w) = out {
        w.flush()?;
    }
    ok.sort_unstable();
    let pct = |p: f64| {
        ok.get(((p / 100.0 * ok.len() as f64) as usize).min(ok.len().saturating_sub(1)))
            .map_or(f64::NAN, |&m| f64::from(m) / 1000.0)
    };
    println!(
        "{} requests, {} answered 200, {:.0} req/s; ms: p50 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}",
        plan.total,
        ok.len(),
        plan.total as f64 / span,
        pct(50.0),
        pct(99.0),
        pct(99.9),
        ok.last().map_or(f64::NAN, |&m| f64::from(m) / 1000.0)
    );
    if ok.is_empty() {
        return Err("no request was answered 200".into());
    }
    Ok(())
}

fn parse_args(args: Vec<String>) -> Fallible<Plan> {
    let mut it = args.into_iter();
    let (mut cacert, mut connections, mut rate) = (None, 32usize, None);
    let (mut total, mut seconds, mut method) = (None, None, "GET".to_string());
    let (mut body, mut content_type, mut csv, mut url) = (Vec::new(), None, None, None);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--cacert" => cacert = Some(value()?),
            "-c" => connections = value()?.parse()?,
            "-q" => rate = Some(value()?.parse::<f64>()?),
            "-n" => total = Some(value()?.parse::<usize>()?),
            "-z" => seconds = Some(value()?.trim_end_matches('s').parse::<f64>()?),
            "-m" => method = value()?,
            "-D" => {
                let path = value()?;
                body = std::fs::read(&path).map_err(|e| format!("-D {path}: {e}"))?;
            }
            "-T" => content_type = Some(value()?),
            "--csv" => csv = Some(value()?),
            _ if url.is_none() && !arg.starts_with('-') => url = Some(arg),
            _ => return Err(format!("unknown argument {arg:?} (see the doc comment)").into()),
        }
    }
    let rate = rate
        .filter(|r| *r > 0.0)
        .ok_or("-q RATE (> 0) is required")?;
    let total = match (total, seconds) {
        (Some(n), _) => n,
        (None, Some(s)) => (s * rate) as usize,
        (None, None) => return Err("-n COUNT or -z SECONDS is required".into()),
    };
    let url = url.ok_or("the URL is required")?;
    let rest = url
        .strip_prefix("https://")
        .ok_or("the URL must start with https://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or("the URL must give a port")?;
    let mut roots = rustls::RootCertStore::empty();
    let cacert = cacert.ok_or("--cacert FILE is required")?;
    let named = |e: &dyn std::fmt::Display| format!("--cacert {cacert}: {e}");
    for cert in CertificateDer::pem_file_iter(&cacert).map_err(|e| named(&e))? {
        roots
            .add(cert.map_err(|e| named(&e))?)
            .map_err(|e| named(&e))?;
    }
    if roots.is_empty() {
        return Err(named(&"no PEM certificate in it").into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(t) = content_type {
        request.push_str(&format!("Content-Type: {t}\r\n"));
    }
    if !body.is_empty() || method != "GET" {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    let mut request = request.into_bytes();
    request.extend_from_slice(&body);
    Ok(Plan {
        host: host.to_string(),
        port: port.parse()?,
        request,
        tls: Arc::new(tls),
        connections: connections.max(1),
        rate,
        total,
        csv,
    })
}
