//! LOLWUT: ferrokv's own piece of ASCII art, then its version, the way
//! Redis ends its art with "Redis ver. X".

use crate::command::{CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};
use crate::server::VERSION;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("lolwut", lolwut);
}

/// Art size in character cells.
const COLS: usize = 66;
const ROWS: usize = 17;
/// Darkness ramp, light to dark.
const SHADES: &[u8] = b" .:-=+*#%@";
/// The version drawn when none is asked for (Redis 7.0's default is 7).
const DEFAULT_VERSION: i64 = 7;

/// `LOLWUT [VERSION v]`: like Redis, only the version number is parsed;
/// anything after it is ignored.
fn lolwut(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let version = match args {
        [_, keyword, v, ..] if is(keyword, "VERSION") => int(v)?,
        _ => DEFAULT_VERSION,
    };
    ctx.out.verbatim(render(version).as_bytes());
    Ok(())
}

/// Two stones dropped in a pond: the interference of their ripples, whose
/// wavelength each version sets differently.
fn render(version: i64) -> String {
    let freq = 0.45 + version.rem_euclid(7) as f64 * 0.06;
    let mut art = String::with_capacity((COLS + 1) * (ROWS + 2) + 32);
    for y in 0..ROWS {
        let line: String = (0..COLS)
            .map(|x| {
                // A character cell is about twice as tall as it is wide.
                let (fx, fy) = (x as f64 / 2.0, y as f64);
                let ripple = |cx: f64, cy: f64| (fx - cx).hypot(fy - cy) * freq;
                let level = (ripple(10.0, 6.0).sin() + ripple(23.0, 11.0).sin() + 2.0) / 4.0;
                let shade = (level * (SHADES.len() - 1) as f64).round() as usize;
                SHADES[shade.min(SHADES.len() - 1)] as char
            })
            .collect();
        art.push_str(line.trim_end());
        art.push('\n');
    }
    art.push('\n');
    art.push_str("ferrokv ver. ");
    art.push_str(VERSION);
    art.push('\n');
    art
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn art_ends_with_the_version_line_and_versions_differ() {
        let art = render(DEFAULT_VERSION);
        assert!(art.ends_with(&format!("\nferrokv ver. {VERSION}\n")));
        assert_eq!(art.lines().count(), ROWS + 2);
        assert!(art.lines().all(|l| l.len() <= COLS));
        assert_ne!(render(5), render(6));
        assert_eq!(render(-3), render(4));
    }
}
