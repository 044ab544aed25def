//! Diagnostics through `tracing`, to standard error (standard output carries alerts only).
//! The level can be changed while running (a reload); the format is set once.

use std::io::IsTerminal;
use std::sync::OnceLock;

use seismo_config::{LogLevel, LoggingConfig, LoggingFormat};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, Registry};

static LEVEL: OnceLock<reload::Handle<LevelFilter, Registry>> = OnceLock::new();

fn filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    }
}

pub fn init(config: &LoggingConfig) {
    let (level, handle) = reload::Layer::new(filter(config.level));
    // Colours only on a terminal: journald and log files get plain text.
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(level);
    // A second init (tests) keeps the first subscriber; nothing to report.
    let installed = match config.format {
        LoggingFormat::Human => registry.with(fmt.with_target(false)).try_init(),
        LoggingFormat::Json => registry.with(fmt.json().flatten_event(true)).try_init(),
    };
    if installed.is_ok() {
        let _ = LEVEL.set(handle);
    }
}

/// Changes the level of the subscriber `init` installed.
pub fn set_level(level: LogLevel) -> Result<(), String> {
    let handle = LEVEL.get().ok_or("logging was not initialised")?;
    handle
        .modify(|f| *f = filter(level))
        .map_err(|e| e.to_string())
}
