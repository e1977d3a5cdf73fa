//! The `dsize` binary: everything lives in the library; this only returns the exit code.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    dsize::app::main()
}
