//! Value syntax of directives, as Redis's config parser accepts it.

/// Parses `yes`/`no` (case-insensitive).
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

/// Parses a memory amount like Redis's `memtoll`: `1024`, `1k` (1000),
/// `1kb` (1024), `5mb`, `1gb`…
pub fn parse_memory(s: &str) -> Result<u64, String> {
    let lower = s.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err("argument must be a memory value".into()),
    };
    // Like strtoull, no digits at all ("", "kb") reads as 0.
    let n: u64 = if digits.is_empty() {
        0
    } else {
        digits
            .parse()
            .map_err(|_| "argument must be a memory value".to_string())?
    };
    n.checked_mul(mul)
        .ok_or_else(|| "argument must be a memory value".into())
}

/// Renders a byte count the way `CONFIG GET` does (plain bytes).
pub fn format_memory(v: u64) -> String {
    v.to_string()
}

/// Parses an integer within `[min, max]`.
pub fn parse_int(s: &str, min: i64, max: i64) -> Result<i64, String> {
    let v: i64 = s
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if v < min || v > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(v)
}

/// Parses save points: `""` or pairs of `seconds changes`.
pub fn parse_save(s: &str) -> Result<Vec<(u64, u64)>, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    if !words.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    words
        .chunks(2)
        .map(|pair| match (pair[0].parse(), pair[1].parse()) {
            (Ok(secs), Ok(changes)) => Ok((secs, changes)),
            _ => Err("Invalid save parameters".into()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1k"), Ok(1000));
        assert_eq!(parse_memory("1KB"), Ok(1024));
        assert_eq!(parse_memory("512mb"), Ok(512 * 1024 * 1024));
        assert_eq!(parse_memory("1gb"), Ok(1 << 30));
        assert!(parse_memory("12x").is_err());
        // Redis's strtoull-based parser reads no digits as 0.
        assert_eq!(parse_memory(""), Ok(0));
        assert_eq!(parse_memory("kb"), Ok(0));
        assert!(parse_memory("-1").is_err());
    }

    #[test]
    fn save_points() {
        assert_eq!(
            parse_save("3600 1 300 100"),
            Ok(vec![(3600, 1), (300, 100)])
        );
        assert_eq!(parse_save(""), Ok(vec![]));
        assert!(parse_save("1").is_err());
    }
}
