//! A Step Functions stand-in for the calls an operator's AWS CLI makes
//! (StartExecution, DescribeExecution, ListExecutions, GetExecutionHistory,
//! SendTaskSuccess, SendTaskFailure), in the service's JSON 1.0 protocol.
//! Each execution is the real definition under aws-local-stepfunctions
//! (`tests/e2e/run-state-machine.mjs`), its Lambda tasks invoking the built
//! binaries; a `.waitForTaskToken` task waits here until the CLI answers it.
//! The runner reports each state's history events as they happen
//! (`EVENTS_URL`), so that the history can be followed live, as in AWS.
//! On the same port, CloudFormation's DescribeStacks (Query protocol) for
//! the one stack `StandInConfig::stack` names, whose Outputs name the machines.
//! Two faults for the console's tests: a colleague whose answer to an
//! approval lands just before the next one sent (which then finds the task
//! gone, as in AWS), and a history that cannot be read once an execution ended.

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
    /// The stack DescribeStacks knows: its name and its Outputs (`{"OutputKey": "value"}`).
    pub stack: Option<(String, Value)>,
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
    /// The next SendTaskSuccess or SendTaskFailure is beaten by a colleague's
    /// answer: approve (true) or reject (false).
    colleague: Option<bool>,
    /// GetExecutionHistory of an execution that has ended fails (a 500).
    history_fails_after_end: bool,
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
                                let raw = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes().to_vec())
                                    .unwrap_or_default();
                                // CloudFormation's Query protocol: a form body, no target header.
                                if target.is_empty() && is_query_form(&raw) {
                                    let (status, xml) =
                                        cloudformation(&config, &String::from_utf8_lossy(&raw));
                                    let mut resp =
                                        hyper::Response::new(Full::new(bytes::Bytes::from(xml)));
                                    *resp.status_mut() = hyper::StatusCode::from_u16(status)
                                        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
                                    resp.headers_mut().insert(
                                        "content-type",
                                        hyper::header::HeaderValue::from_static("text/xml"),
                                    );
                                    return Ok::<_, std::convert::Infallible>(resp);
                                }
                                let body: Value =
                                    serde_json::from_slice(&raw).unwrap_or(Value::Null);
                                let (status, reply) = if path == "/_task-token" {
                                    wait_for_answer(&state, body).await
                                } else if path == "/_event" {
                                    record_event(&state, &body)
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

    /// The next answer sent to an approval finds it already answered: a
    /// colleague's approval (`approve`) or rejection landed just before it.
    pub fn colleague_answers_first(&self, approve: bool) {
        locked(&self.state).colleague = Some(approve);
    }

    /// Whether the colleague of `colleague_answers_first` is still to answer.
    pub fn colleague_pending(&self) -> bool {
        locked(&self.state).colleague.is_some()
    }

    /// From now on (`on`), GetExecutionHistory of an ended execution answers
    /// with a server error, as a transient failure would.
    pub fn fail_history_after_end(&self, on: bool) {
        locked(&self.state).history_fails_after_end = on;
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
        push_event(
            e,
            json!({
                "type": "TaskScheduled",
                "taskScheduledEventDetails": {
                    "resourceType": "sns",
                    "resource": "publish.waitForTaskToken",
                    "region": "us-west-2",
                    "parameters": parameters.to_string(),
                },
            }),
        );
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
            if st.history_fails_after_end && e.stopped.is_some() {
                return (
                    500,
                    json!({"__type": "com.amazonaws.sfn#InternalFailure", "message": "the stand-in fails this history read (fail_history_after_end)"}),
                );
            }
            let mut events = e.events.clone();
            if body["reverseOrder"].as_bool() == Some(true) {
                events.reverse();
            }
            // Pages as AWS gives them (maxResults up to 1000, 0 or absent: 1000); the token
            // is the offset, which is stable forwards since events are only ever appended.
            let page = match body["maxResults"].as_u64() {
                Some(n) if (1..=1000).contains(&n) => n as usize,
                _ => 1000,
            };
            let start = match body["nextToken"].as_str() {
                Some(t) => match t.parse::<usize>() {
                    Ok(n) if n <= events.len() => n,
                    _ => return client_error("InvalidToken", format!("Invalid Token: '{t}'")),
                },
                None => 0,
            };
            let end = (start + page).min(events.len());
            let mut reply = json!({"events": events[start..end].to_vec()});
            if end < events.len() {
                reply["nextToken"] = json!(end.to_string());
            }
            (200, reply)
        }
        "SendTaskSuccess" | "SendTaskFailure" => {
            let token = s("taskToken");
            let mut st = locked(state);
            if st.pending.contains_key(&token) {
                if let Some(approve) = st.colleague.take() {
                    let colleague = if approve {
                        json!({"output": "{}"})
                    } else {
                        json!({"error": "Rejected", "cause": "rejected by a colleague"})
                    };
                    answer_task(&mut st, &token, approve, &colleague);
                }
            }
            answer_task(&mut st, &token, op == "SendTaskSuccess", body)
        }
        other => client_error(
            "UnknownOperationException",
            format!("the stand-in does not implement {other}"),
        ),
    }
}

/// SendTaskSuccess (`success`) or SendTaskFailure of `token`, with the
/// request's `output`, or `error` and `cause`.
fn answer_task(st: &mut State, token: &str, success: bool, body: &Value) -> Reply {
    let s = |k: &str| body[k].as_str().unwrap_or("").to_string();
    let Some(p) = st.pending.remove(token) else {
        return client_error("TaskDoesNotExist", "Task Does Not Exist");
    };
    let resource = json!({"resourceType": "sns", "resource": "publish.waitForTaskToken"});
    let (event, answer) = if success {
        let text = body["output"].as_str().unwrap_or("");
        let output: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) => {
                st.pending.insert(token.to_string(), p);
                return client_error("InvalidOutput", "output is not JSON");
            }
        };
        let mut details = resource;
        details["output"] = json!(text);
        (
            json!({"type": "TaskSucceeded", "taskSucceededEventDetails": details}),
            json!({"output": output}),
        )
    } else {
        let mut details = resource;
        details["error"] = json!(s("error"));
        details["cause"] = json!(s("cause"));
        (
            json!({"type": "TaskFailed", "taskFailedEventDetails": details}),
            json!({"error": s("error"), "cause": s("cause")}),
        )
    };
    if let Some(e) = st.executions.iter_mut().find(|e| e.arn == p.execution_arn) {
        push_event(e, event);
    }
    let _ = p.reply.send(answer);
    (200, json!({}))
}

/// Appends one history event, numbered and stamped as AWS does.
fn push_event(e: &mut Execution, mut event: Value) {
    let id = e.events.len() + 1;
    event["id"] = json!(id);
    event["previousEventId"] = json!(id - 1);
    event["timestamp"] = json!(now());
    e.events.push(event);
}

/// One history event the runner reports (`EVENTS_URL`): `{"execution", "event"}`.
fn record_event(state: &Mutex<State>, body: &Value) -> Reply {
    let arn = body["execution"].as_str().unwrap_or("");
    if !body["event"]["type"].is_string() {
        return client_error("InvalidEvent", "an event needs a type");
    }
    let mut st = locked(state);
    let Some(e) = st.executions.iter_mut().find(|e| e.arn == arn) else {
        return client_error("ExecutionDoesNotExist", arn.to_string());
    };
    // Once the execution has ended its history is closed, as in AWS.
    if e.stopped.is_none() {
        push_event(e, body["event"].clone());
    }
    (200, json!({}))
}

/// A Query-protocol body: `Action=...` among its form fields.
fn is_query_form(raw: &[u8]) -> bool {
    raw.starts_with(b"Action=") || raw.windows(8).any(|w| w == b"&Action=")
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
fn form_decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 2;
            }
            (b, _, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// CloudFormation DescribeStacks for the configured stack, by name or stack ID;
/// anything else is answered as CloudFormation does, with an XML error.
fn cloudformation(config: &StandInConfig, form: &str) -> (u16, String) {
    let fields: HashMap<String, String> = form
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (form_decode(k), form_decode(v)))
        .collect();
    let request_id = format!("{:032x}", now().to_bits());
    let error = |status: u16, code: &str, message: &str| {
        (
            status,
            format!(
                "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                xml_escape(code),
                xml_escape(message)
            ),
        )
    };
    let action = fields.get("Action").map(String::as_str).unwrap_or("");
    if action != "DescribeStacks" {
        return error(
            400,
            "InvalidAction",
            &format!("The action {action} is not valid for this web service (the stand-in serves DescribeStacks)."),
        );
    }
    let wanted = fields.get("StackName").cloned();
    let Some((name, outputs)) = &config.stack else {
        return error(
            400,
            "ValidationError",
            &format!(
                "Stack with id {} does not exist",
                wanted.unwrap_or_default()
            ),
        );
    };
    let stack_id = format!(
        "arn:aws:cloudformation:us-west-2:123456789012:stack/{name}/6f7a0c30-7b1e-11f0-9a3b-0a1b2c3d4e5f"
    );
    if let Some(w) = &wanted {
        if w != name && *w != stack_id {
            return error(
                400,
                "ValidationError",
                &format!("Stack with id {w} does not exist"),
            );
        }
    }
    let members: String = outputs
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let value = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            format!(
                "<member><OutputKey>{}</OutputKey><OutputValue>{}</OutputValue></member>",
                xml_escape(k),
                xml_escape(&value)
            )
        })
        .collect();
    (
        200,
        format!(
            "<DescribeStacksResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><DescribeStacksResult><Stacks><member><StackName>{}</StackName><StackId>{}</StackId><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-11-27T00:00:00Z</CreationTime><Outputs>{members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></DescribeStacksResponse>",
            xml_escape(name),
            xml_escape(&stack_id)
        ),
    )
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
            .env("EVENTS_URL", format!("{url}/_event"))
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
