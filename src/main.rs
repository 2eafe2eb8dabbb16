//! The `vodsign` binary: only wiring; everything lives in the library.

/// mimalloc instead of the system allocator: a request allocates a few dozen small,
/// short-lived blocks (headers, futures, strings), and glibc's malloc and free were about
/// half of the instructions of a `/healthz` request (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    vodsign::cli::main()
}
