//! The geospatial family (Redis 7.0's `geo.c`): positions are sorted-set
//! members scored with their 52-bit geohash ([`crate::types::geohash`]),
//! and searches scan the 9 cells around the centre exactly as Redis does,
//! so results, distances and their order match to the last digit.

use crate::command::{c_str, CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{float, int, is};
use crate::commands::zset::{limits, read_key, write};
use crate::keyspace::Value;
use crate::protocol::reply::Reply;
use crate::server::blocking::HeldShards;
use crate::types::geohash::{self, Extent, Shape};
use crate::types::ZSet;
use crate::util::num::parse_f64;
use std::cmp::Ordering;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("geoadd", geoadd);
    t.add("geodist", geodist);
    t.add("geohash", geohash_cmd);
    t.add("geopos", geopos);
    t.add("georadius", |ctx, args| search(ctx, args, Form::Radius));
    t.add("georadius_ro", |ctx, args| {
        search(ctx, args, Form::RadiusRo)
    });
    t.add("georadiusbymember", |ctx, args| {
        search(ctx, args, Form::ByMember)
    });
    t.add("georadiusbymember_ro", |ctx, args| {
        search(ctx, args, Form::ByMemberRo)
    });
    t.add("geosearch", |ctx, args| search(ctx, args, Form::Search));
    t.add("geosearchstore", |ctx, args| {
        search(ctx, args, Form::SearchStore)
    });
}

/// Parses a longitude/latitude pair (`args[0]`, `args[1]`), refusing
/// positions outside the geohash range with Redis's message.
fn lon_lat(args: &[&[u8]]) -> Result<(f64, f64), CmdError> {
    let (lon, lat) = (float(args[0])?, float(args[1])?);
    if !(geohash::LON_MIN..=geohash::LON_MAX).contains(&lon)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&lat)
    {
        return Err(CmdError::msg(format!(
            "ERR invalid longitude,latitude pair {},{}",
            c_fixed6(lon),
            c_fixed6(lat)
        )));
    }
    Ok((lon, lat))
}

/// C's `%f` (six decimals, `inf`/`-inf` spelled out).
fn c_fixed6(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    format!("{v:.6}")
}

/// Metres per unit (`m`, `km`, `ft`, `mi`, any case).
fn unit(arg: &[u8]) -> Result<f64, CmdError> {
    // Redis compares with strcasecmp: the name ends at a NUL byte.
    let u = c_str(arg);
    let metres = if is(u, "m") {
        1.0
    } else if is(u, "km") {
        1000.0
    } else if is(u, "ft") {
        0.3048
    } else if is(u, "mi") {
        1609.34
    } else {
        return Err(CmdError::err(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ));
    };
    Ok(metres)
}

/// A float option value with a command-specific error message.
fn float_or(arg: &[u8], msg: &'static str) -> Result<f64, CmdError> {
    parse_f64(arg).ok_or(CmdError::err(msg))
}

/// `radius unit`: the radius and the unit's size in metres.
fn radius_arg(args: &[&[u8]]) -> Result<(f64, f64), CmdError> {
    let radius = float_or(args[0], "ERR need numeric radius")?;
    if radius < 0.0 {
        return Err(CmdError::err("ERR radius cannot be negative"));
    }
    Ok((radius, unit(args[1])?))
}

/// `width height unit`: the box extent and the unit's size in metres.
fn box_arg(args: &[&[u8]]) -> Result<(Extent, f64), CmdError> {
    let width = float_or(args[0], "ERR need numeric width")?;
    let height = float_or(args[1], "ERR need numeric height")?;
    if height < 0.0 || width < 0.0 {
        return Err(CmdError::err("ERR height or width cannot be negative"));
    }
    Ok((Extent::Box { width, height }, unit(args[2])?))
}

/// Replies with a coordinate the way Redis's `addReplyHumanLongDouble`
/// prints it: 17 decimals without trailing zeros, a RESP3 double or a
/// RESP2 bulk string.
fn human_double(out: &mut Reply, v: f64) {
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".into();
    }
    if out.resp3 {
        // RESP3 has a double type; Reply::double would print %.17g instead.
        out.buf.push(b',');
        out.buf.extend_from_slice(s.as_bytes());
        out.buf.extend_from_slice(b"\r\n");
    } else {
        out.bulk(s.as_bytes());
    }
}

/// A distance as Redis replies it: four decimals, as a bulk string.
fn reply_distance(out: &mut Reply, metres_in_unit: f64) {
    out.bulk(format!("{metres_in_unit:.4}").as_bytes());
}

/// GEOADD key [NX|XX] [CH] longitude latitude member [...]
///
/// Redis turns this into a ZADD of geohash scores; the same write is done
/// here directly on the sorted set.
fn geoadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut first = 2;
    while first < args.len() {
        match args[first] {
            a if is(c_str(a), "nx") => nx = true,
            a if is(c_str(a), "xx") => xx = true,
            a if is(c_str(a), "ch") => ch = true,
            _ => break,
        }
        first += 1;
    }
    let triples = &args[first..];
    if !triples.len().is_multiple_of(3) || (nx && xx) {
        return Err(CmdError::Syntax);
    }
    // Redis hands an empty list on to ZADD, which calls it a syntax error.
    if triples.is_empty() {
        return Err(CmdError::Syntax);
    }
    let mut points = Vec::with_capacity(triples.len() / 3);
    for t in triples.chunks_exact(3) {
        let (lon, lat) = lon_lat(t)?;
        let score = geohash::score_of(lon, lat).unwrap_or(0) as f64;
        points.push((score, t[2]));
    }
    let limits = limits(ctx);
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let exists = write(&mut shard, key, now)?.is_some();
    let (mut added, mut updated) = (0i64, 0i64);
    if exists || !xx {
        let entry = shard.get_or_insert(key, now, || Value::ZSet(Box::default()));
        let Value::ZSet(z) = &mut entry.value else {
            return Err(CmdError::WrongType);
        };
        for (score, member) in points {
            match z.score(member) {
                // NX leaves existing members alone; an unchanged score is
                // not an update (it would not count for CH).
                Some(cur) if !nx && cur != score => {
                    z.set(member, score, limits);
                    updated += 1;
                }
                None if !xx => {
                    z.set(member, score, limits);
                    added += 1;
                }
                _ => {}
            }
        }
    }
    if added + updated > 0 {
        ctx.modified(key, "zadd");
    }
    ctx.out.int(if ch { added + updated } else { added });
    if added > 0 {
        ctx.serve_blocked_one(key, &mut shard);
    }
    Ok(())
}

/// GEODIST key member1 member2 [unit]
fn geodist(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let to_metres = match args.len() {
        4 => 1.0,
        5 => unit(args[4])?,
        _ => return Err(CmdError::Syntax),
    };
    let mut shard = ctx.lock(args[1]);
    let scores = read_key(ctx, &mut shard, args[1])?.map(|z| (z.score(args[2]), z.score(args[3])));
    match scores {
        Some((Some(a), Some(b))) => {
            let (a, b) = (geohash::decode_score(a), geohash::decode_score(b));
            reply_distance(ctx.out, geohash::distance(a.0, a.1, b.0, b.1) / to_metres);
        }
        _ => ctx.out.null(),
    }
    Ok(())
}

/// GEOHASH key [member ...]
fn geohash_cmd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut shard = ctx.lock(args[1]);
    let z = read_key(ctx, &mut shard, args[1])?;
    ctx.out.array(args.len() - 2);
    for member in &args[2..] {
        match z.and_then(|z| z.score(member)) {
            Some(score) => {
                let (lon, lat) = geohash::decode_score(score);
                ctx.out.bulk(&geohash::geohash_string(lon, lat));
            }
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// GEOPOS key [member ...]
fn geopos(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut shard = ctx.lock(args[1]);
    let z = read_key(ctx, &mut shard, args[1])?;
    ctx.out.array(args.len() - 2);
    for member in &args[2..] {
        match z.and_then(|z| z.score(member)) {
            Some(score) => {
                let (lon, lat) = geohash::decode_score(score);
                ctx.out.array(2);
                human_double(ctx.out, lon);
                human_double(ctx.out, lat);
            }
            None => ctx.out.null_array(),
        }
    }
    Ok(())
}

/// The search commands, which share Redis's `georadiusGeneric`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// GEORADIUS key lon lat radius unit [...]
    Radius,
    /// GEORADIUS_RO: no STORE options.
    RadiusRo,
    /// GEORADIUSBYMEMBER key member radius unit [...]
    ByMember,
    /// GEORADIUSBYMEMBER_RO: no STORE options.
    ByMemberRo,
    /// GEOSEARCH key FROM… BY… [...]
    Search,
    /// GEOSEARCHSTORE dst src FROM… BY… [...] [STOREDIST]
    SearchStore,
}

impl Form {
    fn is_search(self) -> bool {
        matches!(self, Form::Search | Form::SearchStore)
    }

    fn may_store(self) -> bool {
        matches!(self, Form::Radius | Form::ByMember)
    }

    /// Index of the first optional argument.
    fn base_args(self) -> usize {
        match self {
            Form::Radius | Form::RadiusRo => 6,
            Form::ByMember | Form::ByMemberRo => 5,
            Form::Search => 2,
            Form::SearchStore => 3,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// A member found by a search.
struct Point {
    member: Vec<u8>,
    score: f64,
    /// Distance from the centre in metres (in the query unit once replied).
    dist: f64,
    lon: f64,
    lat: f64,
}

/// Redis's `membersOfAllNeighbors`: the members inside `shape` from the 9
/// cells, cell by cell in score order; with `limit` (COUNT … ANY) the scan
/// stops as soon as that many were found.
fn members_in_shape(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Point> {
    let cells = shape.search_cells();
    let mut found = Vec::new();
    // Redis only compares with the previously scanned cell once it has
    // scanned a neighbour (index > 0), so the centre cell is never a
    // duplicate: keep that quirk.
    let mut last: usize = 0;
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_zero() {
            continue;
        }
        if last != 0 && *cell == cells[last] {
            continue;
        }
        if limit != 0 && found.len() >= limit {
            break;
        }
        let min = cell.align52() as f64;
        let max = geohash::Hash {
            bits: cell.bits + 1,
            step: cell.step,
        }
        .align52() as f64;
        let start = z.partition_point(|s, _| s < min);
        let end = z.partition_point(|s, _| s < max);
        for (member, score) in z.range(start, end) {
            let (lon, lat) = geohash::decode_score(score);
            if let Some(dist) = shape.distance_if_inside(lon, lat) {
                found.push(Point {
                    member: member.to_vec(),
                    score,
                    dist,
                    lon,
                    lat,
                });
            }
            if limit != 0 && found.len() >= limit {
                break;
            }
        }
        last = i;
    }
    found
}

/// The keys a search may touch: the source and every possible
/// destination, so one lock covers whatever the options name.
fn search_keys<'a>(args: &[&'a [u8]], form: Form) -> Vec<&'a [u8]> {
    match form {
        Form::SearchStore => vec![args[2], args[1]],
        Form::Search | Form::RadiusRo | Form::ByMemberRo => vec![args[1]],
        Form::Radius | Form::ByMember => {
            let mut keys = vec![args[1]];
            let base = form.base_args().min(args.len());
            for pair in args[base..].windows(2) {
                if is(c_str(pair[0]), "store") || is(c_str(pair[0]), "storedist") {
                    keys.push(pair[1]);
                }
            }
            keys
        }
    }
}

/// The parsed options of a search.
struct Options<'a> {
    store: Option<&'a [u8]>,
    storedist: bool,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    sort: Sort,
    any: bool,
    count: usize,
}

/// Redis's `georadiusGeneric` for all six search commands.
fn search(ctx: &mut Ctx, args: &[&[u8]], form: Form) -> CmdResult {
    let server = ctx.server;
    let (db, now) = (ctx.client.db, ctx.now);
    let src_idx = if form == Form::SearchStore { 2 } else { 1 };
    let src = args[src_idx];
    let mut lock = server
        .keyspace
        .lock_keys(search_keys(args, form).into_iter().map(|k| (db, k)));
    let z = read_key(ctx, lock.shard(db, src), src)?;

    let mut center: Option<(f64, f64)> = None;
    let mut extent: Option<(Extent, f64)> = None;
    match form {
        Form::Radius | Form::RadiusRo => {
            center = Some(lon_lat(&args[2..4])?);
            let (r, conv) = radius_arg(&args[4..6])?;
            extent = Some((Extent::Radius(r), conv));
        }
        // Without a source key Redis skips the centre and the radius and
        // only checks the options, to pick the right empty reply.
        Form::ByMember | Form::ByMemberRo => {
            if let Some(z) = z {
                center = Some(member_position(z, args[2])?);
                let (r, conv) = radius_arg(&args[3..5])?;
                extent = Some((Extent::Radius(r), conv));
            }
        }
        Form::Search | Form::SearchStore => {}
    }

    let mut o = Options {
        store: (form == Form::SearchStore).then_some(args[1]),
        storedist: false,
        withdist: false,
        withhash: false,
        withcoord: false,
        sort: Sort::None,
        any: false,
        count: 0,
    };
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let base = form.base_args();
    let opts = args.get(base..).unwrap_or(&[]);
    let mut i = 0;
    while i < opts.len() {
        let arg = c_str(opts[i]);
        let remaining = opts.len() - i - 1;
        if is(arg, "withdist") {
            o.withdist = true;
        } else if is(arg, "withhash") {
            o.withhash = true;
        } else if is(arg, "withcoord") {
            o.withcoord = true;
        } else if is(arg, "any") {
            o.any = true;
        } else if is(arg, "asc") {
            o.sort = Sort::Asc;
        } else if is(arg, "desc") {
            o.sort = Sort::Desc;
        } else if is(arg, "count") && remaining >= 1 {
            let count = int(opts[i + 1])?;
            if count <= 0 {
                return Err(CmdError::err("ERR COUNT must be > 0"));
            }
            o.count = usize::try_from(count).unwrap_or(usize::MAX);
            i += 1;
        } else if (is(arg, "store") || is(arg, "storedist")) && remaining >= 1 && form.may_store() {
            o.store = Some(opts[i + 1]);
            o.storedist = is(arg, "storedist");
            i += 1;
        } else if is(arg, "storedist") && form == Form::SearchStore {
            o.storedist = true;
        } else if is(arg, "frommember") && remaining >= 1 && form.is_search() && !fromloc {
            if let Some(z) = z {
                center = Some(member_position(z, opts[i + 1])?);
            }
            frommember = true;
            i += 1;
        } else if is(arg, "fromlonlat") && remaining >= 2 && form.is_search() && !frommember {
            center = Some(lon_lat(&opts[i + 1..i + 3])?);
            fromloc = true;
            i += 2;
        } else if is(arg, "byradius") && remaining >= 2 && form.is_search() && !bybox {
            let (r, conv) = radius_arg(&opts[i + 1..i + 3])?;
            extent = Some((Extent::Radius(r), conv));
            byradius = true;
            i += 2;
        } else if is(arg, "bybox") && remaining >= 3 && form.is_search() && !byradius {
            extent = Some(box_arg(&opts[i + 1..i + 4])?);
            bybox = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }

    if (o.store.is_some() || o.storedist) && (o.withdist || o.withhash || o.withcoord) {
        let what = if form == Form::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(CmdError::msg(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = || String::from_utf8_lossy(c_str(args[0])).into_owned();
    if form.is_search() && !(frommember || fromloc) {
        return Err(CmdError::msg(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            name()
        )));
    }
    if form.is_search() && !(byradius || bybox) {
        return Err(CmdError::msg(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {}",
            name()
        )));
    }
    if o.any && o.count == 0 {
        return Err(CmdError::err(
            "ERR the ANY argument requires COUNT argument",
        ));
    }

    let (Some(z), Some((lon, lat)), Some((extent, conversion))) = (z, center, extent) else {
        // No source key: an empty result (deleting the destination).
        match o.store {
            Some(dst) => {
                if lock.shard(db, dst).remove_live(dst, now).is_some() {
                    ctx.modified(dst, "del");
                }
                ctx.out.int(0);
            }
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    if o.count != 0 && o.sort == Sort::None && !o.any {
        // The closest N need sorting anyway.
        o.sort = Sort::Asc;
    }
    let shape = Shape {
        lon,
        lat,
        extent,
        conversion,
    };
    let mut points = members_in_shape(z, &shape, if o.any { o.count } else { 0 });
    let returned = if o.count == 0 {
        points.len()
    } else {
        points.len().min(o.count)
    };
    let asc = |a: &Point, b: &Point| a.dist.partial_cmp(&b.dist).unwrap_or(Ordering::Equal);
    let desc = |a: &Point, b: &Point| asc(b, a);
    // Redis sorts the whole result with the C library's qsort, a stable
    // merge sort in glibc, and a partial result with its own pqsort.
    match (o.sort, returned == points.len()) {
        (Sort::None, _) => {}
        (Sort::Asc, true) => points.sort_by(asc),
        (Sort::Desc, true) => points.sort_by(desc),
        (Sort::Asc, false) => geohash::partial_sort(&mut points, returned, &asc),
        (Sort::Desc, false) => geohash::partial_sort(&mut points, returned, &desc),
    }
    points.truncate(returned);
    for p in &mut points {
        p.dist /= conversion;
    }

    let Some(dst) = o.store else {
        reply_points(ctx.out, &points, &o);
        return Ok(());
    };
    let shard = lock.shard(db, dst);
    if points.is_empty() {
        if shard.remove_live(dst, now).is_some() {
            ctx.modified(dst, "del");
        }
        ctx.out.int(0);
        return Ok(());
    }
    let limits = limits(ctx);
    let mut stored = ZSet::new();
    for p in &points {
        stored.set(
            &p.member,
            if o.storedist { p.dist } else { p.score },
            limits,
        );
    }
    shard.set(dst, Value::ZSet(Box::new(stored)), 0, now);
    let event = if form.is_search() {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    ctx.modified(dst, event);
    ctx.out.int(points.len() as i64);
    let mut held = HeldShards::many(&server.keyspace, db, &mut lock);
    ctx.serve_blocked(dst, &mut held);
    Ok(())
}

/// The position of `member`, for FROMMEMBER and GEORADIUSBYMEMBER.
fn member_position(z: &ZSet, member: &[u8]) -> Result<(f64, f64), CmdError> {
    z.score(member)
        .map(geohash::decode_score)
        .ok_or(CmdError::err("ERR could not decode requested zset member"))
}

/// Replies with the found members, each with the requested extras.
fn reply_points(out: &mut Reply, points: &[Point], o: &Options) {
    let extras = o.withdist as usize + o.withhash as usize + o.withcoord as usize;
    out.array(points.len());
    for p in points {
        if extras > 0 {
            out.array(extras + 1);
        }
        out.bulk(&p.member);
        if o.withdist {
            reply_distance(out, p.dist);
        }
        if o.withhash {
            out.int(geohash::score_int(p.score));
        }
        if o.withcoord {
            out.array(2);
            human_double(out, p.lon);
            human_double(out, p.lat);
        }
    }
}
