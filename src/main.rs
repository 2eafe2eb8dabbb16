//! The `vodsign` binary: only wiring; everything lives in the library.

/// mimalloc instead of the system allocator: a request allocates a few dozen small,
/// short-lived blocks (headers, futures, strings), and glibc's malloc and free were about
/// half of the instructions of a `/healthz` request (docs/performance.md). Built without
/// transparent huge pages (`no_thp`): with them, idle RSS doubled to 19.6 MiB and RSS at
/// 1,000 connections rose to 71 MiB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    vodsign::cli::main()
}
