use clap::{Parser, Subcommand};
use efs_dr_emulator::{start, ClockMode, EmulatorConfig, Seed};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Local emulator of the AWS EFS replication API and the CloudWatch and SNS subset efs-dr uses.
#[derive(Parser)]
#[command(name = "efs-dr-emulator", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every Region on one port. Point clients at it with AWS_ENDPOINT_URL.
    Serve {
        /// Address to listen on; port 0 picks a free port (printed on start).
        #[arg(long, default_value = "127.0.0.1:4566")]
        listen: SocketAddr,
        /// Topology seed file (JSON); without it, the documented default topology.
        #[arg(long)]
        seed: Option<PathBuf>,
        /// Emulated seconds per real second (1 = real time).
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// Time moves only through POST /_emulator/clock (deterministic tests).
        #[arg(long, conflicts_with = "time_scale")]
        manual_clock: bool,
        /// Lambda Invoke API endpoint for SNS `lambda` subscriptions, e.g. http://127.0.0.1:9000.
        #[arg(long)]
        lambda_endpoint: Option<String>,
        /// Seed of the random generator behind IDs and injected faults.
        #[arg(long, default_value_t = 42)]
        rng_seed: u64,
    },
    /// Print the default topology as a seed file.
    DefaultSeed,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::DefaultSeed => {
            match serde_json::to_string_pretty(&Seed::default_topology()) {
                Ok(s) => println!("{s}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Command::Serve {
            listen,
            seed,
            time_scale,
            manual_clock,
            lambda_endpoint,
            rng_seed,
        } => {
            if !(time_scale.is_finite() && time_scale > 0.0) {
                eprintln!("error: --time-scale must be a positive number, got {time_scale}");
                return ExitCode::from(2);
            }
            let seed = match seed {
                None => Seed::default_topology(),
                Some(path) => match std::fs::read_to_string(&path) {
                    Ok(text) => match Seed::from_json(&text) {
                        Ok(s) => s,
                        Err(e) => {
                            eprintln!("error: {}: {e}", path.display());
                            return ExitCode::from(2);
                        }
                    },
                    Err(e) => {
                        eprintln!("error: cannot read seed file {}: {e}", path.display());
                        return ExitCode::from(2);
                    }
                },
            };
            let config = EmulatorConfig {
                seed,
                clock: if manual_clock {
                    ClockMode::Manual
                } else {
                    ClockMode::Scaled { scale: time_scale }
                },
                start_time: None,
                rng_seed,
                lambda_endpoint,
            };
            let handle = match start(config, listen).await {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            println!("efs-dr-emulator listening on {}", handle.url());
            let _ = tokio::signal::ctrl_c().await;
            ExitCode::SUCCESS
        }
    }
}
