fn main() -> std::process::ExitCode {
    seismo::cli::main()
}
