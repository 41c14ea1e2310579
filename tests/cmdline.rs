//! The binary's command line: `--version`, `--help` and `--test-config`.

mod common;

use std::process::{Command, Output};

fn ferrokv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrokv"))
        .args(args)
        .current_dir(common::scratch_dir("cmdline"))
        .output()
        .expect("run ferrokv")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn version_prints_one_line_and_exits_zero() {
    for flag in ["--version", "-v"] {
        let out = ferrokv(&[flag]);
        assert!(out.status.success(), "{flag}: {out:?}");
        let text = stdout(&out);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.starts_with(&format!(
                "ferrokv server v={} (Redis 7.0.15 compatible) ",
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );
    }
}

#[test]
fn help_lists_usage_and_every_directive() {
    let out = ferrokv(&["--help"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("Usage: ferrokv"), "{text}");
    for d in ferrokv::config::DIRECTIVES {
        assert!(
            text.contains(&format!("--{} ", d.name)),
            "--help lacks {}",
            d.name
        );
    }
    for flag in ["--version", "--test-config"] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn test_config_validates_file_and_flags() {
    let dir = common::scratch_dir("testconfig");
    let good = dir.join("good.toml");
    std::fs::write(&good, "# a comment\nport = 7001\nmaxclients = 100\n").unwrap();
    let good = good.to_str().unwrap();

    let out = ferrokv(&[good, "--timeout", "5", "--test-config"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).starts_with("Configuration test passed"),
        "{out:?}"
    );

    let out = ferrokv(&["--test-config"]);
    assert!(out.status.success(), "{out:?}");

    // A bad flag value, a bad file and a missing `dir` all fail.
    let out = ferrokv(&[good, "--maxclients", "lots", "--test-config"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("maxclients"),
        "{out:?}"
    );

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "portx = 1\n").unwrap();
    let out = ferrokv(&[bad.to_str().unwrap(), "--test-config"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("portx"),
        "{out:?}"
    );

    let out = ferrokv(&["--dir", "/nonexistent/ferrokv", "--test-config"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!stdout(&out).contains("passed"), "{out:?}");
}
