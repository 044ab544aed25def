// No unwrap()/expect() outside tests: input, I/O and the network must not crash the agent.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

fn main() -> std::process::ExitCode {
    seismo::cli::main()
}
