//! The Docker packaging, checked without Docker (which can't run here):
//! the Dockerfile's build command and layout, the compose example's
//! structure, and the entrypoint and health-check scripts run with bash
//! against fake or real programs.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    std::fs::read_to_string(repo().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The Dockerfile's instructions, continuation lines joined, comments out.
fn instructions() -> Vec<String> {
    let text = read("Dockerfile");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    out
}

/// The `cargo build` commands of a shell text (`RUN` lines or a script).
fn cargo_builds(text: &str) -> Vec<String> {
    text.split("&&")
        .flat_map(|part| part.lines())
        .map(|l| l.trim().trim_start_matches("RUN ").trim())
        .filter(|l| l.starts_with("cargo build"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn dockerfile_builds_like_ci() {
    let runs: Vec<String> = instructions()
        .into_iter()
        .filter(|i| i.starts_with("RUN "))
        .collect();
    let builds = cargo_builds(&runs.join("\n"));
    assert_eq!(builds, vec!["cargo build --release --locked".to_string()]);
    // CI's own release build, when it has one, must be the same command.
    for ci in cargo_builds(&read(".ci/run")) {
        if ci.contains("--release") {
            assert_eq!(ci, builds[0], ".ci/run and the Dockerfile differ");
        }
    }
}

#[test]
fn dockerfile_copies_everything_cargo_needs() {
    let copied: Vec<String> = instructions()
        .iter()
        .filter(|i| i.starts_with("COPY ") && !i.contains("--from="))
        .flat_map(|i| {
            let words: Vec<&str> = i.split_whitespace().skip(1).collect();
            // Every word but the last (the destination) is a source.
            words[..words.len() - 1]
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    for source in &copied {
        assert!(repo().join(source).exists(), "COPY of missing {source}");
    }
    let manifest: toml::Table = read("Cargo.toml").parse().unwrap();
    let mut needed = vec![
        "Cargo.toml".to_string(),
        "Cargo.lock".to_string(),
        "src/main.rs".to_string(),
    ];
    if repo().join("build.rs").exists() {
        needed.push("build.rs".into());
    }
    for kind in ["bench", "example", "bin"] {
        let targets = manifest.get(kind).and_then(|v| v.as_array());
        for target in targets.into_iter().flatten() {
            if let Some(path) = target.get("path").and_then(|p| p.as_str()) {
                needed.push(path.to_string());
            }
        }
    }
    for path in needed {
        assert!(
            copied
                .iter()
                .any(|c| path == *c || Path::new(&path).starts_with(c)),
            "the build stage does not COPY {path}"
        );
    }
}

#[test]
fn dockerfile_runtime_stage_matches_the_official_image() {
    let all = instructions();
    let runtime_from = all
        .iter()
        .rposition(|i| i.starts_with("FROM "))
        .expect("FROM");
    let runtime = &all[runtime_from..];
    let has = |s: &str| runtime.iter().any(|i| i.contains(s));
    assert!(runtime[0].starts_with("FROM debian:"), "{}", runtime[0]);
    assert!(has(
        "apt-get install -y --no-install-recommends redis-tools"
    ));
    assert!(has("useradd -r -g redis -u 999 redis"));
    for line in [
        "WORKDIR /data",
        "VOLUME /data",
        "EXPOSE 6379",
        "STOPSIGNAL SIGTERM",
        "ENTRYPOINT [\"docker-entrypoint.sh\"]",
        "CMD [\"ferrokv\"]",
    ] {
        assert!(runtime.iter().any(|i| i == line), "missing {line}");
    }
    let health = runtime
        .iter()
        .find(|i| i.starts_with("HEALTHCHECK"))
        .expect("HEALTHCHECK");
    assert!(
        health.ends_with("CMD [\"docker-healthcheck.sh\"]"),
        "{health}"
    );
    let health_script = read("docker-healthcheck.sh");
    assert!(health_script.contains("redis-cli"));
    assert!(health_script.contains("'^loading:0'"));
    let ignore = read(".dockerignore");
    assert!(ignore.lines().any(|l| l.trim() == "target"));
}

/// A minimal YAML reader for the compose file: maps and `- item` lists by
/// indentation, giving `a.b.c` paths to their scalar values (list items
/// under their list's path). Enough for this file's structure; anything
/// it can't read (tabs, odd indentation) fails the test.
fn yaml_paths(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        assert!(!raw.contains('\t'), "line {}: tab in YAML", n + 1);
        let content = raw.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = raw.len() - content.len();
        assert!(indent % 2 == 0, "line {}: odd indentation", n + 1);
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let parent: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
        let parent = parent.join(".");
        if let Some(item) = content.strip_prefix("- ") {
            out.entry(parent).or_default().push(item.trim().to_string());
            continue;
        }
        let (key, value) = content
            .split_once(':')
            .unwrap_or_else(|| panic!("line {}: not `key: value`", n + 1));
        let path = if parent.is_empty() {
            key.to_string()
        } else {
            format!("{parent}.{key}")
        };
        let value = value.trim();
        let values = out.entry(path.clone()).or_default();
        if !value.is_empty() {
            values.push(value.to_string());
        }
        stack.push((indent, key.to_string()));
    }
    out
}

#[test]
fn compose_example_has_volume_and_health_check() {
    let yaml = yaml_paths(&read("docker-compose.yml"));
    let get = |p: &str| {
        yaml.get(p)
            .unwrap_or_else(|| panic!("compose lacks {p}: {yaml:?}"))
    };
    assert_eq!(get("services.ferrokv.build"), &["."]);
    let volume = &get("services.ferrokv.volumes")[0];
    let (name, target) = volume.split_once(':').unwrap();
    assert_eq!(target, "/data");
    assert!(
        yaml.contains_key(&format!("volumes.{name}")),
        "named volume {name} not declared"
    );
    assert_eq!(
        get("services.ferrokv.healthcheck.test"),
        &["[\"CMD\", \"docker-healthcheck.sh\"]"]
    );
    assert_eq!(get("services.ferrokv.ports"), &["\"6379:6379\""]);
    let command = &get("services.ferrokv.command")[0];
    assert!(command.starts_with("[\"ferrokv\""), "{command}");
}

/// Runs `script` with bash, `fakes` (name -> shell body) first on PATH.
fn run_script(script: &str, args: &[&str], fakes: &[(&str, &str)], env: &[(&str, &str)]) -> Output {
    let dir = common::scratch_dir("docker-sh");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (name, body) in fakes {
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::process::Command::new("chmod")
            .arg("+x")
            .arg(&path)
            .status()
            .unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bash")
        .arg(repo().join(script))
        .args(args)
        .env("PATH", path)
        .envs(env.iter().copied())
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash");
    let deadline = Instant::now() + common::TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "{script} hangs");
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    out
}

/// The fake server prints the program name and each argument on a line.
const FAKE_FERROKV: (&str, &str) = (
    "ferrokv",
    "echo ferrokv; for a in \"$@\"; do echo \"$a\"; done",
);
const NOT_ROOT: (&str, &str) = ("id", "echo 1000");

fn entrypoint(args: &[&str]) -> Vec<String> {
    let out = run_script("docker-entrypoint.sh", args, &[FAKE_FERROKV, NOT_ROOT], &[]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn entrypoint_maps_arguments_like_the_official_image() {
    let all = "* -::*";
    assert_eq!(
        entrypoint(&["ferrokv"]),
        ["ferrokv", "--bind", all, "--protected-mode", "no"]
    );
    // Flags alone are appended to the server command.
    assert_eq!(
        entrypoint(&["--appendonly", "yes"]),
        [
            "ferrokv",
            "--appendonly",
            "yes",
            "--bind",
            all,
            "--protected-mode",
            "no"
        ]
    );
    assert_eq!(
        entrypoint(&["ferrokv", "--appendonly", "yes"]),
        [
            "ferrokv",
            "--appendonly",
            "yes",
            "--bind",
            all,
            "--protected-mode",
            "no"
        ]
    );
    // An explicit bind wins.
    assert_eq!(
        entrypoint(&["ferrokv", "--bind", "127.0.0.1"]),
        ["ferrokv", "--bind", "127.0.0.1", "--protected-mode", "no"]
    );
    // So does an explicit protected-mode.
    assert_eq!(
        entrypoint(&["--protected-mode", "yes"]),
        ["ferrokv", "--protected-mode", "yes", "--bind", all]
    );
    // A config file first: run by ferrokv; its own bind is respected.
    let dir = common::scratch_dir("docker-conf");
    let with_bind = dir.join("redis.conf");
    std::fs::write(&with_bind, "port 6379\nbind 10.0.0.1\n").unwrap();
    let conf = with_bind.to_str().unwrap();
    assert_eq!(
        entrypoint(&[conf]),
        ["ferrokv", conf, "--protected-mode", "no"]
    );
    let toml = dir.join("redis.toml");
    std::fs::write(&toml, "port = 6379\n").unwrap();
    let toml = toml.to_str().unwrap();
    assert_eq!(
        entrypoint(&[toml]),
        ["ferrokv", toml, "--bind", all, "--protected-mode", "no"]
    );
    std::fs::remove_dir_all(&dir).ok();
    // Other commands run as given.
    assert_eq!(entrypoint(&["echo", "hello"]), ["hello"]);
}

#[test]
fn entrypoint_drops_root_for_the_redis_user() {
    let out = run_script(
        "docker-entrypoint.sh",
        &["--port", "7000"],
        &[
            FAKE_FERROKV,
            ("id", "echo 0"),
            ("find", "echo find \"$@\""),
            (
                "setpriv",
                "echo setpriv; for a in \"$@\"; do echo \"$a\"; done",
            ),
        ],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        lines,
        [
            "find . ! -user redis -exec chown redis:redis {} +",
            "setpriv",
            "--reuid=redis",
            "--regid=redis",
            "--init-groups",
            "ferrokv",
            "--port",
            "7000",
            "--bind",
            "* -::*",
            "--protected-mode",
            "no"
        ]
    );
}

#[test]
fn healthcheck_needs_pong_and_loading_done() {
    let s = common::Server::start();
    let port = s.port.to_string();
    let ok = run_script(
        "docker-healthcheck.sh",
        &[],
        &[],
        &[("FERROKV_PORT", &port)],
    );
    assert!(ok.status.success(), "{ok:?}");
    let down = common::free_port().to_string();
    let bad = run_script(
        "docker-healthcheck.sh",
        &[],
        &[],
        &[("FERROKV_PORT", &down)],
    );
    assert!(!bad.status.success());
    // A password-protected server: healthy only with REDISCLI_AUTH.
    let locked = common::Server::start_with(&["--requirepass", "s3cret"]);
    let port = locked.port.to_string();
    let env = [("FERROKV_PORT", port.as_str())];
    assert!(!run_script("docker-healthcheck.sh", &[], &[], &env)
        .status
        .success());
    let env = [("FERROKV_PORT", port.as_str()), ("REDISCLI_AUTH", "s3cret")];
    let authed = run_script("docker-healthcheck.sh", &[], &[], &env);
    assert!(authed.status.success(), "{authed:?}");
    // Still loading: PONG alone is not healthy.
    let loading = run_script(
        "docker-healthcheck.sh",
        &[],
        &[(
            "redis-cli",
            "case \"$*\" in *ping) echo PONG ;; *) printf 'loading:1\\r\\n' ;; esac",
        )],
        &[],
    );
    assert!(!loading.status.success());
}
