//! The `vodsign` binary: only wiring; everything lives in the library.

fn main() -> std::process::ExitCode {
    vodsign::cli::main()
}
