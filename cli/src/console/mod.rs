//! The operator console: `failover` and `failback` start the stack's state
//! machine, show its plan at the approval step, ask, answer with the task
//! token and follow the execution to its end; `approve` and `reject` answer
//! executions that wait; `status --watch` refreshes the pairs' status with
//! lag history, readiness and alarm states. The stack's Outputs name the
//! state machines, so nothing is typed twice.

mod approval;
mod follow;
mod history;
mod progress;
mod report;
mod stack;
mod watch;

pub use approval::{answer, AnswerOptions};
pub use follow::{run, RunOptions};
pub use watch::{watch, WatchOptions};

use crate::error::{CliError, CliResult};
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::future::Future;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;
use tokio::sync::oneshot;

/// The stack `samconfig.toml` deploys when none is named.
const DEFAULT_STACK: &str = "efs-dr";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workflow {
    Failover,
    Failback,
}

impl Workflow {
    pub const ALL: [Workflow; 2] = [Workflow::Failover, Workflow::Failback];

    fn title(self) -> &'static str {
        match self {
            Workflow::Failover => "Failover",
            Workflow::Failback => "Failback",
        }
    }

    /// The stack output with the state machine's ARN.
    fn machine_output(self) -> &'static str {
        match self {
            Workflow::Failover => "FailoverStateMachineArn",
            Workflow::Failback => "FailbackStateMachineArn",
        }
    }

    /// The stack output whose `--input '...'` is the configured pair's request.
    fn start_output(self) -> &'static str {
        match self {
            Workflow::Failover => "StartFailoverCommand",
            Workflow::Failback => "StartFailbackCommand",
        }
    }

    /// What approving does, as the confirmation asks it.
    pub(crate) fn question(self) -> &'static str {
        match self {
            Workflow::Failover => "Promote? type yes: ",
            Workflow::Failback => "Cut over? type yes: ",
        }
    }
}

/// Which stack, in which Region.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// `--stack`, else `EFS_DR_STACK`, else the samconfig.toml default.
    pub stack: Option<String>,
    /// `--region`, else the SDK's (AWS_REGION, the profile).
    pub region: Option<String>,
}

/// The clients and the stack's Outputs a console command works with.
pub(crate) struct Console {
    pub sfn: aws_sdk_sfn::Client,
    pub stack: stack::Stack,
}

impl Console {
    pub async fn connect(target: &Target) -> CliResult<Console> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &target.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        let sdk = loader.load().await;
        let region = sdk.region().map(|r| r.as_ref().to_string()).ok_or_else(|| {
            CliError::Console(
                "no AWS Region: pass --region with the DR Region the stack is deployed in, or set AWS_REGION".into(),
            )
        })?;
        let name = target
            .stack
            .clone()
            .or_else(|| std::env::var("EFS_DR_STACK").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| DEFAULT_STACK.to_string());
        let cfn = aws_sdk_cloudformation::Client::new(&sdk);
        let stack = stack::Stack::load(&cfn, &name, &region).await?;
        Ok(Console {
            sfn: aws_sdk_sfn::Client::new(&sdk),
            stack,
        })
    }
}

/// An SDK failure as a message that names the call and, where the cause is
/// the usual one, what to do about it.
pub(crate) fn aws_failure<E, R>(call: &str, err: &SdkError<E, R>) -> CliError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = DisplayErrorContext(err).to_string();
    let hint = match (err, err.code()) {
        _ if text.contains("credentials") => {
            ": no usable AWS credentials (aws sso login, AWS_PROFILE, or the AWS_ACCESS_KEY_ID pair)"
        }
        (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_), _) => {
            ": the endpoint did not answer (check --region, the network, and AWS_ENDPOINT_URL* if set)"
        }
        (
            _,
            Some(
                "UnrecognizedClientException"
                | "InvalidClientTokenId"
                | "ExpiredToken"
                | "ExpiredTokenException",
            ),
        ) => ": the credentials were refused (refresh them: aws sso login, or AWS_PROFILE)",
        (_, Some("AccessDeniedException" | "AccessDenied")) => {
            ": the caller lacks a permission the console needs (see docs/console.md)"
        }
        _ => "",
    };
    CliError::Console(format!("{call} failed: {text}{hint}"))
}

/// Where the console writes for a person: stdout, or stderr when stdout is
/// for the JSON result. On a terminal one progress line is rewritten in place;
/// elsewhere each change is a line of its own.
pub(crate) struct Out {
    to_stderr: bool,
    tty: bool,
    width: usize,
    /// A progress line is on screen without its newline.
    open: bool,
    /// The last progress printed as a line (not on a terminal).
    last: String,
}

impl Out {
    pub fn new(json: bool) -> Out {
        let tty = if json {
            std::io::stderr().is_terminal()
        } else {
            std::io::stdout().is_terminal()
        };
        // A line longer than the terminal wraps, and \r then rewrites only its tail.
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse::<usize>().ok())
            .filter(|w| *w >= 40)
            .unwrap_or(100);
        Out {
            to_stderr: json,
            tty,
            width,
            open: false,
            last: String::new(),
        }
    }

    fn emit(&self, text: &str) {
        // A closed pipe (the reader went away) is no reason to stop a failover.
        if self.to_stderr {
            let mut e = std::io::stderr().lock();
            let _ = e.write_all(text.as_bytes());
            let _ = e.flush();
        } else {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(text.as_bytes());
            let _ = o.flush();
        }
    }

    pub fn line(&mut self, text: impl AsRef<str>) {
        if self.open {
            self.emit("\r\x1b[2K");
            self.open = false;
        }
        self.emit(&format!("{}\n", text.as_ref()));
    }

    /// `live` is redrawn on a terminal (it may count down); `stable` is
    /// printed once per change elsewhere.
    pub fn progress(&mut self, stamp: &str, live: &str, stable: &str) {
        if self.tty {
            let text: String = format!("[{stamp}] {live}")
                .chars()
                .take(self.width.saturating_sub(1))
                .collect();
            self.emit(&format!("\r\x1b[2K{text}"));
            self.open = true;
        } else if stable != self.last {
            self.last = stable.to_string();
            self.line(format!("[{stamp}] {stable}"));
        }
    }

    /// Leaves the last progress line on screen and moves below it.
    pub fn close(&mut self) {
        if self.open {
            self.emit("\n");
            self.open = false;
        }
    }
}

/// A person's answer to a question, or why it is no longer asked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Asked {
    Yes,
    /// Anything but "yes", or the end of the input.
    No,
    /// What the question was about went away while it waited (answered
    /// elsewhere, expired, the execution ended): nobody answered it here.
    Gone(String),
}

/// One line read from the terminal, and when it came.
struct Typed {
    at: Instant,
    line: std::io::Result<String>,
}

/// A read of the terminal that a question gave up on, kept for the next one.
static PENDING_READ: Mutex<Option<oneshot::Receiver<Typed>>> = Mutex::new(None);

/// The read under way, or a new one. Each read is a thread of its own, not a
/// `spawn_blocking` task: a read of stdin cannot be cancelled, and the runtime
/// waits for its blocking tasks when it shuts down, so an abandoned question
/// would keep the console from exiting until Enter is pressed.
fn terminal_read() -> oneshot::Receiver<Typed> {
    let pending = PENDING_READ
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    pending.unwrap_or_else(|| {
        let (tx, rx) = oneshot::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = std::io::stdin().read_line(&mut line).map(|_| line);
            let _ = tx.send(Typed {
                at: Instant::now(),
                line: read,
            });
        });
        rx
    })
}

fn prompt(text: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(text.as_bytes());
    let _ = e.flush();
}

/// Asks on the terminal until a line is typed or `gone` says the question
/// no longer stands (then it stops asking: `Asked::Gone`). Only "yes" is yes.
/// No terminal is the caller's case.
pub(crate) async fn ask(question: &str, gone: impl Future<Output = String>) -> CliResult<Asked> {
    prompt(question);
    let shown = Instant::now();
    tokio::pin!(gone);
    loop {
        let mut read = terminal_read();
        tokio::select! {
            typed = &mut read => {
                let typed = typed
                    .map_err(|_| CliError::Console("reading the answer: the terminal reader stopped".into()))?;
                // A line typed at a question that was given up on answers nothing asked now.
                if typed.at < shown {
                    continue;
                }
                let line = typed
                    .line
                    .map_err(|e| CliError::Console(format!("reading the answer: {e}")))?;
                return Ok(if line.trim().eq_ignore_ascii_case("yes") {
                    Asked::Yes
                } else {
                    Asked::No
                });
            }
            why = &mut gone => {
                *PENDING_READ.lock().unwrap_or_else(|p| p.into_inner()) = Some(read);
                // The question's line ends here: nothing will be typed after it.
                prompt("\n");
                return Ok(Asked::Gone(why));
            }
        }
    }
}

pub(crate) fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Elapsed time as the progress lines stamp it: `  42s`, then `1h05m`.
pub(crate) fn stamp(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s < 3600 {
        format!("{s:>4}s")
    } else {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    }
}

/// A duration for a person: `42 s`, `3 min 05 s`, `2 h 07 min`.
pub(crate) fn human(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_and_durations_read_well() {
        assert_eq!(stamp(42.4), "  42s");
        assert_eq!(stamp(3900.0), "1h05m");
        assert_eq!(human(59.0), "59 s");
        assert_eq!(human(185.0), "3 min 05 s");
        assert_eq!(human(7620.0), "2 h 07 min");
    }
}
