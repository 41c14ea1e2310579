//! The `ferrokv` server binary.

use std::path::PathBuf;

use clap::{Arg, ArgAction, Command};
use ferrokv::config::{Config, DIRECTIVES};
use ferrokv::server;

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn cli() -> Command {
    let mut cmd = Command::new("ferrokv")
        .about("A Redis-protocol-compatible in-memory data server")
        .disable_version_flag(true)
        .after_help(
            "Every directive can also be set in the TOML configuration file \
             (`name = value`) and, when mutable, with CONFIG SET.\n\n\
             Examples:\n  \
             ferrokv                          (defaults, or ./redis.toml when present)\n  \
             ferrokv /etc/ferrokv/redis.toml\n  \
             ferrokv /etc/redis/redis.conf    (Redis syntax; unsupported directives are listed and skipped)\n  \
             ferrokv --port 7777 --save \"\"\n  \
             ferrokv redis.toml --loglevel verbose --test-config",
        )
        .arg(
            Arg::new("version")
                .short('v')
                .long("version")
                .action(ArgAction::SetTrue)
                .help("Print the version and exit"),
        )
        .arg(
            Arg::new("test-config")
                .long("test-config")
                .action(ArgAction::SetTrue)
                .help("Check the configuration (file and options), report and exit"),
        )
        .arg(
            Arg::new("config-file")
                .help("Configuration file (redis.toml, or a redis.conf)")
                .value_name("CONFIG"),
        )
        .arg(
            Arg::new("config-format")
                .long("config-format")
                .value_name("FORMAT")
                .value_parser(["toml", "redis"])
                .help("Syntax of the configuration file: toml, or redis (a redis.conf); default: redis for *.conf files, toml otherwise"),
        )
        .arg(
            Arg::new("config")
                .long("config")
                .value_name("PATH")
                .help("Configuration file (TOML); default ./redis.toml when present"),
        );
    for d in DIRECTIVES {
        cmd = cmd.arg(
            Arg::new(d.name)
                .long(d.name)
                .help(d.doc)
                .num_args(1)
                .allow_hyphen_values(true)
                .action(ArgAction::Append)
                .value_name("VALUE"),
        );
    }
    cmd
}

/// Takes out `--name value…` options naming Redis directives ferrokv does
/// not have (`--protected-mode no` from a command copied from the redis
/// image), so they are skipped and logged like in a redis.conf rather
/// than refused. Returns the remaining arguments and the skipped names.
fn drop_unsupported_redis_flags(args: impl Iterator<Item = String>) -> (Vec<String>, Vec<String>) {
    let (mut kept, mut skipped) = (Vec::new(), Vec::new());
    let mut skipping = false;
    for arg in args {
        if let Some(name) = arg.strip_prefix("--") {
            let name = name.split('=').next().unwrap_or(name);
            skipping = ferrokv::config::directive(name).is_none()
                && ferrokv::config::is_redis_directive(name);
            if skipping {
                skipped.push(name.to_ascii_lowercase());
                continue;
            }
        }
        if !skipping {
            kept.push(arg);
        }
    }
    (kept, skipped)
}

/// Rewrites `--directive v1 v2 …` (redis-server style, where values may
/// start with `-`, like `-::1`) into `--directive=v1 v2` for clap.
fn join_directive_values(args: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut open: Option<(String, Vec<String>)> = None;
    let close = |open: &mut Option<(String, Vec<String>)>, out: &mut Vec<String>| {
        if let Some((name, values)) = open.take() {
            out.push(format!("{name}={}", values.join(" ")));
        }
    };
    for arg in args {
        let directive = arg
            .strip_prefix("--")
            .filter(|n| !n.contains('=') && ferrokv::config::directive(n).is_some());
        if arg.starts_with("--") {
            close(&mut open, &mut out);
        }
        match (directive, open.as_mut()) {
            (Some(_), _) => open = Some((arg, Vec::new())),
            (None, Some((_, values))) => values.push(arg),
            (None, None) => out.push(arg),
        }
    }
    close(&mut open, &mut out);
    out
}

/// The `--version` line, shaped like redis-server's.
fn version_line() -> String {
    format!(
        "ferrokv server v={} (Redis {} compatible) malloc=jemalloc bits={}",
        server::VERSION,
        server::REDIS_VERSION,
        usize::BITS
    )
}

/// Builds the configuration from the file and the command-line directives.
/// Also returns the redis.conf directives that were skipped, to log once
/// logging is up.
fn load_config(matches: &clap::ArgMatches) -> Result<(Config, Vec<String>), String> {
    let mut config = Config::default();
    let mut ignored = Vec::new();
    let path = matches
        .get_one::<String>("config")
        .or(matches.get_one::<String>("config-file"))
        .map(PathBuf::from)
        .or_else(|| {
            let default = PathBuf::from("redis.toml");
            default.exists().then_some(default)
        });
    if let Some(path) = path {
        let redis_syntax = match matches.get_one::<String>("config-format") {
            Some(format) => format == "redis",
            None => path.extension().is_some_and(|e| e == "conf"),
        };
        if redis_syntax {
            ignored = config.load_redis_conf(&path).map_err(|e| e.to_string())?;
        } else {
            config.load_toml(&path).map_err(|e| e.to_string())?;
        }
    }
    for d in DIRECTIVES {
        for value in matches.get_many::<String>(d.name).into_iter().flatten() {
            config.set(d.name, value).map_err(|e| e.to_string())?;
        }
    }
    Ok((config, ignored))
}

/// `--test-config`: what loading can't see but start-up would trip on.
fn test_config(config: &Config) -> Result<(), String> {
    if !std::path::Path::new(&config.dir).is_dir() {
        return Err(format!("Can't chdir to '{}': not a directory", config.dir));
    }
    Ok(())
}

fn fatal_config(e: &str) -> ! {
    eprintln!(
        "*** FATAL CONFIG ERROR (ferrokv {}) ***\n{e}",
        server::VERSION
    );
    std::process::exit(1);
}

fn main() {
    let (args, skipped_flags) = drop_unsupported_redis_flags(std::env::args());
    let matches = cli().get_matches_from(join_directive_values(args.into_iter()));
    if matches.get_flag("version") {
        println!("{}", version_line());
        return;
    }
    let (config, ignored) = load_config(&matches).unwrap_or_else(|e| fatal_config(&e));
    let ignored: Vec<String> = ignored.into_iter().chain(skipped_flags).collect();
    if matches.get_flag("test-config") {
        if let Err(e) = test_config(&config) {
            fatal_config(&e);
        }
        let file = config
            .config_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "none (defaults)".into());
        println!("Configuration test passed (config file: {file})");
        return;
    }
    if config.daemonize {
        // Before logging and the runtime: fork keeps only this thread.
        if let Err(e) = ferrokv::process::daemonize() {
            eprintln!("Can't daemonize: {e}");
            std::process::exit(1);
        }
    }
    if let Err(e) = ferrokv::logging::init(&config) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    if !ignored.is_empty() {
        tracing::warn!(
            "Redis directives not supported by ferrokv, ignored: {}",
            ignored.join(", ")
        );
    }
    if let Err(e) = std::env::set_current_dir(&config.dir) {
        eprintln!("Can't chdir to '{}': {e}", config.dir);
        std::process::exit(1);
    }
    let threads = server::worker_threads(&config);
    tracing::info!(
        "ferrokv {} (Redis {} compatible) starting: pid={}, port={}, threads={}, config={}",
        server::VERSION,
        server::REDIS_VERSION,
        std::process::id(),
        config.port,
        threads,
        config
            .config_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "none (defaults)".into()),
    );
    // Always the multi-thread scheduler, even with one worker: a script
    // past `busy-reply-threshold` hands its worker to a fresh thread
    // (`block_in_place`) so other clients still get BUSY and SCRIPT KILL.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let pidfile = ferrokv::process::PidFile::create(&config);
    let result = runtime.block_on(server::run(config));
    // Removed before exit(), which skips destructors.
    drop(pidfile);
    if let Err(e) = result {
        tracing::error!("{e}");
        eprintln!("{e}");
        std::process::exit(1);
    }
    std::process::exit(0);
}
