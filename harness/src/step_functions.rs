//! A Step Functions stand-in for the calls an operator's AWS CLI makes
//! (StartExecution, DescribeExecution, ListExecutions, GetExecutionHistory,
//! SendTaskSuccess, SendTaskFailure), in the service's JSON 1.0 protocol.
//! Each execution is the real definition under aws-local-stepfunctions
//! (`tests/e2e/run-state-machine.mjs`), its Lambda tasks invoking the built
//! binaries; a `.waitForTaskToken` task waits here until the CLI answers it.

use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// What the stand-in runs: the project root (for the runner and the
/// definitions), the Lambda Invoke API, and the template's substitutions.
#[derive(Clone, Debug)]
pub struct StandInConfig {
    pub root: PathBuf,
    pub lambda_url: String,
    /// `${Name}` -> value, as the template's DefinitionSubstitutions give them.
    pub substitutions: Value,
    /// State machine ARN -> definition file, relative to `root`.
    pub machines: Vec<(String, String)>,
    /// Extra environment for the runner (WAIT_MS, ADVANCE_URL).
    pub env: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub struct Execution {
    pub arn: String,
    pub machine_arn: String,
    pub name: String,
    pub status: String,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub started: f64,
    pub stopped: Option<f64>,
    /// Notifications the execution published (SNS tasks), in order.
    pub published: Vec<Value>,
    /// The runner's result line, once the execution ended.
    pub result: Option<Value>,
    events: Vec<Value>,
}

struct Pending {
    execution_arn: String,
    reply: oneshot::Sender<Value>,
}

#[derive(Default)]
struct State {
    executions: Vec<Execution>,
    pending: HashMap<String, Pending>,
}

pub struct StepFunctions {
    pub url: String,
    state: Arc<Mutex<State>>,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

fn locked(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

type Reply = (u16, Value);

fn client_error(kind: &str, message: impl Into<String>) -> Reply {
    (
        400,
        json!({"__type": format!("com.amazonaws.sfn#{kind}"), "message": message.into()}),
    )
}

impl StepFunctions {
    pub async fn serve(config: StandInConfig) -> std::io::Result<StepFunctions> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = (Arc::new(config), state.clone(), url.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let (config, state, url) = shared.clone();
                            async move {
                                let path = req.uri().path().to_string();
                                let target = req
                                    .headers()
                                    .get("x-amz-target")
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("")
                                    .to_string();
                                let body = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes().to_vec())
                                    .unwrap_or_default();
                                let body: Value =
                                    serde_json::from_slice(&body).unwrap_or(Value::Null);
                                let (status, reply) = if path == "/_task-token" {
                                    wait_for_answer(&state, body).await
                                } else {
                                    let op = target.rsplit('.').next().unwrap_or("");
                                    handle(&config, &state, &url, op, &body)
                                };
                                let mut resp = hyper::Response::new(Full::new(bytes::Bytes::from(
                                    reply.to_string(),
                                )));
                                *resp.status_mut() = hyper::StatusCode::from_u16(status)
                                    .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
                                resp.headers_mut().insert(
                                    "content-type",
                                    hyper::header::HeaderValue::from_static(
                                        "application/x-amz-json-1.0",
                                    ),
                                );
                                Ok::<_, std::convert::Infallible>(resp)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(StepFunctions { url, state })
    }

    pub fn executions(&self) -> Vec<Execution> {
        locked(&self.state).executions.clone()
    }

    pub fn execution(&self, arn: &str) -> Option<Execution> {
        self.executions().into_iter().find(|e| e.arn == arn)
    }
}

/// The runner's `.waitForTaskToken` task: recorded as a TaskScheduled event
/// (what `get-execution-history` shows a person), then held until the token
/// is answered.
async fn wait_for_answer(state: &Mutex<State>, body: Value) -> Reply {
    let token = body["token"].as_str().unwrap_or("").to_string();
    let execution_arn = body["execution"].as_str().unwrap_or("").to_string();
    let (tx, rx) = oneshot::channel();
    {
        let mut s = locked(state);
        let Some(e) = s.executions.iter_mut().find(|e| e.arn == execution_arn) else {
            return client_error("ExecutionDoesNotExist", execution_arn);
        };
        let parameters = json!({
            "TopicArn": body["topic_arn"].clone(),
            "Subject": body["subject"].clone(),
            "Message": body["message"].clone(),
        });
        let id = e.events.len() + 1;
        e.events.push(json!({
            "id": id,
            "previousEventId": id - 1,
            "timestamp": now(),
            "type": "TaskScheduled",
            "taskScheduledEventDetails": {
                "resourceType": "sns",
                "resource": "publish.waitForTaskToken",
                "region": "us-west-2",
                "parameters": parameters.to_string(),
            },
        }));
        e.published.push(
            json!({"state": body["state"], "subject": body["subject"], "message": body["message"]}),
        );
        s.pending.insert(
            token,
            Pending {
                execution_arn,
                reply: tx,
            },
        );
    }
    match rx.await {
        Ok(answer) => (200, answer),
        Err(_) => (
            500,
            json!({"error": "States.Runtime", "cause": "stand-in stopped"}),
        ),
    }
}

fn handle(
    config: &Arc<StandInConfig>,
    state: &Arc<Mutex<State>>,
    url: &str,
    op: &str,
    body: &Value,
) -> Reply {
    let s = |k: &str| body[k].as_str().unwrap_or("").to_string();
    match op {
        "StartExecution" => {
            let machine_arn = s("stateMachineArn");
            let Some((_, definition)) = config.machines.iter().find(|(a, _)| *a == machine_arn)
            else {
                return client_error(
                    "StateMachineDoesNotExist",
                    format!("State Machine Does Not Exist: '{machine_arn}'"),
                );
            };
            let input = body["input"].as_str().unwrap_or("{}").to_string();
            if serde_json::from_str::<Value>(&input).is_err() {
                return client_error("InvalidExecutionInput", "input is not JSON");
            }
            let mut st = locked(state);
            let name = match body["name"].as_str() {
                Some(n) => n.to_string(),
                None => format!("execution-{}", st.executions.len() + 1),
            };
            let machine_name = machine_arn.rsplit(':').next().unwrap_or("machine");
            let arn = machine_arn
                .replace(":stateMachine:", ":execution:")
                .replace(
                    &format!(":{machine_name}"),
                    &format!(":{machine_name}:{name}"),
                );
            if st.executions.iter().any(|e| e.arn == arn) {
                return client_error(
                    "ExecutionAlreadyExists",
                    format!("Execution Already Exists: '{arn}'"),
                );
            }
            let started = now();
            st.executions.push(Execution {
                arn: arn.clone(),
                machine_arn: machine_arn.clone(),
                name,
                status: "RUNNING".into(),
                input: input.clone(),
                output: None,
                error: None,
                started,
                stopped: None,
                published: Vec::new(),
                result: None,
                events: vec![json!({"id": 1, "previousEventId": 0, "timestamp": started, "type": "ExecutionStarted",
                    "executionStartedEventDetails": {"input": input, "roleArn": "arn:aws:iam::123456789012:role/efs-dr-states"}})],
            });
            drop(st);
            spawn_run(
                config.clone(),
                state.clone(),
                url.to_string(),
                arn.clone(),
                definition.clone(),
                input,
            );
            (200, json!({"executionArn": arn, "startDate": started}))
        }
        "DescribeExecution" => {
            let arn = s("executionArn");
            match locked(state).executions.iter().find(|e| e.arn == arn) {
                Some(e) => (200, describe(e)),
                None => client_error(
                    "ExecutionDoesNotExist",
                    format!("Execution Does Not Exist: '{arn}'"),
                ),
            }
        }
        "ListExecutions" => {
            let machine_arn = s("stateMachineArn");
            let filter = body["statusFilter"].as_str();
            let executions: Vec<Value> = locked(state)
                .executions
                .iter()
                .rev()
                .filter(|e| e.machine_arn == machine_arn && filter.is_none_or(|f| f == e.status))
                .map(|e| {
                    let mut d = json!({"executionArn": e.arn, "stateMachineArn": e.machine_arn, "name": e.name, "status": e.status, "startDate": e.started});
                    if let Some(t) = e.stopped {
                        d["stopDate"] = json!(t);
                    }
                    d
                })
                .collect();
            (200, json!({"executions": executions}))
        }
        "GetExecutionHistory" => {
            let arn = s("executionArn");
            let st = locked(state);
            let Some(e) = st.executions.iter().find(|e| e.arn == arn) else {
                return client_error(
                    "ExecutionDoesNotExist",
                    format!("Execution Does Not Exist: '{arn}'"),
                );
            };
            let mut events = e.events.clone();
            if body["reverseOrder"].as_bool() == Some(true) {
                events.reverse();
            }
            (200, json!({"events": events}))
        }
        "SendTaskSuccess" | "SendTaskFailure" => {
            let token = s("taskToken");
            let mut st = locked(state);
            let Some(p) = st.pending.remove(&token) else {
                return client_error("TaskDoesNotExist", "Task Does Not Exist");
            };
            let (kind, answer) = if op == "SendTaskSuccess" {
                let output: Value =
                    match serde_json::from_str(body["output"].as_str().unwrap_or("")) {
                        Ok(v) => v,
                        Err(_) => {
                            st.pending.insert(token, p);
                            return client_error("InvalidOutput", "output is not JSON");
                        }
                    };
                ("TaskSucceeded", json!({"output": output}))
            } else {
                (
                    "TaskFailed",
                    json!({"error": s("error"), "cause": s("cause")}),
                )
            };
            if let Some(e) = st.executions.iter_mut().find(|e| e.arn == p.execution_arn) {
                let id = e.events.len() + 1;
                e.events.push(
                    json!({"id": id, "previousEventId": id - 1, "timestamp": now(), "type": kind}),
                );
            }
            let _ = p.reply.send(answer);
            (200, json!({}))
        }
        other => client_error(
            "UnknownOperationException",
            format!("the stand-in does not implement {other}"),
        ),
    }
}

fn describe(e: &Execution) -> Value {
    let mut d = json!({"executionArn": e.arn, "stateMachineArn": e.machine_arn, "name": e.name, "status": e.status, "startDate": e.started, "input": e.input});
    if let Some(t) = e.stopped {
        d["stopDate"] = json!(t);
    }
    if let Some(o) = &e.output {
        d["output"] = json!(o);
    }
    if let Some(err) = &e.error {
        d["error"] = json!(err);
    }
    d
}

/// Runs one execution under the interpreter and records how it ended.
fn spawn_run(
    config: Arc<StandInConfig>,
    state: Arc<Mutex<State>>,
    url: String,
    arn: String,
    definition: String,
    input: String,
) {
    tokio::spawn(async move {
        let mut cmd = tokio::process::Command::new("node");
        cmd.current_dir(&config.root)
            .arg("tests/e2e/run-state-machine.mjs")
            .arg(&definition)
            .arg(&input)
            .arg(&config.lambda_url)
            .arg(config.substitutions.to_string())
            .env("TASK_TOKEN_URL", format!("{url}/_task-token"))
            .env("EXECUTION_ARN", &arn)
            .kill_on_drop(true);
        for (k, v) in &config.env {
            cmd.env(k, v);
        }
        let out = cmd.output().await;
        let (result, stderr) = match &out {
            Ok(o) => (
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .last()
                    .and_then(|l| serde_json::from_str::<Value>(l).ok()),
                String::from_utf8_lossy(&o.stderr).to_string(),
            ),
            Err(e) => (None, e.to_string()),
        };
        let mut st = locked(&state);
        let Some(e) = st.executions.iter_mut().find(|e| e.arn == arn) else {
            return;
        };
        let stopped = now();
        e.stopped = Some(stopped);
        let id = e.events.len() + 1;
        match &result {
            Some(r) if r["status"] == "SUCCEEDED" => {
                e.status = "SUCCEEDED".into();
                e.output = Some(r["output"].to_string());
                e.events.push(json!({"id": id, "previousEventId": id - 1, "timestamp": stopped, "type": "ExecutionSucceeded",
                    "executionSucceededEventDetails": {"output": r["output"].to_string()}}));
            }
            Some(r) => {
                e.status = "FAILED".into();
                e.error = r["error"].as_str().map(str::to_string);
                e.events.push(json!({"id": id, "previousEventId": id - 1, "timestamp": stopped, "type": "ExecutionFailed",
                    "executionFailedEventDetails": {"error": e.error.clone().unwrap_or_default()}}));
            }
            None => {
                e.status = "FAILED".into();
                e.error = Some(format!("the interpreter gave no result: {stderr}"));
            }
        }
        if let Some(r) = &result {
            // The runner's own record of SNS tasks; approvals are already in from the token wait.
            for p in r["published"].as_array().into_iter().flatten() {
                if !e.published.iter().any(|q| q["message"] == p["message"]) {
                    e.published.push(p.clone());
                }
            }
        }
        e.result = result;
    });
}
