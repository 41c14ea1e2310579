//! Acceptance tests for transactions and pub/sub under concurrency:
//! optimistic locking with WATCH, EXEC isolation, slow subscribers and
//! memory, delivery guarantees, exact message frames (checked against a
//! real redis-server) and output-buffer introspection.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::{encode, Raw};

/// Bound for every loop that waits on the server.
const DEADLINE: Duration = Duration::from_secs(30);

/// A buffered line reader for high-volume replies (one `read` per many
/// frames, no per-frame copying of the rest of the buffer).
struct Lines {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Lines {
    fn connect(port: u16) -> Lines {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Lines {
            writer: stream.try_clone().expect("clone"),
            reader: BufReader::with_capacity(256 * 1024, stream),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }

    /// One line without its CRLF (payloads in these tests have no CRLF).
    fn line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).expect("read");
        assert!(line.ends_with(b"\r\n"), "truncated line {line:?}");
        line.truncate(line.len() - 2);
        line
    }

    fn expect(&mut self, want: &[u8]) {
        let got = self.line();
        assert_eq!(
            got,
            want,
            "{:?} != {:?}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want)
        );
    }

    /// An integer reply.
    fn int(&mut self) -> i64 {
        let line = self.line();
        assert_eq!(
            line.first(),
            Some(&b':'),
            "{:?}",
            String::from_utf8_lossy(&line)
        );
        parse(&line[1..])
    }

    /// A bulk string (non-null).
    fn bulk(&mut self) -> Vec<u8> {
        let header = self.line();
        assert_eq!(header.first(), Some(&b'$'));
        let payload = self.line();
        assert_eq!(payload.len() as i64, parse(&header[1..]));
        payload
    }

    /// A published message: `(pattern, channel, payload)`.
    fn message(&mut self) -> (Option<Vec<u8>>, Vec<u8>, Vec<u8>) {
        let header = self.line();
        let kind = self.bulk();
        match (header.as_slice(), kind.as_slice()) {
            (b"*3", b"message") => (None, self.bulk(), self.bulk()),
            (b"*4", b"pmessage") => (Some(self.bulk()), self.bulk(), self.bulk()),
            _ => panic!("not a message: {header:?} {kind:?}"),
        }
    }
}

fn parse(digits: &[u8]) -> i64 {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an integer: {digits:?}"))
}

fn cmd(args: &[&[u8]]) -> Vec<u8> {
    encode(args)
}

#[test]
fn watch_retry_loops_lose_no_increment() {
    const CLIENTS: usize = 50;
    const SUCCESSES: usize = 20;
    let s = common::Server::start();
    let port = s.port;
    let aborted = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(CLIENTS));
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let aborted = aborted.clone();
            let start = start.clone();
            thread::spawn(move || {
                let mut c = Lines::connect(port);
                start.wait();
                let deadline = Instant::now() + DEADLINE;
                let mut done = 0;
                while done < SUCCESSES {
                    assert!(Instant::now() < deadline, "WATCH loop made no progress");
                    c.send(&[cmd(&[b"WATCH", b"counter"]), cmd(&[b"GET", b"counter"])].concat());
                    c.expect(b"+OK");
                    let header = c.line();
                    let value = match header.as_slice() {
                        b"$-1" => 0,
                        _ => parse(&c.line()),
                    };
                    let next = (value + 1).to_string();
                    c.send(
                        &[
                            cmd(&[b"MULTI"]),
                            cmd(&[b"SET", b"counter", next.as_bytes()]),
                            cmd(&[b"EXEC"]),
                        ]
                        .concat(),
                    );
                    c.expect(b"+OK");
                    c.expect(b"+QUEUED");
                    match c.line().as_slice() {
                        b"*1" => {
                            c.expect(b"+OK");
                            done += 1;
                        }
                        b"*-1" => {
                            aborted.fetch_add(1, Ordering::Relaxed);
                        }
                        other => panic!("EXEC replied {:?}", String::from_utf8_lossy(other)),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let mut r = s.raw();
    let total = CLIENTS * SUCCESSES;
    assert_eq!(
        r.cmd_str(&["GET", "counter"]),
        format!("${}\r\n{total}\r\n", total.to_string().len())
    );
    // With 50 clients racing, some EXECs must have been aborted; otherwise
    // the test did not exercise WATCH at all.
    assert!(
        aborted.load(Ordering::Relaxed) > 0,
        "no EXEC was ever aborted"
    );
}

#[test]
fn a_big_exec_is_never_interleaved_with_other_writes() {
    const INCRS: usize = 10_000;
    const ROUNDS: usize = 5;
    let s = common::Server::start();
    let port = s.port;
    let stop = Arc::new(AtomicBool::new(false));
    let resets = Arc::new(AtomicU64::new(0));
    let resetter = {
        let stop = stop.clone();
        let resets = resets.clone();
        thread::spawn(move || {
            let mut c = Raw::connect(port);
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(c.cmd(&["SET", "k", "0"]), b"+OK\r\n");
                resets.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let mut tx = Lines::connect(port);
    let mut batch = cmd(&[b"MULTI"]);
    for _ in 0..INCRS {
        batch.extend(cmd(&[b"INCR", b"k"]));
    }
    batch.extend(cmd(&[b"EXEC"]));
    for round in 0..ROUNDS {
        tx.send(&batch);
        tx.expect(b"+OK");
        for _ in 0..INCRS {
            tx.expect(b"+QUEUED");
        }
        tx.expect(format!("*{INCRS}").as_bytes());
        let first = tx.int();
        // A SET slipping in between two INCRs would restart the count.
        for i in 1..INCRS as i64 {
            assert_eq!(tx.int(), first + i, "round {round}: EXEC interleaved");
        }
        // Every later round starts right after a `SET k 0`.
        if round > 0 {
            assert_eq!(first, 1, "round {round}");
        }
        // Let the resetter run between transactions.
        let seen = resets.load(Ordering::Relaxed);
        let deadline = Instant::now() + DEADLINE;
        while resets.load(Ordering::Relaxed) < seen + 2 {
            assert!(Instant::now() < deadline, "SET k 0 never ran");
            thread::sleep(Duration::from_millis(1));
        }
    }
    stop.store(true, Ordering::Relaxed);
    resetter.join().expect("resetter");
}

/// Resident set size of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb * 1024
}

#[test]
fn a_stalled_subscriber_is_cut_off_and_memory_stays_bounded() {
    const MESSAGE: usize = 64 * 1024;
    const TOTAL: usize = 200 * 1024 * 1024;
    const PIPELINE: usize = 16;
    let s = common::Server::start();
    let mut admin = s.raw();
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 4mb 0 0"
        ]),
        b"+OK\r\n"
    );
    let mut stalled = s.raw();
    stalled.cmd(&["SUBSCRIBE", "firehose"]);
    let baseline = rss(s.pid());
    let mut publisher = Lines::connect(s.port);
    let payload = vec![b'x'; MESSAGE];
    let batch = cmd(&[b"PUBLISH", b"firehose", &payload]).repeat(PIPELINE);
    let (mut delivered, mut peak) = (0, baseline);
    for _ in 0..TOTAL / MESSAGE / PIPELINE {
        publisher.send(&batch);
        for _ in 0..PIPELINE {
            delivered += publisher.int();
        }
        peak = peak.max(rss(s.pid()));
    }
    // The hard limit cut the subscriber off after a few MB, long before
    // the 200 MB were published.
    assert!(delivered > 0, "the subscriber never received anything");
    assert!(
        (delivered as usize) < TOTAL / MESSAGE / 4,
        "subscriber kept receiving: {delivered} messages"
    );
    assert!(stalled.is_closed(), "stalled subscriber still connected");
    assert_eq!(
        admin.cmd(&["PUBSUB", "NUMSUB", "firehose"]),
        b"*2\r\n$8\r\nfirehose\r\n:0\r\n"
    );
    let growth = peak.saturating_sub(baseline);
    assert!(
        growth < 64 * 1024 * 1024,
        "RSS grew by {} MB",
        growth / (1024 * 1024)
    );
}

#[test]
fn every_message_reaches_every_subscriber_once_in_order() {
    const SUBSCRIBERS: usize = 10;
    const CHANNELS: usize = 5;
    const MESSAGES: usize = 100_000;
    const PIPELINE: usize = 1000;
    let s = common::Server::start();
    let port = s.port;
    let channel = |c: usize| format!("ch{c}").into_bytes();
    // Subscribers 0..9 each follow two channels; the last one follows
    // them all through a pattern.
    let follows =
        |i: usize, c: usize| i == SUBSCRIBERS - 1 || c == i % CHANNELS || c == (i + 1) % CHANNELS;
    let receivers: Vec<i64> = (0..CHANNELS)
        .map(|c| (0..SUBSCRIBERS).filter(|&i| follows(i, c)).count() as i64)
        .collect();
    let ready = Arc::new(Barrier::new(SUBSCRIBERS + 1));
    let subscribers: Vec<_> = (0..SUBSCRIBERS)
        .map(|i| {
            let ready = ready.clone();
            thread::spawn(move || {
                let mut c = Lines::connect(port);
                let mine: Vec<usize> = (0..CHANNELS).filter(|&ch| follows(i, ch)).collect();
                if i == SUBSCRIBERS - 1 {
                    c.send(&cmd(&[b"PSUBSCRIBE", b"ch*"]));
                    c.expect(b"*3");
                    assert_eq!(c.bulk(), b"psubscribe");
                    assert_eq!(c.bulk(), b"ch*");
                    assert_eq!(c.int(), 1);
                } else {
                    let names: Vec<Vec<u8>> = mine.iter().map(|&ch| channel(ch)).collect();
                    let mut args: Vec<&[u8]> = vec![b"SUBSCRIBE"];
                    args.extend(names.iter().map(Vec::as_slice));
                    c.send(&cmd(&args));
                    for (n, name) in names.iter().enumerate() {
                        c.expect(b"*3");
                        assert_eq!(c.bulk(), b"subscribe");
                        assert_eq!(&c.bulk(), name);
                        assert_eq!(c.int(), n as i64 + 1);
                    }
                }
                ready.wait();
                // Per channel: the next sequence number expected, or None
                // once its end marker arrived.
                let mut next: Vec<Option<usize>> = (0..CHANNELS).map(Some).collect();
                let mut open = mine.len();
                let mut received = 0;
                while open > 0 {
                    let (pattern, name, payload) = c.message();
                    if i == SUBSCRIBERS - 1 {
                        assert_eq!(pattern.as_deref(), Some(&b"ch*"[..]));
                    } else {
                        assert_eq!(pattern, None);
                    }
                    let ch = (0..CHANNELS)
                        .find(|&ch| channel(ch) == name)
                        .expect("unknown channel");
                    let expected =
                        next[ch].unwrap_or_else(|| panic!("message after end on ch{ch}"));
                    if payload == b"end" {
                        assert_eq!(expected, MESSAGES + ch, "ch{ch} ended early");
                        next[ch] = None;
                        open -= 1;
                    } else {
                        assert_eq!(
                            parse(&payload) as usize,
                            expected,
                            "ch{ch}: lost, duplicated or reordered"
                        );
                        next[ch] = Some(expected + CHANNELS);
                        received += 1;
                    }
                }
                received
            })
        })
        .collect();
    ready.wait();
    let mut publisher = Lines::connect(port);
    for start in (0..MESSAGES).step_by(PIPELINE) {
        let mut batch = Vec::new();
        for seq in start..start + PIPELINE {
            batch.extend(cmd(&[
                b"PUBLISH",
                &channel(seq % CHANNELS),
                seq.to_string().as_bytes(),
            ]));
        }
        publisher.send(&batch);
        for seq in start..start + PIPELINE {
            assert_eq!(publisher.int(), receivers[seq % CHANNELS]);
        }
    }
    for (ch, &n) in receivers.iter().enumerate() {
        publisher.send(&cmd(&[b"PUBLISH", &channel(ch), b"end"]));
        assert_eq!(publisher.int(), n);
    }
    let mut total = 0;
    for (i, sub) in subscribers.into_iter().enumerate() {
        let got = sub.join().expect("subscriber");
        let want = (0..CHANNELS).filter(|&c| follows(i, c)).count() * (MESSAGES / CHANNELS);
        assert_eq!(got, want, "subscriber {i}");
        total += got;
    }
    assert_eq!(
        total as i64,
        receivers.iter().sum::<i64>() * (MESSAGES / CHANNELS) as i64
    );
}

/// Runs a fixed pub/sub exchange against `port` and returns every byte
/// the subscribers and the publisher received, in order, per connection.
fn message_frames(port: u16) -> Vec<Vec<u8>> {
    let mut resp2 = Raw::connect(port);
    let mut resp3 = Raw::connect(port);
    let mut publisher = Raw::connect(port);
    let mut log = Vec::new();
    resp2.cmd(&["SUBSCRIBE", "news"]);
    resp2.cmd(&["PSUBSCRIBE", "n*"]);
    resp2.cmd(&["SSUBSCRIBE", "shard"]);
    // HELLO's reply names the server version and client id: not compared.
    resp3.cmd(&["HELLO", "3"]);
    log.push(resp3.cmd(&["SUBSCRIBE", "news"]));
    log.push(resp3.cmd(&["PSUBSCRIBE", "n*"]));
    log.push(resp3.cmd(&["SSUBSCRIBE", "shard"]));
    log.push(publisher.cmd(&["PUBLISH", "news", "hello world"]));
    log.push(publisher.cmd(&["PUBLISH", "nope", ""]));
    log.push(publisher.cmd(&["SPUBLISH", "shard", "x\r\ny\x00"]));
    for _ in 0..4 {
        log.push(resp2.read_frame());
    }
    for _ in 0..4 {
        log.push(resp3.read_frame());
    }
    // A RESP3 subscriber publishing to itself gets the pushes first.
    resp3.send(&encode(&[b"PUBLISH", b"news", b"me"]));
    for _ in 0..3 {
        log.push(resp3.read_frame());
    }
    log.push(resp2.read_frame());
    log.push(resp2.read_frame());
    log
}

const FRAMES: &[&[u8]] = &[
    b">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n",
    b">3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:2\r\n",
    b">3\r\n$10\r\nssubscribe\r\n$5\r\nshard\r\n:1\r\n",
    b":4\r\n",
    b":2\r\n",
    b":2\r\n",
    b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$11\r\nhello world\r\n",
    b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$11\r\nhello world\r\n",
    b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnope\r\n$0\r\n\r\n",
    b"*3\r\n$8\r\nsmessage\r\n$5\r\nshard\r\n$5\r\nx\r\ny\x00\r\n",
    b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$11\r\nhello world\r\n",
    b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$11\r\nhello world\r\n",
    b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnope\r\n$0\r\n\r\n",
    b">3\r\n$8\r\nsmessage\r\n$5\r\nshard\r\n$5\r\nx\r\ny\x00\r\n",
    b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nme\r\n",
    b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nme\r\n",
    b":4\r\n",
    b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nme\r\n",
    b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nme\r\n",
];

#[test]
fn message_frames_match_redis_byte_for_byte() {
    let ferrokv = common::Server::start();
    let got = message_frames(ferrokv.port);
    let show = |frames: &[Vec<u8>]| {
        frames
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect::<Vec<_>>()
    };
    let expected: Vec<Vec<u8>> = FRAMES.iter().map(|f| f.to_vec()).collect();
    assert_eq!(show(&got), show(&expected));
    let redis = common::Server::start_redis();
    assert_eq!(show(&message_frames(redis.port)), show(&expected));
}

/// The `name=value` field of a `CLIENT LIST` line.
fn field(line: &str, name: &str) -> String {
    line.split(' ')
        .find_map(|f| f.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        .to_string()
}

fn client_line(r: &mut Raw, id: &str) -> String {
    let reply = r.cmd_str(&["CLIENT", "LIST", "ID", id]);
    reply.lines().nth(1).unwrap_or_default().to_string()
}

fn info_field(r: &mut Raw, name: &str) -> u64 {
    let info = r.cmd_str(&["INFO", "clients"]);
    info.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {info}"))
}

#[test]
fn queued_pubsub_output_shows_in_client_list_and_info() {
    const MESSAGE: usize = 64 * 1024;
    let s = common::Server::start();
    let mut admin = s.raw();
    // No limit: the subscriber may fall behind as far as the test needs.
    admin.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 0 0 0",
    ]);
    let mut sub = s.raw();
    let id = sub
        .cmd_str(&["CLIENT", "ID"])
        .trim()
        .trim_start_matches(':')
        .to_string();
    sub.cmd(&["SUBSCRIBE", "big"]);
    let idle = client_line(&mut admin, &id);
    assert_eq!(
        (
            field(&idle, "obl"),
            field(&idle, "oll"),
            field(&idle, "omem"),
            field(&idle, "events")
        ),
        ("0".into(), "0".into(), "0".into(), "r".into()),
        "{idle}"
    );
    let mut publisher = Lines::connect(s.port);
    let payload = vec![b'x'; MESSAGE];
    let publish = cmd(&[b"PUBLISH", b"big", &payload]);
    // Kernel socket buffers absorb the first few MB; then the server queues.
    // The kernel may still take a little more now and then, so the two
    // views are read until both show a large queue.
    let mut published = 0;
    let (line, info_max) = loop {
        assert!(
            published < 2048,
            "omem never grew in both CLIENT LIST and INFO"
        );
        publisher.send(&publish.repeat(16));
        for _ in 0..16 {
            assert_eq!(publisher.int(), 1);
        }
        published += 16;
        let line = client_line(&mut admin, &id);
        let omem: usize = field(&line, "omem").parse().expect("omem");
        if omem > 4 * MESSAGE {
            let info_max = info_field(&mut admin, "client_recent_max_output_buffer");
            if info_max > 4 * MESSAGE as u64 {
                break (line, info_max);
            }
        }
    };
    let omem: u64 = field(&line, "omem").parse().expect("omem");
    let oll: u64 = field(&line, "oll").parse().expect("oll");
    assert!(oll >= 4, "{line}");
    assert_eq!(field(&line, "obl"), "0", "{line}");
    assert_eq!(field(&line, "events"), "rw", "{line}");
    let tot: u64 = field(&line, "tot-mem").parse().expect("tot-mem");
    assert!(tot >= omem, "{line}");
    // The publisher and admin queue nothing: the maximum is the subscriber's.
    assert!(
        info_max <= omem + (16 * MESSAGE) as u64,
        "{info_max} vs {line}"
    );
    // Once the subscriber reads everything, the queue is empty again.
    for _ in 0..published {
        sub.read_frame();
    }
    let deadline = Instant::now() + DEADLINE;
    loop {
        let line = client_line(&mut admin, &id);
        if field(&line, "omem") == "0"
            && field(&line, "oll") == "0"
            && field(&line, "events") == "r"
        {
            break;
        }
        assert!(Instant::now() < deadline, "queue never drained: {line}");
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(info_field(&mut admin, "client_recent_max_output_buffer"), 0);
}
