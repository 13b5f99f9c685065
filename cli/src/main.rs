//! efs-dr: the operator's command line.

#![recursion_limit = "256"]

mod drill;
mod error;
mod iac;
mod invoke;
mod status;

use clap::{Parser, Subcommand};
use efs_dr_shared::aws::AwsContext;
use efs_dr_shared::domain::config::Config;
use std::process::ExitCode;

/// Disaster recovery for Amazon EFS replication.
#[derive(Parser)]
#[command(name = "efs-dr", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a whole Region failure and recovery against the embedded emulator:
    /// replication, outage, alarm-driven failover, writes, failback, verdict on data.
    Drill {
        /// Emulated seconds per real second.
        #[arg(long, default_value_t = 300.0)]
        time_scale: f64,
        /// Print the result as JSON instead of a timeline.
        #[arg(long)]
        json: bool,
    },
    /// Show topology, protection, replication status, lag and mount targets of the
    /// configured pairs (EFS_DR_PAIRS), against AWS or the emulator (AWS_ENDPOINT_URL).
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Print what Terraform or CloudFormation users change for each configured
    /// pair as it is now (after a failover or failback): tfvars that swap source
    /// and destination, import/removed blocks with the observed IDs, and the
    /// replication_overwrite setting. Read from the DR Region (AWS_REGION).
    Iac {
        /// Terraform (the default).
        #[arg(long, conflicts_with_all = ["cloudformation", "json"])]
        terraform: bool,
        /// The CloudFormation changes instead.
        #[arg(long, conflicts_with = "json")]
        cloudformation: bool,
        /// Everything, as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EFS_DR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Drill { time_scale, json } => {
            if !(time_scale.is_finite() && (1.0..=5000.0).contains(&time_scale)) {
                eprintln!("error: --time-scale must be between 1 and 5000, got {time_scale}");
                return ExitCode::from(2);
            }
            drill::run(drill::DrillOptions { time_scale, json }).await
        }
        Command::Status { json } => match Config::from_env() {
            Ok(config) => status::run(&AwsContext::load().await, &config, json).await,
            Err(e) => Err(e.into()),
        },
        Command::Iac {
            terraform: _,
            cloudformation,
            json,
        } => {
            let format = if json {
                iac::Format::Json
            } else if cloudformation {
                iac::Format::CloudFormation
            } else {
                iac::Format::Terraform
            };
            match Config::from_env() {
                Ok(config) => iac::run(&AwsContext::load().await, &config, format).await,
                Err(e) => Err(e.into()),
            }
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
