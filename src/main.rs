//! The `vodsign` binary: only wiring; everything lives in the library.

/// mimalloc instead of the system allocator: a request allocates a few dozen small,
/// short-lived blocks (headers, futures, strings), which mimalloc serves for much less CPU
/// than glibc's malloc (docs/performance.md). Built without transparent huge pages
/// (`no_thp`), which would double the idle memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    vodsign::run_cli()
}
