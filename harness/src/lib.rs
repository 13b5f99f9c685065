//! Runs function binaries the way AWS Lambda does: each process gets
//! `AWS_LAMBDA_RUNTIME_API` and pulls its events from a Runtime API server
//! (`/2018-06-01/runtime/invocation/next`, then `…/{id}/response` or
//! `…/{id}/error`). A Lambda Invoke API front (`POST
//! /2015-03-31/functions/{name}/invocations`) lets the emulator's SNS and
//! state-machine tasks reach them. Timings and peak memory are recorded for
//! the benchmarks.

pub mod error;
pub mod step_functions;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

type Outcome = Result<Value, Value>;

struct Pending {
    id: String,
    event: Value,
    deadline: Duration,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Clone, Debug, Default)]
pub struct Timings {
    pub spawned: Option<Instant>,
    /// First request for an event: the end of the function's init.
    pub first_next: Option<Instant>,
    pub first_response: Option<Instant>,
    pub invocations: u64,
}

struct Inner {
    queue: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    timings: Mutex<Timings>,
    name: String,
}

/// One function process and its Runtime API endpoint.
pub struct FunctionRuntime {
    sender: mpsc::Sender<Pending>,
    inner: Arc<Inner>,
    child: Mutex<Option<tokio::process::Child>>,
    pid: Option<u32>,
    seq: AtomicU64,
    timeout: Duration,
}

fn respond(status: u16, body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

async fn runtime_api(
    inner: Arc<Inner>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if method == hyper::Method::GET && path == "/2018-06-01/runtime/invocation/next" {
        {
            let mut t = inner.timings.lock().unwrap_or_else(|p| p.into_inner());
            t.first_next.get_or_insert_with(Instant::now);
        }
        let next = inner.queue.lock().await.recv().await;
        let Some(p) = next else {
            return Ok(respond(410, Bytes::new()));
        };
        let deadline_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64
            + p.deadline.as_millis() as u64;
        inner
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(p.id.clone(), p.reply);
        let resp = Response::builder()
            .status(200)
            .header("Lambda-Runtime-Aws-Request-Id", &p.id)
            .header("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string())
            .header(
                "Lambda-Runtime-Invoked-Function-Arn",
                format!(
                    "arn:aws:lambda:us-west-2:123456789012:function:{}",
                    inner.name
                ),
            )
            .header(
                "Lambda-Runtime-Trace-Id",
                "Root=1-00000000-000000000000000000000000;Sampled=0",
            )
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(p.event.to_string())))
            .unwrap_or_else(|_| respond(500, Bytes::new()));
        return Ok(resp);
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if method == hyper::Method::POST {
        match parts.as_slice() {
            ["2018-06-01", "runtime", "invocation", id, kind @ ("response" | "error")] => {
                let value: Value = serde_json::from_slice(&body)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
                let waiter = inner
                    .waiting
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(*id);
                {
                    let mut t = inner.timings.lock().unwrap_or_else(|p| p.into_inner());
                    t.first_response.get_or_insert_with(Instant::now);
                    t.invocations += 1;
                }
                if let Some(w) = waiter {
                    let _ = w.send(if *kind == "response" {
                        Ok(value)
                    } else {
                        Err(value)
                    });
                }
                return Ok(respond(202, Bytes::from_static(b"{}")));
            }
            ["2018-06-01", "runtime", "init", "error"] => return Ok(respond(202, Bytes::new())),
            _ => {}
        }
    }
    Ok(respond(
        404,
        Bytes::from_static(b"{\"errorMessage\":\"unknown Runtime API path\"}"),
    ))
}

impl FunctionRuntime {
    /// Starts `program` (with `args`) as the function `name`, with `env` added to a clean environment.
    pub async fn start(
        name: &str,
        program: &Path,
        args: &[&str],
        env: &[(String, String)],
    ) -> std::io::Result<FunctionRuntime> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let (sender, receiver) = mpsc::channel(1024);
        let inner = Arc::new(Inner {
            queue: tokio::sync::Mutex::new(receiver),
            waiting: Mutex::default(),
            timings: Mutex::default(),
            name: name.to_string(),
        });
        let served = inner.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let inner = served.clone();
                tokio::spawn(async move {
                    let svc =
                        hyper::service::service_fn(move |req| runtime_api(inner.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("_HANDLER", "bootstrap")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        inner
            .timings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .spawned = Some(Instant::now());
        let child = cmd.spawn()?;
        let pid = child.id();
        Ok(FunctionRuntime {
            sender,
            inner,
            child: Mutex::new(Some(child)),
            pid,
            seq: AtomicU64::new(0),
            timeout: Duration::from_secs(900),
        })
    }

    /// A synchronous invocation: the function's answer, or its error document.
    pub async fn invoke(&self, event: Value) -> Outcome {
        let n = self.seq.fetch_add(1, Ordering::SeqCst);
        let (reply, answer) = oneshot::channel();
        let id = format!("{:08x}-0000-4000-8000-{:012x}", std::process::id(), n);
        let pending = Pending {
            id,
            event,
            deadline: self.timeout,
            reply,
        };
        if self.sender.send(pending).await.is_err() {
            return Err(serde_json::json!({"errorType": "HarnessClosed"}));
        }
        match tokio::time::timeout(self.timeout, answer).await {
            Ok(Ok(outcome)) => outcome,
            _ => Err(
                serde_json::json!({"errorType": "Timeout", "errorMessage": "the function did not answer"}),
            ),
        }
    }

    pub fn timings(&self) -> Timings {
        self.inner
            .timings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Peak resident memory (VmHWM) of the process, in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    pub async fn stop(&self) {
        let child = self.child.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut c) = child {
            let _ = c.kill().await;
        }
    }
}

/// Lambda Invoke API over several function runtimes.
pub struct Lambda {
    pub url: String,
    functions: Arc<HashMap<String, Arc<FunctionRuntime>>>,
    pub log: Arc<Mutex<Vec<(String, Outcome)>>>,
}

impl Lambda {
    pub async fn serve(
        functions: HashMap<String, Arc<FunctionRuntime>>,
    ) -> std::io::Result<Lambda> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let functions = Arc::new(functions);
        let log: Arc<Mutex<Vec<(String, Outcome)>>> = Arc::default();
        let (fs, lg) = (functions.clone(), log.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (fs, lg) = (fs.clone(), lg.clone());
                tokio::spawn(async move {
                    let svc =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let (fs, lg) = (fs.clone(), lg.clone());
                            async move {
                                let name =
                                    req.uri().path().split('/').nth(3).unwrap_or("").to_string();
                                let asynchronous = req
                                    .headers()
                                    .get("x-amz-invocation-type")
                                    .is_some_and(|v| v == "Event");
                                let body = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let event: Value =
                                    serde_json::from_slice(&body).unwrap_or(Value::Null);
                                let Some(f) = fs.get(&name).cloned() else {
                                    return Ok::<_, std::convert::Infallible>(respond(
                                        404,
                                        Bytes::from(format!(
                                            "{{\"Message\":\"Function not found: {name}\"}}"
                                        )),
                                    ));
                                };
                                let run = async move {
                                    let outcome = f.invoke(event).await;
                                    lg.lock()
                                        .unwrap_or_else(|p| p.into_inner())
                                        .push((name, outcome.clone()));
                                    outcome
                                };
                                if asynchronous {
                                    tokio::spawn(run);
                                    return Ok(respond(202, Bytes::new()));
                                }
                                Ok(match run.await {
                                    Ok(v) => respond(200, Bytes::from(v.to_string())),
                                    Err(e) => Response::builder()
                                        .status(200)
                                        .header("X-Amz-Function-Error", "Unhandled")
                                        .body(Full::new(Bytes::from(e.to_string())))
                                        .unwrap_or_else(|_| respond(500, Bytes::new())),
                                })
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(Lambda {
            url,
            functions,
            log,
        })
    }

    pub fn function(&self, name: &str) -> Option<Arc<FunctionRuntime>> {
        self.functions.get(name).cloned()
    }

    pub fn results(&self, name: &str) -> Vec<Outcome> {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, o)| o.clone())
            .collect()
    }
}

/// Where cargo put the workspace's binaries, seen from a test or bench executable.
pub fn target_bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    } else {
        dir
    }
}

/// An in-process emulator on a scaled clock (`scale` emulated seconds per
/// real second), from the one test kit.
pub async fn scaled_emulator(scale: f64) -> efs_dr_testkit::Result<efs_dr_testkit::Kit> {
    efs_dr_testkit::Kit::start(efs_dr_emulator::EmulatorConfig {
        clock: efs_dr_emulator::ClockMode::Scaled { scale },
        ..Default::default()
    })
    .await
}
