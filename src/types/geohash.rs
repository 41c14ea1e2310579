//! Redis's geohash arithmetic: 52-bit interleaved scores, cell decoding,
//! neighbour cells, the haversine distance and the 9-cell search plan.
//!
//! Every expression evaluates in the same order as Redis 7.0.15
//! (`geohash.c`, `geohash_helper.c`) so the doubles come out bit for bit
//! identical: GEOPOS/GEODIST/GEOSEARCH replies print them to 17 and 4
//! decimals, where any reordering of the arithmetic shows.

use std::f64::consts::PI;

/// Westmost longitude Redis accepts.
pub const LON_MIN: f64 = -180.0;
/// Eastmost longitude Redis accepts.
pub const LON_MAX: f64 = 180.0;
/// Southmost latitude Redis accepts (the Web Mercator limit).
pub const LAT_MIN: f64 = -85.05112878;
/// Northmost latitude Redis accepts.
pub const LAT_MAX: f64 = 85.05112878;
/// Bits per coordinate in a stored score (26 + 26 = 52, exact in a double).
pub const STEP_MAX: u8 = 26;
/// The earth radius Redis measures distances with, in metres.
pub const EARTH_RADIUS: f64 = 6372797.560856;
/// Half the Mercator world width, the scale of the step estimate.
const MERCATOR_MAX: f64 = 20037726.37;
/// Degrees to radians, the same constant expression as Redis's `D_R`.
const D_R: f64 = PI / 180.0;

fn deg_rad(deg: f64) -> f64 {
    deg * D_R
}

fn rad_deg(rad: f64) -> f64 {
    rad / D_R
}

/// A closed coordinate interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// Lower bound.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
}

/// The longitude range of every geohash.
pub const LON_RANGE: Range = Range {
    min: LON_MIN,
    max: LON_MAX,
};
/// The latitude range of Redis's scores (Mercator-limited).
pub const LAT_RANGE: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};
/// The latitude range of standard geohash strings (GEOHASH output).
pub const LAT_RANGE_STANDARD: Range = Range {
    min: -90.0,
    max: 90.0,
};

/// A geohash cell: `step` bits per coordinate, interleaved (latitude in
/// the even bits, longitude in the odd ones).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hash {
    /// The interleaved bits.
    pub bits: u64,
    /// Bits per coordinate.
    pub step: u8,
}

impl Hash {
    /// Whether this is the "no cell" marker of a pruned neighbour.
    pub fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The cell's bits left-aligned to 52 bits: the lowest score inside it.
    pub fn align52(&self) -> u64 {
        self.bits << (52 - 2 * self.step as u32)
    }
}

/// The area a cell covers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    /// Longitude span.
    pub lon: Range,
    /// Latitude span.
    pub lat: Range,
}

/// Spreads the 32 bits of `v` to the even bit positions of a u64.
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bits of `v` into a u32 (the inverse of [`spread`]).
fn gather(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0xFFFF_FFFF) as u32
}

/// Encodes a position at `step` bits per coordinate within the given
/// ranges; `None` outside the accepted coordinates or the ranges.
pub fn encode(lon_range: Range, lat_range: Range, lon: f64, lat: f64, step: u8) -> Option<Hash> {
    if step == 0 || step > 32 {
        return None;
    }
    if !(LON_MIN..=LON_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_range.min || lat > lat_range.max || lon < lon_range.min || lon > lon_range.max {
        return None;
    }
    let mut lat_offset = (lat - lat_range.min) / (lat_range.max - lat_range.min);
    let mut lon_offset = (lon - lon_range.min) / (lon_range.max - lon_range.min);
    let cells = (1u64 << step) as f64;
    lat_offset *= cells;
    lon_offset *= cells;
    // Truncation toward zero, like C's double -> uint32_t conversion; the
    // top edge (offset exactly 2^step) spills into the next bit as in Redis.
    let bits = spread(lat_offset as u32) | (spread(lon_offset as u32) << 1);
    Some(Hash { bits, step })
}

/// Encodes a position in Redis's score coordinate system.
pub fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<Hash> {
    encode(LON_RANGE, LAT_RANGE, lon, lat, step)
}

/// The area of cell `hash` within the given ranges.
pub fn decode(lon_range: Range, lat_range: Range, hash: Hash) -> Area {
    let lat_cell = gather(hash.bits) as f64;
    let lon_cell = gather(hash.bits >> 1) as f64;
    let cells = (1u64 << hash.step) as f64;
    let lat_scale = lat_range.max - lat_range.min;
    let lon_scale = lon_range.max - lon_range.min;
    Area {
        lat: Range {
            min: lat_range.min + (lat_cell / cells) * lat_scale,
            max: lat_range.min + ((lat_cell + 1.0) / cells) * lat_scale,
        },
        lon: Range {
            min: lon_range.min + (lon_cell / cells) * lon_scale,
            max: lon_range.min + ((lon_cell + 1.0) / cells) * lon_scale,
        },
    }
}

/// The centre of `area`, clamped to the accepted coordinates.
pub fn area_center(area: &Area) -> (f64, f64) {
    let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The bits of a score as Redis reads them with a C `(uint64_t)` cast,
/// compiled for x86-64: values past the unsigned range do not saturate
/// but give the hardware's "integer indefinite" patterns. Scores that are
/// not geohashes (plain ZADD members) decode to these exact positions.
pub fn score_bits(score: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    // cvttsd2si: truncation, or i64::MIN when the value does not fit.
    let cvt = |v: f64| -> u64 {
        if (-TWO63..TWO63).contains(&v) {
            v as i64 as u64
        } else {
            i64::MIN as u64
        }
    };
    if score < TWO63 {
        cvt(score)
    } else {
        cvt(score - TWO63) ^ (1 << 63)
    }
}

/// A C `(long long)` cast of a score on x86-64 (WITHHASH replies).
pub fn score_int(score: f64) -> i64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if (-TWO63..TWO63).contains(&score) {
        score as i64
    } else {
        i64::MIN
    }
}

/// The position (longitude, latitude) a sorted-set score stands for.
pub fn decode_score(score: f64) -> (f64, f64) {
    let hash = Hash {
        bits: score_bits(score),
        step: STEP_MAX,
    };
    area_center(&decode(LON_RANGE, LAT_RANGE, hash))
}

/// The score GEOADD stores for a valid position.
pub fn score_of(lon: f64, lat: f64) -> Option<u64> {
    encode_wgs84(lon, lat, STEP_MAX).map(|h| h.align52())
}

/// The 11-character standard geohash string of a position (GEOHASH):
/// re-encoded over latitude -90..90; the 11th character, beyond the 52
/// stored bits, is always `0`.
pub fn geohash_string(lon: f64, lat: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let bits = encode(LON_RANGE, LAT_RANGE_STANDARD, lon, lat, STEP_MAX).map_or(0, |h| h.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().take(10).enumerate() {
        let idx = (bits >> (52 - (i + 1) * 5)) & 0x1f;
        *c = ALPHABET[idx as usize];
    }
    out
}

/// Moves a cell `d` (-1, 0, 1) cells east, wrapping around.
fn move_x(hash: &mut Hash, d: i8) {
    // A zero-step cell has no neighbours (and would overflow the shift).
    if d == 0 || hash.step == 0 {
        return;
    }
    let shift = 64 - 2 * hash.step as u32;
    let mut x = hash.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = hash.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> shift;
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x = (x | zz).wrapping_sub(zz + 1);
    }
    x &= 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    hash.bits = x | y;
}

/// Moves a cell `d` (-1, 0, 1) cells north, wrapping around.
fn move_y(hash: &mut Hash, d: i8) {
    // A zero-step cell has no neighbours (and would overflow the shift).
    if d == 0 || hash.step == 0 {
        return;
    }
    let shift = 64 - 2 * hash.step as u32;
    let x = hash.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let mut y = hash.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y = (y | zz).wrapping_sub(zz + 1);
    }
    y &= 0x5555_5555_5555_5555u64 >> shift;
    hash.bits = x | y;
}

fn moved(hash: Hash, dx: i8, dy: i8) -> Hash {
    let mut h = hash;
    move_x(&mut h, dx);
    move_y(&mut h, dy);
    h
}

/// The great-circle distance in metres between two positions, with
/// Redis 7.0's haversine formula.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lat1r = deg_rad(lat1);
    let lon1r = deg_rad(lon1);
    let lat2r = deg_rad(lat2);
    let lon2r = deg_rad(lon2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let v = ((lon2r - lon1r) / 2.0).sin();
    2.0 * EARTH_RADIUS * (u * u + lat1r.cos() * lat2r.cos() * v * v).sqrt().asin()
}

/// The cell size (bits per coordinate) whose cells cover `range_m`
/// metres around latitude `lat`.
pub fn estimate_steps(range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return 26;
    }
    let mut range = range_m;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    // Two steps coarser so the search area fits in most cases.
    step -= 2;
    // Meridians converge towards the poles: cells get narrower.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// What a search covers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Extent {
    /// A circle of this radius (in the query unit).
    Radius(f64),
    /// An axis-aligned box of this width and height (in the query unit).
    Box {
        /// East-west size.
        width: f64,
        /// North-south size.
        height: f64,
    },
}

/// A search shape: centre, extent and the unit's size in metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    /// Centre longitude.
    pub lon: f64,
    /// Centre latitude.
    pub lat: f64,
    /// Radius or box.
    pub extent: Extent,
    /// Metres per unit of the extent.
    pub conversion: f64,
}

impl Shape {
    /// The bounding box `[min_lon, min_lat, max_lon, max_lat]` of the
    /// shape; longitudes widen on the edge nearer the pole.
    pub fn bounding_box(&self) -> [f64; 4] {
        let (half_h, half_w) = match self.extent {
            Extent::Radius(r) => (r, r),
            Extent::Box { width, height } => (height / 2.0, width / 2.0),
        };
        let height = self.conversion * half_h;
        let width = self.conversion * half_w;
        let lat_delta = rad_deg(height / EARTH_RADIUS);
        let lon_delta_top = rad_deg(width / EARTH_RADIUS / deg_rad(self.lat + lat_delta).cos());
        let lon_delta_bottom = rad_deg(width / EARTH_RADIUS / deg_rad(self.lat - lat_delta).cos());
        let lon_delta = if self.lat < 0.0 {
            lon_delta_bottom
        } else {
            lon_delta_top
        };
        [
            self.lon - lon_delta,
            self.lat - lat_delta,
            self.lon + lon_delta,
            self.lat + lat_delta,
        ]
    }

    /// The distance in metres from the centre to the position when it
    /// lies inside the shape.
    pub fn distance_if_inside(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.extent {
            Extent::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.conversion).then_some(d)
            }
            Extent::Box { width, height } => {
                let (width, height) = (width * self.conversion, height * self.conversion);
                let lon_distance = distance(lon, lat, self.lon, lat);
                let lat_distance = distance(lon, lat, lon, self.lat);
                if lon_distance > width / 2.0 || lat_distance > height / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }

    /// The cells to scan, in Redis's order: the centre cell, then north,
    /// south, east, west, north-east, north-west, south-east, south-west;
    /// pruned neighbours are zero hashes ([`Hash::is_zero`]).
    pub fn search_cells(&self) -> [Hash; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let radius_m = match self.extent {
            Extent::Radius(r) => r,
            Extent::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.conversion;
        let mut steps = estimate_steps(radius_m, self.lat);
        let center = |steps| encode_wgs84(self.lon, self.lat, steps).unwrap_or_default();
        let mut hash = center(steps);
        let area_of = |h: Hash| decode(LON_RANGE, LAT_RANGE, h);
        // A neighbour that does not reach the bounding box's edge means the
        // cells are too small to cover the shape: go one step coarser.
        let decrease = area_of(moved(hash, 0, 1)).lat.max < max_lat
            || area_of(moved(hash, 0, -1)).lat.min > min_lat
            || area_of(moved(hash, 1, 0)).lon.max < max_lon
            || area_of(moved(hash, -1, 0)).lon.min > min_lon;
        if steps > 1 && decrease {
            steps -= 1;
            hash = center(steps);
        }
        let area = area_of(hash);
        let mut cells = [
            hash,
            moved(hash, 0, 1),
            moved(hash, 0, -1),
            moved(hash, 1, 0),
            moved(hash, -1, 0),
            moved(hash, 1, 1),
            moved(hash, -1, 1),
            moved(hash, 1, -1),
            moved(hash, -1, -1),
        ];
        // Drop the neighbours on sides the centre cell already covers.
        if steps >= 2 {
            let zero = |cells: &mut [Hash; 9], idx: [usize; 3]| {
                for i in idx {
                    cells[i] = Hash::default();
                }
            };
            if area.lat.min < min_lat {
                zero(&mut cells, [2, 7, 8]);
            }
            if area.lat.max > max_lat {
                zero(&mut cells, [1, 5, 6]);
            }
            if area.lon.min < min_lon {
                zero(&mut cells, [4, 8, 6]);
            }
            if area.lon.max > max_lon {
                zero(&mut cells, [3, 7, 5]);
            }
        }
        cells
    }
}

/// Sorts the first `keep` positions of `v` into place (the rest in any
/// order) with Redis's `pqsort`, a partial Bentley-McIlroy quicksort: with
/// COUNT, equal distances come out in exactly Redis's order.
pub fn partial_sort<T>(v: &mut [T], keep: usize, cmp: &impl Fn(&T, &T) -> std::cmp::Ordering) {
    if keep == 0 || v.is_empty() {
        return;
    }
    pqsort(v, 0, keep.min(v.len()) - 1, cmp);
}

/// Median of three indexes, as the reference picks it.
fn med3<T>(
    v: &[T],
    a: usize,
    b: usize,
    c: usize,
    cmp: &impl Fn(&T, &T) -> std::cmp::Ordering,
) -> usize {
    use std::cmp::Ordering::{Greater, Less};
    if cmp(&v[a], &v[b]) == Less {
        if cmp(&v[b], &v[c]) == Less {
            b
        } else if cmp(&v[a], &v[c]) == Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Greater {
        b
    } else if cmp(&v[a], &v[c]) == Less {
        a
    } else {
        c
    }
}

/// Swaps the `n` elements starting at `a` with the `n` starting at `b`.
fn block_swap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// Sorts `v` so the (slice-relative) positions `lo..=hi` hold what a full
/// sort would put there; sub-partitions outside that window are skipped.
fn pqsort<T>(v: &mut [T], lo: usize, hi: usize, cmp: &impl Fn(&T, &T) -> std::cmp::Ordering) {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let n = v.len();
    if n < 7 {
        for m in 1..n {
            let mut l = m;
            while l > 0 && cmp(&v[l - 1], &v[l]) == Greater {
                v.swap(l, l - 1);
                l -= 1;
            }
        }
        return;
    }
    let mut m = n / 2;
    if n > 7 {
        let mut l = 0;
        let mut r = n - 1;
        if n > 40 {
            let d = n / 8;
            l = med3(v, l, l + d, l + 2 * d, cmp);
            m = med3(v, m - d, m, m + d, cmp);
            r = med3(v, r - 2 * d, r - d, r, cmp);
        }
        m = med3(v, l, m, r, cmp);
    }
    v.swap(0, m);
    // Bentley-McIlroy three-way partition around v[0]: equal keys are
    // parked at both ends ([0, pa) and (pd, n)) and swapped in afterwards.
    let (mut pa, mut pb) = (1usize, 1usize);
    let (mut pc, mut pd) = (n as isize - 1, n as isize - 1);
    loop {
        while pb as isize <= pc {
            match cmp(&v[pb], &v[0]) {
                Greater => break,
                Equal => {
                    v.swap(pa, pb);
                    pa += 1;
                }
                Less => {}
            }
            pb += 1;
        }
        while pb as isize <= pc {
            match cmp(&v[pc as usize], &v[0]) {
                Less => break,
                Equal => {
                    v.swap(pc as usize, pd as usize);
                    pd -= 1;
                }
                Greater => {}
            }
            pc -= 1;
        }
        if pb as isize > pc {
            break;
        }
        v.swap(pb, pc as usize);
        pb += 1;
        pc -= 1;
    }
    // Both scans stop with pb > pc >= 0, so the indexes are valid here.
    let (pc, pd) = (pc as usize, pd as usize);
    // Swap the parked equal keys into the middle.
    let r = pa.min(pb - pa);
    block_swap(v, 0, pb - r, r);
    let r = (pd - pc).min(n - pd - 1);
    block_swap(v, pb, n - r, r);
    // Recurse only into the sides that hold part of the wanted window.
    let left = pb - pa;
    if left > 1 && overlaps(lo, hi, 0, left - 1) {
        pqsort(&mut v[..left], lo, hi.min(left - 1), cmp);
    }
    let right = pd - pc;
    if right > 1 {
        let start = n - right;
        if overlaps(lo, hi, start, n - 1) {
            let lo = lo.saturating_sub(start);
            let hi = (hi - start).min(right - 1);
            pqsort(&mut v[start..], lo, hi, cmp);
        }
    }
}

/// Whether the window `lo..=hi` and the range `a..=b` intersect.
fn overlaps(lo: usize, hi: usize, a: usize, b: usize) -> bool {
    !(hi < a || lo > b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn scores_decode_inside_their_cell(lon in LON_MIN..=LON_MAX, lat in LAT_MIN..=LAT_MAX) {
            let score = score_of(lon, lat).unwrap();
            prop_assert!(score < 1 << 53);
            let (dlon, dlat) = decode_score(score as f64);
            // A 26-bit cell is 360/2^26 degrees wide and 170.1/2^26 high.
            prop_assert!((dlon - lon).abs() <= 360.0 / (1u64 << 27) as f64 + 1e-9);
            prop_assert!((dlat - lat).abs() <= 170.2 / (1u64 << 27) as f64 + 1e-9);
            // Re-encoding the decoded centre lands in the same cell.
            prop_assert_eq!(score_of(dlon, dlat), Some(score));
        }

        #[test]
        fn neighbours_share_edges(lon in -179.0f64..179.0, lat in -84.0f64..84.0, step in 1u8..=26) {
            let h = encode_wgs84(lon, lat, step).unwrap();
            let area = decode(LON_RANGE, LAT_RANGE, h);
            let east = decode(LON_RANGE, LAT_RANGE, moved(h, 1, 0));
            let north = decode(LON_RANGE, LAT_RANGE, moved(h, 0, 1));
            if area.lon.max < LON_MAX {
                prop_assert_eq!(east.lon.min, area.lon.max);
                prop_assert_eq!(east.lat, area.lat);
            }
            if area.lat.max < LAT_MAX {
                prop_assert_eq!(north.lat.min, area.lat.max);
                prop_assert_eq!(north.lon, area.lon);
            }
            prop_assert_eq!(moved(moved(h, -1, -1), 1, 1), h);
        }

        #[test]
        fn shapes_contain_their_centre(lon in -180.0f64..180.0, lat in -85.0f64..85.0, r in 0.0f64..1e7) {
            for extent in [Extent::Radius(r), Extent::Box { width: r, height: r }] {
                let shape = Shape { lon, lat, extent, conversion: 1.0 };
                prop_assert_eq!(shape.distance_if_inside(lon, lat), Some(0.0));
                let cells = shape.search_cells();
                prop_assert!(!cells[0].is_zero());
            }
        }
    }

    #[test]
    fn palermo_score_and_hash() {
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698));
        let (lon, lat) = decode_score(3479099956230698.0);
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        assert_eq!(&geohash_string(lon, lat), b"sqc8b49rny0");
    }

    #[test]
    fn out_of_range_scores_decode_like_redis() {
        // (uint64_t)-5.0 on x86-64 is 2^64 - 5: clamped to the north-east.
        assert_eq!(score_bits(-5.0), (-5i64) as u64);
        assert_eq!(score_bits(1e300), 0);
        assert_eq!(score_bits(-1e300), 1 << 63);
        assert_eq!(score_bits(9223372036854775808.0), 1 << 63);
        assert_eq!(decode_score(-5.0), (180.0, LAT_MAX));
        assert_eq!(score_int(1e300), i64::MIN);
    }

    #[test]
    fn neighbours_wrap_around() {
        let h = encode_wgs84(179.9, 0.0, 3).unwrap();
        let east = moved(h, 1, 0);
        let area = decode(LON_RANGE, LAT_RANGE, east);
        assert_eq!(area.lon.min, -180.0);
        let west = moved(east, -1, 0);
        assert_eq!(west, h);
        let north = moved(h, 0, 1);
        assert_eq!(moved(north, 0, -1), h);
    }

    #[test]
    fn steps_follow_the_radius() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        assert_eq!(estimate_steps(1000.0, 0.0), 14);
        assert_eq!(estimate_steps(1000.0, 70.0), 13);
        assert_eq!(estimate_steps(1000.0, -85.0), 12);
        assert_eq!(estimate_steps(1e9, 0.0), 1);
    }

    #[test]
    fn distance_palermo_catania() {
        let (a, b) = (
            decode_score(3479099956230698.0),
            decode_score(3479447370796909.0),
        );
        assert_eq!(
            format!("{:.4}", distance(a.0, a.1, b.0, b.1)),
            "166274.1516"
        );
    }

    #[test]
    fn fixed_formatting_rounds_ties_to_even_like_printf() {
        assert_eq!(format!("{:.4}", 0.03125), "0.0312");
        assert_eq!(format!("{:.4}", 0.09375), "0.0938");
        assert_eq!(format!("{:.0}", 2.5), "2");
    }

    #[test]
    fn partial_sort_orders_the_window() {
        let mut seed = 7u64;
        for n in [0usize, 1, 5, 7, 8, 40, 41, 200] {
            for keep in [1usize, 3, 10, 200] {
                let mut v: Vec<u64> = (0..n)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                        (seed >> 33) % 50
                    })
                    .collect();
                let mut sorted = v.clone();
                sorted.sort();
                partial_sort(&mut v, keep, &|a: &u64, b: &u64| a.cmp(b));
                let k = keep.min(n);
                assert_eq!(&v[..k], &sorted[..k], "n={n} keep={keep}");
                let mut all = v.clone();
                all.sort();
                assert_eq!(all, sorted);
            }
        }
    }
}
