//! Lambda glue shared by the four binaries: logging set-up, the Lambda
//! event loop, and the local mode that runs one event from a file or
//! standard input when the binary is started outside Lambda.

use efs_dr_core::domain::error::Error;
use serde_json::Value;
use std::future::Future;
use std::io::Read;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// Logs as Lambda expects: JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`, level from
/// `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`. Logs go to stderr so that local mode's
/// stdout carries only the result.
pub fn init_tracing() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .map(|l| l.to_lowercase())
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // Colour codes only for a person at a terminal: in a file or in
    // CloudWatch Logs (Text format) they are noise around every field.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && !json;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false);
    let _ = if json {
        builder.json().without_time().try_init()
    } else {
        builder.without_time().try_init()
    };
}

/// The error a handler returns, as Lambda shows it (`errorType`, `errorMessage`).
#[derive(Debug)]
pub struct FunctionError(pub Error);

impl From<Error> for FunctionError {
    fn from(e: Error) -> Self {
        FunctionError(e)
    }
}

impl From<FunctionError> for lambda_runtime::Diagnostic {
    fn from(e: FunctionError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.0.error_type(),
            error_message: e.0.to_string(),
        }
    }
}

/// Runs `handler` as a Lambda function, or once on a local event when
/// `AWS_LAMBDA_RUNTIME_API` is not set. The handler gets the event and the
/// time left before the invocation's deadline. Locally the exit code is 0
/// when the result's `status` is completed or planned, 1 otherwise, and 2
/// for an event that cannot be read.
pub async fn serve<H, F>(name: &str, handler: H) -> ExitCode
where
    H: Fn(Value, Option<Duration>) -> F + Send + Sync,
    F: Future<Output = Result<Value, Error>> + Send,
{
    init_tracing();
    let time_scale = crate::AwsSettings::from_env().time_scale;
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        let handler = &handler;
        let service = lambda_runtime::service_fn(
            move |event: lambda_runtime::LambdaEvent<Value>| async move {
                // On the workflows' clock: scaled against a time-scaled emulator.
                let remaining = event
                    .context
                    .deadline()
                    .duration_since(SystemTime::now())
                    .ok()
                    .map(|r| r.mul_f64(time_scale));
                handler(event.payload, remaining)
                    .await
                    .map_err(FunctionError)
            },
        );
        return match lambda_runtime::run(service).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "{name}: Lambda runtime stopped");
                ExitCode::FAILURE
            }
        };
    }
    run_local(name, &handler).await
}

async fn run_local<H, F>(name: &str, handler: &H) -> ExitCode
where
    H: Fn(Value, Option<Duration>) -> F,
    F: Future<Output = Result<Value, Error>>,
{
    let arg = std::env::args().nth(1);
    if matches!(arg.as_deref(), Some("-h" | "--help")) {
        println!(
            "usage: {name} [EVENT.json]\n\nRuns one event (from the file, or standard input) against the AWS endpoints the \
             environment names (AWS_REGION, AWS_ENDPOINT_URL, credentials), prints the JSON result, and exits non-zero \
             unless it completed. Inside Lambda (AWS_LAMBDA_RUNTIME_API set) it serves invocations instead."
        );
        return ExitCode::SUCCESS;
    }
    let text = match &arg {
        Some(path) if path != "-" => {
            std::fs::read_to_string(path).map_err(|e| format!("cannot read event file {path}: {e}"))
        }
        _ => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map(|_| s)
                .map_err(|e| format!("cannot read the event from standard input: {e}"))
        }
    };
    let event = text.and_then(|t| {
        let t = if t.trim().is_empty() {
            "{}".to_string()
        } else {
            t
        };
        serde_json::from_str::<Value>(&t).map_err(|e| format!("the event is not valid JSON: {e}"))
    });
    let event = match event {
        Ok(e) => e,
        Err(message) => {
            print_error("InvalidInput", &message);
            return ExitCode::from(2);
        }
    };
    // Like a Lambda invocation, a local run has a deadline (15 minutes unless set), so a
    // failure that never clears ends with an "in progress" report instead of looping forever.
    let seconds = std::env::var("EFS_DR_LOCAL_TIMEOUT_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(900);
    let remaining = Some(Duration::from_secs(seconds));
    match handler(event, remaining).await {
        Ok(result) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&result).unwrap_or_default()
            );
            let ok = matches!(
                result.get("status").and_then(Value::as_str),
                None | Some("completed" | "planned" | "ok")
            );
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            print_error(&e.error_type(), &e.to_string());
            ExitCode::FAILURE
        }
    }
}

fn print_error(error_type: &str, message: &str) {
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message });
    println!(
        "{}",
        serde_json::to_string_pretty(&body).unwrap_or_default()
    );
    eprintln!("error: {message}");
}
