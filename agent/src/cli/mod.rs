//! The command line: `seismo run | check-config | print-config | replay | backtest | logparse |
//! silence | status`.

pub mod backtest;
pub mod csv_series;
pub mod exit;
pub mod labels;
pub mod logparse;
pub mod plot;
pub mod replay;
pub mod silence;
pub mod status;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use seismo_config::{Config, ConfigError, Overrides};

use exit::EXIT_CONFIG;

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
        /// Configuration file; without it, $SEISMO_CONFIG, else the embedded default (see
        /// `print-config`). SEISMO_* environment overrides apply on top (see the README).
        #[arg(long, short, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Validate a configuration file (with the SEISMO_* environment overrides that `run` would
    /// apply): exit 0 when it is valid, 2 with the errors when not.
    CheckConfig {
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Print the embedded default configuration, documented.
    PrintConfig,
    /// Score a recorded `timestamp,value` CSV offline (rows to stdout), or with --nab every CSV
    /// under a folder into NAB's results layout.
    Replay {
        /// The CSV file to score; its scored rows go to stdout.
        #[arg(
            value_name = "FILE.csv",
            required_unless_present = "nab",
            conflicts_with = "nab"
        )]
        file: Option<PathBuf>,
        /// Score every *.csv under this folder (recursively) instead.
        #[arg(long, value_name = "DATA_DIR", requires = "out")]
        nab: Option<PathBuf>,
        /// Where --nab writes: RESULTS_DIR/NAME/<sub-folder>/NAME_<file name>.
        #[arg(long, value_name = "RESULTS_DIR/NAME", requires = "nab")]
        out: Option<PathBuf>,
        /// Configuration whose detector settings score each file (the signal is the file's
        /// stem); without it, the embedded default.
        #[arg(long, short, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Replace the configured detector kind, e.g. `windowed_gaussian` (NAB's baseline).
        #[arg(long, value_name = "NAME")]
        detector: Option<String>,
        /// Accept rows whose timestamp is earlier than the row before (refused by default for
        /// FILE.csv; --nab always takes rows in file order, as NAB does, and counts such rows).
        #[arg(long)]
        allow_unsorted: bool,
        /// Also draw FILE.csv's chart (values, expected range, score, alerts) into this SVG.
        #[arg(long, value_name = "CHART.svg", conflicts_with = "nab")]
        plot: Option<PathBuf>,
        /// The labelled windows to shade in the chart (NAB's combined_windows.json); without
        /// it, the one of FILE.csv's NAB layout (DIR/data/CAT/F.csv, DIR/labels/) if present.
        #[arg(long, value_name = "FILE", requires = "plot")]
        windows: Option<PathBuf>,
    },
    /// Score a results folder against labelled anomaly windows with NAB's scoring.
    Backtest {
        /// The data folder (NAB's data/); every *.csv under it is scored.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// The anomaly windows (NAB's labels/combined_windows.json).
        #[arg(long, value_name = "FILE")]
        windows: PathBuf,
        /// The detector's results: RESULTS_DIR/NAME, as `replay --nab` writes them.
        #[arg(long, value_name = "RESULTS_DIR/NAME")]
        results: PathBuf,
        /// standard, reward_low_FP or reward_low_FN; all three when absent.
        #[arg(long, value_parser = parse_profile)]
        profile: Option<seismo_detectors::nab::Profile>,
        /// NAB's thresholds.json: use its threshold for NAME instead of optimising one.
        #[arg(long, value_name = "FILE")]
        thresholds: Option<PathBuf>,
        /// Also draw one SVG chart per file into this folder (created if missing):
        /// DIR/<sub-folder>/<stem>.svg with values, windows, scores and detections.
        #[arg(long, value_name = "DIR")]
        plot_dir: Option<PathBuf>,
    },
    /// Add, list or expire silences on the local agent over its HTTP API (writes send the
    /// token from [http] token_file, default STATE_DIR/http.token). Exit 0 done, 1 refused or
    /// not reachable, 2 bad configuration or usage.
    Silence {
        /// The agent's configuration (for its listen address and token file); without it,
        /// $SEISMO_CONFIG, else the embedded default.
        #[arg(long, short, value_name = "PATH", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: silence::SilenceCommand,
    },
    /// What the local agent is doing, from its HTTP API: signals learning, scored by the early
    /// detectors or fully warmed (and when the next stage comes), and the alerts firing. Exit
    /// 0 with the summary, 1 when the agent cannot be reached, 2 bad configuration.
    Status {
        /// The agent's configuration (for its listen address); without it, $SEISMO_CONFIG,
        /// else the embedded default.
        #[arg(long, short, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Template-mine a log file offline: CSV `line,template_id,template` on stdout, one row per
    /// line; a summary of the templates with their counts on stderr.
    Logparse {
        /// Header layout in Loghub's syntax, e.g. "<Date> <Time> <Level> <Component>: <Content>";
        /// only `<Content>` is mined. Without it the whole line is mined.
        #[arg(long, value_name = "FMT")]
        log_format: Option<String>,
        /// How much of a token a variable takes: the whole token (`blk_1234` is `<*>`) or only
        /// its varying parts (`blk_<*>`).
        #[arg(long, value_name = "FORM", default_value = "token", value_parser = ["token", "parts"])]
        template_variables: String,
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

fn parse_profile(s: &str) -> Result<seismo_detectors::nab::Profile, String> {
    s.parse().map_err(|e| format!("{e}"))
}

pub fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run { config } => run(config),
        Command::CheckConfig { path } => match load_config(Some(&path)) {
            Ok((config, overrides)) if overrides.is_empty() => {
                warn_missing_dirs(&config);
                println!("{}: ok", path.display());
                ExitCode::SUCCESS
            }
            Ok((config, overrides)) => {
                warn_missing_dirs(&config);
                println!(
                    "{}: ok (with {})",
                    path.display(),
                    overrides.names().join(", ")
                );
                ExitCode::SUCCESS
            }
            Err(e) => config_error(&e),
        },
        Command::PrintConfig => {
            print!("{}", seismo_config::DEFAULT_TOML);
            ExitCode::SUCCESS
        }
        Command::Replay {
            file,
            nab,
            out,
            config,
            detector,
            allow_unsorted,
            plot,
            windows,
        } => crate::cli::replay::main(crate::cli::replay::ReplayArgs {
            file,
            nab,
            out,
            config,
            detector,
            allow_unsorted,
            plot,
            windows,
        }),
        Command::Backtest {
            data,
            windows,
            results,
            profile,
            thresholds,
            plot_dir,
        } => crate::cli::backtest::main(crate::cli::backtest::BacktestArgs {
            data,
            windows,
            results,
            profile,
            thresholds,
            plot_dir,
        }),
        Command::Silence { config, command } => {
            match load_config(configured_path(config).as_deref()) {
                Ok((config, _)) => silence::main(&config, command),
                Err(e) => config_error(&e),
            }
        }
        Command::Status { config } => match load_config(configured_path(config).as_deref()) {
            Ok((config, _)) => status::main(&config),
            Err(e) => config_error(&e),
        },
        Command::Logparse {
            log_format,
            template_variables,
            file,
        } => {
            let form = if template_variables == "parts" {
                seismo_detectors::VariableForm::Parts
            } else {
                seismo_detectors::VariableForm::Token
            };
            crate::cli::logparse::main(log_format.as_deref(), form, &file)
        }
    }
}

/// The configuration `run` uses: the file (or the embedded default) with the `SEISMO_*`
/// environment overrides applied.
/// `check-config`: globs whose directory does not exist are accepted, with a warning.
fn warn_missing_dirs(config: &Config) {
    for m in seismo_config::missing_dirs(&config.sources.files) {
        eprintln!("warning: {m}");
    }
}

fn load_config(path: Option<&Path>) -> Result<(Config, Overrides), ConfigError> {
    let overrides = Overrides::from_env()?;
    let config = match path {
        Some(p) => seismo_config::load_with(p, &overrides)?,
        None => overrides.apply(seismo_config::DEFAULT_TOML, seismo_config::DEFAULT_ORIGIN)?,
    };
    Ok((config, overrides))
}

/// `--config`, else `$SEISMO_CONFIG` (containers); `None`: the embedded default.
fn configured_path(path: Option<PathBuf>) -> Option<PathBuf> {
    path.or_else(|| {
        std::env::var_os(seismo_config::CONFIG_VAR)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    })
}

fn run(path: Option<PathBuf>) -> ExitCode {
    let path = configured_path(path);
    let (config, overrides) = match load_config(path.as_deref()) {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    crate::daemon::logging::init(&config.logging);
    for m in seismo_config::missing_dirs(&config.sources.files) {
        tracing::warn!(source = %m.source, glob = %m.glob, dir = %m.dir.display(), "{m}");
    }
    if !overrides.is_empty() {
        tracing::info!(variables = %overrides.names().join(", "), "configuration overridden from the environment");
    }
    crate::daemon::memory::limit_arenas();
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
    let result = runtime.block_on(crate::daemon::run(config, path));
    runtime.shutdown_timeout(std::time::Duration::from_millis(300));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A taken or impossible listen address, or an unusable token file, is a configuration
        // problem: exit 2, like one.
        Err(e)
            if e.downcast_ref::<crate::http::BindError>().is_some()
                || e.downcast_ref::<crate::http::TokenError>().is_some() =>
        {
            tracing::error!("{e:#}");
            ExitCode::from(EXIT_CONFIG)
        }
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
