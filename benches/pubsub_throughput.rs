//! Pub/sub throughput against any Redis-protocol server: one publisher,
//! several subscribers on every channel, every message checked (delivered
//! exactly once, in order per channel), messages per second printed.
//!
//! ```sh
//! cargo build --release --example pubsub_throughput
//! taskset -c 1 target/release/examples/pubsub_throughput --port 7990
//! ```
//!
//! Options (defaults in brackets): `--port` (required), `--messages`
//! [100000], `--subscribers` [10], `--channels` [4], `--size` payload bytes
//! [32], `--pipeline` PUBLISH commands in flight [64], `--rounds` [3].
//! Plain std sockets and threads, no async runtime: the client stays simple
//! and cheap enough to run on one CPU next to the server's.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

struct Options {
    port: u16,
    messages: usize,
    subscribers: usize,
    channels: usize,
    size: usize,
    pipeline: usize,
    rounds: usize,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        port: 0,
        messages: 100_000,
        subscribers: 10,
        channels: 4,
        size: 32,
        pipeline: 64,
        rounds: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let n: usize = value.parse().map_err(|_| format!("bad {flag} {value}"))?;
        match flag.as_str() {
            "--port" => o.port = u16::try_from(n).map_err(|_| "bad --port")?,
            "--messages" => o.messages = n,
            "--subscribers" => o.subscribers = n,
            "--channels" => o.channels = n.max(1),
            "--size" => o.size = n.max(12),
            "--pipeline" => o.pipeline = n.max(1),
            "--rounds" => o.rounds = n.max(1),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if o.port == 0 {
        return Err("--port is required".into());
    }
    Ok(o)
}

fn connect(port: u16) -> Result<TcpStream, String> {
    let s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    Ok(s)
}

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn line(r: &mut impl BufRead) -> Result<Vec<u8>, String> {
    let mut l = Vec::new();
    r.read_until(b'\n', &mut l)
        .map_err(|e| format!("read: {e}"))?;
    if !l.ends_with(b"\r\n") {
        return Err(format!(
            "connection closed ({:?})",
            String::from_utf8_lossy(&l)
        ));
    }
    l.truncate(l.len() - 2);
    Ok(l)
}

fn number(digits: &[u8]) -> Result<usize, String> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not a number: {:?}", String::from_utf8_lossy(digits)))
}

/// Reads a bulk string into `buf`.
fn bulk(r: &mut impl BufRead, buf: &mut Vec<u8>) -> Result<(), String> {
    let header = line(r)?;
    if header.first() != Some(&b'$') {
        return Err(format!(
            "expected a bulk: {:?}",
            String::from_utf8_lossy(&header)
        ));
    }
    buf.resize(number(&header[1..])? + 2, 0);
    r.read_exact(buf).map_err(|e| format!("read: {e}"))?;
    buf.truncate(buf.len() - 2);
    Ok(())
}

type Reader = BufReader<TcpStream>;

/// Connects and subscribes to every channel.
fn subscribe(o: &Options) -> Result<Reader, String> {
    let stream = connect(o.port)?;
    let mut w = stream.try_clone().map_err(|e| e.to_string())?;
    let mut r = BufReader::with_capacity(256 * 1024, stream);
    let names: Vec<Vec<u8>> = (0..o.channels)
        .map(|c| format!("ch{c}").into_bytes())
        .collect();
    let mut args: Vec<&[u8]> = vec![b"SUBSCRIBE"];
    args.extend(names.iter().map(Vec::as_slice));
    w.write_all(&command(&args)).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    for n in 1..=o.channels {
        line(&mut r)?;
        bulk(&mut r, &mut buf)?;
        bulk(&mut r, &mut buf)?;
        if line(&mut r)? != format!(":{n}").as_bytes() {
            return Err("unexpected SUBSCRIBE confirmation".into());
        }
    }
    Ok(r)
}

/// A parsed message: `(bytes used, channel, payload)`.
type Frame<'a> = (usize, &'a [u8], &'a [u8]);

/// Parses the `message` frame at the start of `buf` without copying, or
/// `None` while it is incomplete.
fn message_frame(buf: &[u8]) -> Result<Option<Frame<'_>>, String> {
    if buf.len() < 4 {
        return Ok(None);
    }
    if &buf[..4] != b"*3\r\n" {
        return Err(format!(
            "not a message: {:?}",
            String::from_utf8_lossy(&buf[..4])
        ));
    }
    let mut pos = 4;
    let mut fields: [&[u8]; 3] = [&[]; 3];
    for field in &mut fields {
        let Some(eol) = buf[pos..].iter().position(|&b| b == b'\r') else {
            return Ok(None);
        };
        if buf[pos] != b'$' {
            return Err("expected a bulk string".into());
        }
        let start = pos + eol + 2;
        let end = start + number(&buf[pos + 1..pos + eol])?;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        *field = &buf[start..end];
        pos = end + 2;
    }
    if fields[0] != b"message" {
        return Err("not a message".into());
    }
    Ok(Some((pos, fields[1], fields[2])))
}

/// Checks that the payload sequence numbers of each channel arrive exactly
/// once, in order; returns how many messages arrived. Frames are parsed in
/// place in one buffer, so the client costs far less than the server.
fn receive(o: &Options, r: &mut Reader) -> Result<usize, String> {
    let names: Vec<Vec<u8>> = (0..o.channels)
        .map(|c| format!("ch{c}").into_bytes())
        .collect();
    let total = o.messages / o.channels * o.channels;
    let mut next = vec![0usize; o.channels];
    let mut buf = vec![0u8; 1 << 20];
    // Whatever the reader already buffered comes first.
    let mut end = r.buffer().len();
    buf[..end].copy_from_slice(r.buffer());
    r.consume(end);
    let mut received = 0;
    loop {
        let mut start = 0;
        while let Some((used, channel, payload)) = message_frame(&buf[start..end])? {
            let c = names
                .iter()
                .position(|n| n == channel)
                .ok_or("message on an unknown channel")?;
            let seq = number(payload.split(|&b| b == b':').next().unwrap_or_default())?;
            if seq != next[c] {
                return Err(format!("ch{c}: got #{seq}, expected #{}", next[c]));
            }
            next[c] += 1;
            received += 1;
            start += used;
        }
        if received == total {
            return Ok(received);
        }
        buf.copy_within(start..end, 0);
        end -= start;
        if end == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match r.read(&mut buf[end..]) {
            Ok(0) => return Err("connection closed".into()),
            Ok(n) => end += n,
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

/// Publishes `messages` (rounded down to a multiple of the channel count)
/// with `pipeline` commands in flight; checks every receiver count.
fn publish(o: &Options) -> Result<(), String> {
    let stream = connect(o.port)?;
    let mut w = stream.try_clone().map_err(|e| e.to_string())?;
    let mut r = BufReader::with_capacity(64 * 1024, stream);
    let names: Vec<Vec<u8>> = (0..o.channels)
        .map(|c| format!("ch{c}").into_bytes())
        .collect();
    let total = o.messages / o.channels * o.channels;
    let expected = format!(":{}", o.subscribers).into_bytes();
    let mut batch = Vec::new();
    let mut sent = 0;
    let mut in_flight = 0;
    while sent < total || in_flight > 0 {
        // Keep up to `pipeline` commands outstanding, written in one go.
        batch.clear();
        while sent < total && in_flight < o.pipeline {
            let c = sent % o.channels;
            let mut payload = format!("{}:", sent / o.channels).into_bytes();
            payload.resize(o.size, b'x');
            batch.extend(command(&[b"PUBLISH", &names[c], &payload]));
            sent += 1;
            in_flight += 1;
        }
        if !batch.is_empty() {
            w.write_all(&batch).map_err(|e| e.to_string())?;
        }
        // Read at least half the window back before refilling it.
        let keep = if sent < total { o.pipeline / 2 } else { 0 };
        while in_flight > keep {
            let reply = line(&mut r)?;
            if reply != expected {
                return Err(format!(
                    "PUBLISH replied {:?}",
                    String::from_utf8_lossy(&reply)
                ));
            }
            in_flight -= 1;
        }
    }
    Ok(())
}

fn round(o: &Arc<Options>) -> Result<f64, String> {
    let ready = Arc::new(Barrier::new(o.subscribers + 1));
    let subs: Vec<_> = (0..o.subscribers)
        .map(|_| {
            let (o, ready) = (o.clone(), ready.clone());
            thread::spawn(move || {
                let setup = subscribe(&o);
                // Waited for even after an error, so the publisher never hangs.
                ready.wait();
                receive(&o, &mut setup?)
            })
        })
        .collect();
    ready.wait();
    let start = Instant::now();
    publish(o)?;
    let mut delivered = 0;
    for s in subs {
        delivered += s.join().map_err(|_| "subscriber panicked")??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let published = o.messages / o.channels * o.channels;
    if delivered != published * o.subscribers {
        return Err(format!(
            "delivered {delivered}, expected {}",
            published * o.subscribers
        ));
    }
    Ok(published as f64 / elapsed)
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("pubsub_throughput: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "port {}: {} messages of {} B on {} channels, {} subscribers each on every channel, pipeline {}",
        o.port, o.messages, o.size, o.channels, o.subscribers, o.pipeline
    );
    let mut rates = Vec::new();
    for i in 1..=o.rounds {
        match round(&o) {
            Ok(rate) => {
                println!(
                    "round {i}: {rate:.0} published msg/s, {:.0} delivered msg/s",
                    rate * o.subscribers as f64
                );
                rates.push(rate);
            }
            Err(e) => {
                eprintln!("round {i} failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!(
        "median: {median:.0} published msg/s, {:.0} delivered msg/s (all delivered once, in order)",
        median * o.subscribers as f64
    );
    ExitCode::SUCCESS
}
