//! efs-dr: the operator's command line, as a library so that its tests can
//! turn on the drill (a feature the installed CLI leaves out).

#![recursion_limit = "256"]

// The operator console (failover, failback, approve, reject, status --watch).
mod console;
#[cfg(feature = "drill")]
mod drill;
mod error;
mod iac;
#[cfg(feature = "drill")]
mod invoke;
mod status;

use clap::{Args, Parser, Subcommand};
use efs_dr_aws::AwsContext;
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
        /// The source in a production account, the replica and efs-dr in a DR
        /// account: failover from the DR account, failback through the
        /// production role (deploy/source-account.yaml).
        #[arg(long)]
        cross_account: bool,
    },
    /// Show topology, protection, replication status, lag and mount targets of the
    /// configured pairs (EFS_DR_PAIRS), against AWS or the emulator (AWS_ENDPOINT_URL).
    /// With --watch too: the configured pairs, not a stack (no --stack, --region).
    Status {
        #[arg(long)]
        json: bool,
        /// Refresh until interrupted: redrawn in place on a terminal, a block per
        /// refresh otherwise; adds each pair's lag history (with the last sample's age),
        /// readiness and alarm states.
        #[arg(long)]
        watch: bool,
        /// Seconds between refreshes (with --watch).
        #[arg(long, default_value_t = 10)]
        interval: u64,
        /// Stop after this many refreshes (with --watch).
        #[arg(long)]
        count: Option<u64>,
    },
    /// Start the stack's Failover state machine for its pair, show the plan at the
    /// approval step, ask (or --yes), then follow the promotion to its report.
    Failover(RunArgs),
    /// Say what the failback overwrites and ask (or --yes) before starting the stack's
    /// Failback state machine; follow the reverse sync, ask again at the cutover
    /// approval (or --yes), then follow the cutover to its report.
    Failback(RunArgs),
    /// Approve the Failover or Failback execution that waits for approval, after
    /// showing its plan.
    Approve(ApproveArgs),
    /// Reject the Failover or Failback execution that waits for approval: it ends
    /// in its Rejected state (a failover changes nothing; a failback stops before
    /// its cutover, after its reverse sync).
    Reject(RejectArgs),
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

/// Which deployed stack the console works with.
#[derive(Args)]
struct StackArgs {
    /// The efs-dr stack (sam deploy --stack-name); default: EFS_DR_STACK, else efs-dr.
    #[arg(long)]
    stack: Option<String>,
    /// The DR Region the stack is deployed in; default: AWS_REGION or the profile's.
    #[arg(long)]
    region: Option<String>,
}

impl From<StackArgs> for console::Target {
    fn from(a: StackArgs) -> Self {
        console::Target {
            stack: a.stack,
            region: a.region,
        }
    }
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    target: StackArgs,
    /// Approve at every approval step without asking (a failback: start it too).
    #[arg(long)]
    yes: bool,
    /// Why: recorded in the request and the notifications.
    #[arg(long)]
    reason: Option<String>,
    /// More request fields, a JSON object over the stack's configured request.
    #[arg(long)]
    input: Option<String>,
    /// Print only the final result, as JSON (progress goes to stderr).
    #[arg(long)]
    json: bool,
    /// Milliseconds between looks at the execution.
    #[arg(long, default_value_t = 1000, hide = true)]
    poll_ms: u64,
}

impl From<RunArgs> for console::RunOptions {
    fn from(a: RunArgs) -> Self {
        console::RunOptions {
            target: a.target.into(),
            yes: a.yes,
            reason: a.reason,
            input: a.input,
            json: a.json,
            poll_ms: a.poll_ms,
        }
    }
}

#[derive(Args)]
struct ApproveArgs {
    #[command(flatten)]
    target: StackArgs,
    /// The execution to approve (ARN or name) when several wait.
    #[arg(long)]
    execution: Option<String>,
    /// Approve without asking.
    #[arg(long)]
    yes: bool,
}

#[derive(Args)]
struct RejectArgs {
    #[command(flatten)]
    target: StackArgs,
    /// The execution to reject (ARN or name) when several wait.
    #[arg(long)]
    execution: Option<String>,
    /// Added to the rejection's cause.
    #[arg(long)]
    reason: Option<String>,
}

/// Parses the command line and runs the command; the exit code says how it ended.
pub async fn run() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EFS_DR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Drill {
            time_scale,
            json,
            cross_account,
        } => {
            if !(time_scale.is_finite() && (1.0..=5000.0).contains(&time_scale)) {
                eprintln!("error: --time-scale must be between 1 and 5000, got {time_scale}");
                return ExitCode::from(2);
            }
            #[cfg(feature = "drill")]
            {
                drill::run(drill::DrillOptions {
                    time_scale,
                    json,
                    cross_account,
                })
                .await
            }
            #[cfg(not(feature = "drill"))]
            {
                let _ = (json, cross_account);
                eprintln!("error: this efs-dr was built without the drill (it embeds the emulator, which the installed CLI leaves out); run it from a checkout: cargo run -p efs-dr --features drill -- drill");
                return ExitCode::from(2);
            }
        }
        Command::Status {
            json,
            watch,
            interval,
            count,
        } => match Config::from_env() {
            Ok(config) if watch => {
                let opts = console::WatchOptions {
                    interval: std::time::Duration::from_secs(interval.max(1)),
                    count,
                    json,
                };
                console::watch(&AwsContext::load().await, &config, opts).await
            }
            Ok(config) => status::run(&AwsContext::load().await, &config, json).await,
            Err(e) => Err(e.into()),
        },
        Command::Failover(a) => console::run(console::Workflow::Failover, a.into()).await,
        Command::Failback(a) => console::run(console::Workflow::Failback, a.into()).await,
        Command::Approve(a) => {
            let opts = console::AnswerOptions {
                target: a.target.into(),
                execution: a.execution,
                yes: a.yes,
                reason: None,
            };
            console::answer(true, opts).await
        }
        Command::Reject(a) => {
            let opts = console::AnswerOptions {
                target: a.target.into(),
                execution: a.execution,
                yes: false,
                reason: a.reason,
            };
            console::answer(false, opts).await
        }
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
