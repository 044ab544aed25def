//! Exit statuses of the commands.

/// Exit status for a configuration that was refused (also clap's status for bad usage).
pub const EXIT_CONFIG: u8 = 2;

/// Exit status for a command-line argument that does not parse (e.g. a bad `--log-format`).
pub const EXIT_USAGE: u8 = 2;
