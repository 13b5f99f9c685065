//! efs-dr: the operator's command line.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    efs_dr::run().await
}
