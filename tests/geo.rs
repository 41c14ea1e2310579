//! The geospatial commands against a real redis-server: the same 10,000
//! random points loaded into both, then hundreds of random searches whose
//! raw replies (members, order, distances, hashes, coordinates) must be
//! byte-identical; ties under COUNT; keyspace events; blocked clients.

mod common;

use std::thread;
use std::time::{Duration, Instant};

/// A small deterministic generator, so a failure replays identically.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }

    /// Uniform in `[lo, hi)`.
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() as f64 / (1u64 << 53) as f64) * (hi - lo)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Both servers, with a raw connection to each.
struct Pair {
    _ours: common::Server,
    _redis: common::Server,
    ours: common::Raw,
    redis: common::Raw,
}

impl Pair {
    fn start() -> Pair {
        let ours = common::Server::start();
        let redis = common::Server::start_redis();
        let (o, r) = (ours.raw(), redis.raw());
        Pair {
            _ours: ours,
            _redis: redis,
            ours: o,
            redis: r,
        }
    }

    /// Runs `args` on both servers and asserts the replies are identical.
    fn same(&mut self, args: &[&str]) -> Vec<u8> {
        let a = self.ours.cmd(args);
        let b = self.redis.cmd(args);
        assert_eq!(
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b),
            "reply to {args:?} differs (left ferrokv, right redis)"
        );
        a
    }
}

/// Adds `n` random points to `key` on both servers: a uniform world-wide
/// spread plus dense clusters (many members per cell, exact duplicates)
/// and points near the poles' limits and the antimeridian.
fn load_points(p: &mut Pair, rng: &mut Lcg, key: &str, n: usize) -> Vec<String> {
    let mut names = Vec::with_capacity(n);
    let mut batch: Vec<String> = vec!["GEOADD".into(), key.into()];
    for i in 0..n {
        let (lon, lat) = match i % 5 {
            0 | 1 => (
                rng.range(-180.0, 180.0),
                rng.range(-85.05112878, 85.05112878),
            ),
            2 => (13.4 + rng.range(-0.5, 0.5), 52.5 + rng.range(-0.5, 0.5)),
            3 => {
                // Exact duplicates of a few positions: equal distances.
                let k = rng.below(7) as f64;
                (2.0 + k * 0.01, 48.0 + k * 0.01)
            }
            _ => {
                let lon = if rng.below(2) == 0 {
                    rng.range(179.0, 180.0)
                } else {
                    rng.range(-180.0, -179.0)
                };
                let lat = if rng.below(2) == 0 {
                    rng.range(80.0, 85.05112878)
                } else {
                    rng.range(-20.0, -10.0)
                };
                (lon, lat)
            }
        };
        let name = format!("p{i}");
        batch.push(format!("{lon:.7}"));
        batch.push(format!("{lat:.7}"));
        batch.push(name.clone());
        names.push(name);
        if batch.len() >= 2 + 3 * 500 || i + 1 == n {
            let args: Vec<&str> = batch.iter().map(String::as_str).collect();
            p.same(&args);
            batch.truncate(2);
        }
    }
    names
}

/// A random search (GEOSEARCH, GEORADIUS or GEORADIUSBYMEMBER) with a
/// random mix of options.
fn random_search(rng: &mut Lcg, key: &str, names: &[String]) -> Vec<String> {
    let units = ["m", "km", "ft", "mi"];
    let scale = |rng: &mut Lcg, unit: &str| -> f64 {
        let metres = 10f64.powf(rng.range(0.0, 7.0));
        let per_unit = match unit {
            "km" => 1000.0,
            "ft" => 0.3048,
            "mi" => 1609.34,
            _ => 1.0,
        };
        metres / per_unit
    };
    let hot_centres = [
        (13.4, 52.5),
        (2.03, 48.03),
        (180.0, 83.0),
        (-180.0, -15.0),
        (0.0, 0.0),
    ];
    let centre = |rng: &mut Lcg| -> (f64, f64) {
        if rng.below(2) == 0 {
            hot_centres[rng.below(hot_centres.len() as u64) as usize]
        } else {
            (rng.range(-180.0, 180.0), rng.range(-85.0, 85.0))
        }
    };
    let member = |rng: &mut Lcg| names[rng.below(names.len() as u64) as usize].clone();
    let mut args: Vec<String> = Vec::new();
    let unit = rng.pick(&units);
    match rng.below(3) {
        0 => {
            args.extend(["GEOSEARCH".into(), key.into()]);
            if rng.below(2) == 0 {
                let (lon, lat) = centre(rng);
                args.extend(["FROMLONLAT".into(), format!("{lon}"), format!("{lat}")]);
            } else {
                args.extend(["FROMMEMBER".into(), member(rng)]);
            }
            if rng.below(2) == 0 {
                args.extend([
                    "BYRADIUS".into(),
                    format!("{:.3}", scale(rng, unit)),
                    unit.into(),
                ]);
            } else {
                let (w, h) = (scale(rng, unit), scale(rng, unit));
                args.extend([
                    "BYBOX".into(),
                    format!("{w:.3}"),
                    format!("{h:.3}"),
                    unit.into(),
                ]);
            }
        }
        1 => {
            let (lon, lat) = centre(rng);
            args.extend([
                "GEORADIUS".into(),
                key.into(),
                format!("{lon}"),
                format!("{lat}"),
                format!("{:.3}", scale(rng, unit)),
                unit.into(),
            ]);
        }
        _ => {
            args.extend([
                "GEORADIUSBYMEMBER".into(),
                key.into(),
                member(rng),
                format!("{:.3}", scale(rng, unit)),
                unit.into(),
            ]);
        }
    }
    for opt in ["WITHDIST", "WITHHASH", "WITHCOORD"] {
        if rng.below(2) == 0 {
            args.push(opt.into());
        }
    }
    match rng.below(3) {
        0 => args.push("ASC".into()),
        1 => args.push("DESC".into()),
        _ => {}
    }
    if rng.below(2) == 0 {
        args.extend(["COUNT".into(), (1 + rng.below(60)).to_string()]);
        if rng.below(3) == 0 {
            args.push("ANY".into());
        }
    }
    args
}

#[test]
fn ten_thousand_random_points_search_like_redis() {
    let mut p = Pair::start();
    let mut rng = Lcg(0x5eed_0007);
    let names = load_points(&mut p, &mut rng, "pts", 10_000);
    p.same(&["ZCARD", "pts"]);
    // Scores are the raw geohashes: identical sets, score for score.
    let ours = p.ours.cmd(&["ZRANGE", "pts", "0", "-1", "WITHSCORES"]);
    let theirs = p.redis.cmd(&["ZRANGE", "pts", "0", "-1", "WITHSCORES"]);
    assert!(ours == theirs, "stored geohash scores differ");

    let mut nonempty = 0;
    for _ in 0..400 {
        let args = random_search(&mut rng, "pts", &names);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let reply = p.same(&refs);
        if reply != b"*0\r\n" {
            nonempty += 1;
        }
    }
    assert!(
        nonempty > 100,
        "too few searches found anything: {nonempty}"
    );

    for _ in 0..100 {
        let (a, b) = (rng.below(10_000), rng.below(10_000));
        let unit = rng.pick(&["m", "km", "ft", "mi"]);
        p.same(&["GEODIST", "pts", &format!("p{a}"), &format!("p{b}"), unit]);
        p.same(&["GEOPOS", "pts", &format!("p{a}"), &format!("p{b}"), "nope"]);
        p.same(&["GEOHASH", "pts", &format!("p{a}"), &format!("p{b}"), "nope"]);
    }
}

#[test]
fn store_forms_write_the_same_sets() {
    let mut p = Pair::start();
    let mut rng = Lcg(42);
    let names = load_points(&mut p, &mut rng, "pts", 2_000);
    for i in 0..60 {
        let mut args = random_search(&mut rng, "pts", &names);
        args.retain(|a| !a.starts_with("WITH"));
        let store = if i % 2 == 0 { "STORE" } else { "STOREDIST" };
        if args[0] == "GEOSEARCH" {
            args[0] = "GEOSEARCHSTORE".into();
            args.insert(1, "dst".into());
            if store == "STOREDIST" {
                args.push("STOREDIST".into());
            }
        } else {
            args.extend([store.into(), "dst".into()]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        p.same(&refs);
        p.same(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
        p.same(&["OBJECT", "ENCODING", "dst"]);
    }
}

#[test]
fn equal_distances_keep_redis_order_under_count() {
    let mut p = Pair::start();
    // 120 members on 6 positions: every comparison near the centre ties,
    // which exposes the exact partial quicksort Redis runs for COUNT.
    let mut args: Vec<String> = vec!["GEOADD".into(), "t".into()];
    for i in 0..120 {
        let k = (i * 7) % 6;
        args.push(format!("{}", 5.0 + k as f64 * 0.001));
        args.push("5".into());
        args.push(format!("m{i:03}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    p.same(&refs);
    for count in [1, 2, 5, 7, 8, 20, 40, 41, 60, 100, 119, 120, 200] {
        for order in ["ASC", "DESC"] {
            let c = count.to_string();
            p.same(&[
                "GEOSEARCH",
                "t",
                "FROMLONLAT",
                "5.0025",
                "5",
                "BYRADIUS",
                "10",
                "km",
                "COUNT",
                &c,
                order,
                "WITHDIST",
            ]);
            p.same(&[
                "GEOSEARCH",
                "t",
                "FROMLONLAT",
                "5.0025",
                "5",
                "BYRADIUS",
                "10",
                "km",
                "COUNT",
                &c,
                "ANY",
                order,
            ]);
        }
    }
}

/// Reads pub/sub frames up to the `set` event of the closing SET
/// (each read is bounded).
fn messages_until_set(r: &mut common::Raw) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < 50 {
        let m = String::from_utf8_lossy(&r.read_frame()).into_owned();
        let done = m.contains("__keyevent@0__:set");
        got.push(m);
        if done {
            break;
        }
    }
    got
}

#[test]
fn keyspace_events_match_redis() {
    let ours = common::Server::start();
    let redis = common::Server::start_redis();
    let mut seen = Vec::new();
    for s in [&ours, &redis] {
        let mut c = s.raw();
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
            b"+OK\r\n"
        );
        let mut sub = s.raw();
        sub.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]);
        c.cmd(&[
            "GEOADD",
            "g",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ]);
        c.cmd(&["GEOADD", "g", "NX", "13.361389", "38.115556", "Palermo"]);
        c.cmd(&["GEOADD", "g", "XX", "13", "38", "Palermo"]);
        c.cmd(&[
            "GEOSEARCHSTORE",
            "d",
            "g",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "500",
            "km",
        ]);
        c.cmd(&["GEORADIUS", "g", "15", "37", "500", "km", "STORE", "e"]);
        c.cmd(&["GEORADIUS", "g", "0", "0", "1", "km", "STOREDIST", "e"]);
        c.cmd(&[
            "GEOSEARCHSTORE",
            "d",
            "nokey",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ]);
        c.cmd(&[
            "GEOSEARCH",
            "nokey",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ]);
        c.cmd(&["SET", "end", "1"]);
        seen.push(messages_until_set(&mut sub));
    }
    assert_eq!(seen[0], seen[1]);
    assert!(seen[0].iter().any(|m| m.contains("geosearchstore")));
    assert!(seen[0].iter().any(|m| m.contains("georadiusstore")));
}

#[test]
fn geoadd_serves_a_blocked_zset_pop() {
    let s = common::Server::start();
    let mut waiter = s.raw();
    waiter.send(&common::encode(&[b"BZPOPMIN", b"g", b"5"]));
    let mut c = s.raw();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !c
        .cmd_str(&["INFO", "clients"])
        .contains("blocked_clients:1\r\n")
    {
        assert!(Instant::now() < deadline, "client never blocked");
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        c.cmd(&["GEOADD", "g", "13.361389", "38.115556", "Palermo"]),
        b":1\r\n"
    );
    assert_eq!(
        waiter.read_frame(),
        b"*3\r\n$1\r\ng\r\n$7\r\nPalermo\r\n$16\r\n3479099956230698\r\n"
    );
    assert_eq!(c.cmd(&["EXISTS", "g"]), b":0\r\n");
}
