//! The `medo-gateway` binary: a thin shell over [`medo_gateway::cli`].

fn main() -> std::process::ExitCode {
    medo_gateway::cli::main()
}
