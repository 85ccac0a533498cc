fn main() -> std::process::ExitCode {
    velvet::cli::main()
}
