//! The server log: Redis's four levels on top of `tracing`, written to
//! standard output or `logfile`, as text or as JSON lines.
//!
//! Level mapping (Redis name -> tracing level): `debug` -> TRACE,
//! `verbose` -> DEBUG, `notice` -> INFO, `warning` -> WARN (ERROR events
//! always pass unless the level is `nothing`). The level is held in an
//! atomic so `CONFIG SET loglevel` takes effect at once, as in Redis.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::Config;

/// Most verbose tracing level let through: 0 = nothing, 1 = ERROR and
/// WARN, 2 = INFO, 3 = DEBUG, 4 = TRACE.
static LEVEL: AtomicU8 = AtomicU8::new(2);

fn rank(level: &Level) -> u8 {
    match *level {
        Level::ERROR | Level::WARN => 1,
        Level::INFO => 2,
        Level::DEBUG => 3,
        Level::TRACE => 4,
    }
}

/// Applies a Redis `loglevel` name to the running filter.
pub fn set_level(loglevel: &str) {
    let rank = match loglevel {
        "debug" => 4,
        "verbose" => 3,
        "notice" => 2,
        "warning" => 1,
        _ => 0,
    };
    LEVEL.store(rank, Ordering::Relaxed);
}

/// Redis's name for the level of an event (used in JSON lines).
fn redis_level(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "debug",
        Level::DEBUG => "verbose",
        Level::INFO => "notice",
        Level::WARN | Level::ERROR => "warning",
    }
}

/// Installs the global subscriber described by `loglevel`, `logfile` and
/// `log-format`.
pub fn init(config: &Config) -> Result<(), String> {
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    set_level(&config.loglevel);
    let (writer, ansi) = if config.logfile.is_empty() {
        let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
        (BoxMakeWriter::new(std::io::stdout), tty)
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.logfile)
            .map_err(|e| format!("Can't open the log file {}: {e}", config.logfile))?;
        (BoxMakeWriter::new(std::sync::Mutex::new(file)), false)
    };
    // Re-evaluated per event (not cached per call site) so that a level
    // change by CONFIG SET applies to call sites already seen.
    let filter = tracing_subscriber::filter::dynamic_filter_fn(|meta, _| {
        rank(meta.level()) <= LEVEL.load(Ordering::Relaxed)
    })
    .with_callsite_filter(|_| tracing::subscriber::Interest::sometimes());
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    let layer: Box<dyn Layer<_> + Send + Sync> = if config.log_format == "json" {
        Box::new(layer.event_format(JsonLines).with_filter(filter))
    } else {
        Box::new(layer.with_target(false).with_ansi(ansi).with_filter(filter))
    };
    tracing_subscriber::registry()
        .with(layer)
        .try_init()
        .map_err(|e| format!("Can't initialise logging: {e}"))
}

/// One JSON object per event: `timestamp` (RFC 3339, UTC), `level` (Redis
/// name), `pid`, `message` and `fields` (the event's other fields).
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let mut fields = FieldsVisitor::default();
        event.record(&mut fields);
        let line = serde_json::json!({
            "timestamp": timestamp,
            "level": redis_level(event.metadata().level()),
            "pid": std::process::id(),
            "message": fields.message,
            "fields": serde_json::Value::Object(fields.other),
        });
        writeln!(writer, "{line}")
    }
}

/// Collects an event's fields, keeping their JSON types.
#[derive(Default)]
struct FieldsVisitor {
    message: String,
    other: serde_json::Map<String, serde_json::Value>,
}

impl FieldsVisitor {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        self.other.insert(field.name().to_string(), value);
    }
}

impl Visit for FieldsVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.put(field, value.into());
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.put(field, format!("{value:?}").into());
        }
    }
}
