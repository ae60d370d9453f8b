fn main() -> std::process::ExitCode {
    firelater::cli::main()
}
