//! The command line: `seismo run | check-config | print-config | logparse`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use seismo_config::ConfigError;

/// Exit status for a configuration that was refused (also clap's status for bad usage).
pub const EXIT_CONFIG: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "seismo",
    version,
    about = "A lightweight agent that learns what normal looks like for your hosts and logs, and alerts on what is not."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent until SIGINT or SIGTERM.
    Run {
        /// Configuration file; without it, the embedded default (see `print-config`).
        #[arg(long, short, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Validate a configuration file: exit 0 when it is valid, 2 with the errors when not.
    CheckConfig {
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Print the embedded default configuration, documented.
    PrintConfig,
    /// Template-mine a log file offline: CSV `line,template_id,template` on stdout, one row per
    /// line; a summary of the templates with their counts on stderr.
    Logparse {
        /// Header layout in Loghub's syntax, e.g. "<Date> <Time> <Level> <Component>: <Content>";
        /// only `<Content>` is mined. Without it the whole line is mined.
        #[arg(long, value_name = "FMT")]
        log_format: Option<String>,
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

pub fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run { config } => run(config.as_deref()),
        Command::CheckConfig { path } => match seismo_config::load(&path) {
            Ok(_) => {
                println!("{}: ok", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => config_error(&e),
        },
        Command::PrintConfig => {
            print!("{}", seismo_config::DEFAULT_TOML);
            ExitCode::SUCCESS
        }
        Command::Logparse { log_format, file } => {
            crate::logparse::main(log_format.as_deref(), &file)
        }
    }
}

fn run(path: Option<&Path>) -> ExitCode {
    let loaded = match path {
        Some(p) => seismo_config::load(p),
        None => seismo_config::embedded_default(),
    };
    let config = match loaded {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    crate::logging::init(&config.logging);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .thread_name("seismo")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(crate::daemon::run(config));
    runtime.shutdown_timeout(std::time::Duration::from_millis(300));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn config_error(e: &ConfigError) -> ExitCode {
    eprintln!("error: invalid configuration: {e}");
    ExitCode::from(EXIT_CONFIG)
}
