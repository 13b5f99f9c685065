//! The HTTP front: one port for every Region and service. The Region and the
//! service come from the SigV4 credential scope, as AWS's own endpoints are
//! chosen by host name.

use crate::config::Seed;
use crate::error::{ApiError, EmulatorError};
use crate::faults::OutageMode;
use crate::http::{parse_query, Reply, ServiceRequest};
use crate::state::Shared;
use crate::world::clock::{Clock, ClockMode};
use crate::world::model::{CallRecord, World};
use crate::{backup, cloudwatch, control, efs, region_switch, sns};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub struct EmulatorConfig {
    pub seed: Seed,
    pub clock: ClockMode,
    /// Emulated start time (epoch seconds); defaults to the wall clock.
    pub start_time: Option<f64>,
    pub rng_seed: u64,
    pub lambda_endpoint: Option<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            seed: Seed::default_topology(),
            clock: ClockMode::Scaled { scale: 1.0 },
            start_time: None,
            rng_seed: 42,
            lambda_endpoint: None,
        }
    }
}

impl EmulatorConfig {
    /// Deterministic: manual clock at a fixed start, fixed RNG seed.
    pub fn manual() -> Self {
        EmulatorConfig {
            clock: ClockMode::Manual,
            start_time: Some(1_795_276_800.0),
            ..Default::default()
        }
    }
}

pub struct EmulatorHandle {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the emulator on `addr` (port 0 picks a free port).
pub async fn start(
    config: EmulatorConfig,
    addr: SocketAddr,
) -> Result<EmulatorHandle, EmulatorError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| EmulatorError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    let start = config
        .start_time
        .unwrap_or_else(crate::world::clock::wall_clock_now);
    let mut world = World::new(&config.seed, start, config.rng_seed);
    world.lambda_endpoint = config.lambda_endpoint;
    let shared = Arc::new(Shared::new(world, Clock::new(config.clock, start)));
    let (tx, rx) = watch::channel(false);
    tokio::spawn(accept_loop(listener, shared.clone(), rx.clone()));
    tokio::spawn(ticker(shared.clone(), rx));
    Ok(EmulatorHandle {
        addr,
        shared,
        shutdown: tx,
    })
}

/// Keeps time-driven behaviour (syncs, alarms, SNS deliveries) going between requests.
async fn ticker(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            _ = stop.changed() => return,
        }
        let outbox = {
            let mut w = shared.world();
            std::mem::take(&mut w.outbox)
        };
        shared.deliver(outbox);
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { handle(shared, req).await }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The file system an EFS request names: a `fs-…` path segment (an ARN's
/// tail included) or the FileSystemId query parameter.
fn named_file_system(path: &str, query: &[(String, String)]) -> Option<String> {
    let from_path = path
        .split('/')
        .filter_map(|seg| seg.rsplit("%2F").next())
        .find(|seg| seg.starts_with("fs-"));
    let from_query = query
        .iter()
        .find(|(k, _)| k == "FileSystemId")
        .map(|(_, v)| v.rsplit('/').next().unwrap_or(v).to_string());
    from_path.map(str::to_string).or(from_query)
}

/// `Credential=AKID/DATE/...` -> `AKID`: the key decides the account and role.
pub fn access_key(authorization: &str) -> Option<&str> {
    let cred = authorization.split("Credential=").nth(1)?;
    cred.split('/').next().filter(|k| !k.is_empty())
}

/// `Credential=AKID/DATE/REGION/SERVICE/aws4_request` -> (REGION, SERVICE).
pub fn credential_scope(authorization: &str) -> Option<(String, String)> {
    let cred = authorization.split("Credential=").nth(1)?;
    let cred = cred.split([',', ' ']).next()?;
    let parts: Vec<&str> = cred.split('/').collect();
    match parts.as_slice() {
        [_, _, region, service, "aws4_request"] if !region.is_empty() && !service.is_empty() => {
            Some((region.to_string(), service.to_string()))
        }
        _ => None,
    }
}

fn to_response(reply: Reply, request_id: &str, now: f64) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(reply.status);
    // Emulated time, so clients that follow the server's clock see the emulator's.
    let date = std::time::UNIX_EPOCH + Duration::from_secs_f64(now.max(0.0));
    builder = builder.header("date", httpdate::fmt_http_date(date));
    for (k, v) in &reply.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder = builder.header("x-amzn-RequestId", request_id);
    builder
        .body(Full::new(Bytes::from(reply.body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Region unreachable: connection dropped")
    }
}

impl std::error::Error for Dropped {}

enum Service {
    Efs,
    CloudWatch(cloudwatch::Protocol),
    Sns,
    Backup,
    RegionSwitch,
    Sts,
}

impl Service {
    fn name(&self) -> &'static str {
        match self {
            Service::Efs => "elasticfilesystem",
            Service::CloudWatch(_) => "monitoring",
            Service::Sns => "sns",
            Service::Backup => "backup",
            Service::RegionSwitch => "arc-region-switch",
            Service::Sts => "sts",
        }
    }

    fn error_reply(&self, err: &ApiError, request_id: &str, headers: &[(String, String)]) -> Reply {
        match self {
            Service::RegionSwitch => region_switch::error_reply(err, headers),
            Service::Efs => efs::error_reply(err),
            Service::CloudWatch(p) => cloudwatch::error_reply(err, *p),
            Service::Sns => sns::error_reply(err, request_id),
            Service::Backup => backup::error_reply(err),
            Service::Sts => crate::sts::error_reply(err, request_id),
        }
    }

    fn throttled(&self) -> ApiError {
        match self {
            Service::Efs => ApiError::new("ThrottlingException", 400, "Rate exceeded"),
            Service::Backup => backup::throttled(),
            _ => ApiError::new("Throttling", 400, "Rate exceeded"),
        }
    }

    fn internal(&self) -> ApiError {
        match self {
            Service::Efs => {
                ApiError::internal("We encountered an internal error. Please try again.")
            }
            Service::CloudWatch(_) => {
                ApiError::new("InternalServiceError", 500, "Internal service error.")
            }
            Service::Sns => ApiError::new("InternalError", 500, "Internal error."),
            Service::Backup => backup::unavailable(),
            Service::RegionSwitch => {
                ApiError::new("InternalServerException", 500, "Internal server error.")
            }
            Service::Sts => ApiError::new("InternalFailure", 500, "Internal failure."),
        }
    }
}

enum Gate {
    Pass,
    Outage(OutageMode),
    Throttled,
    ServerError,
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    let path = parts.uri.path().to_string();
    let query = parse_query(parts.uri.query());
    let method = parts.method.as_str().to_string();
    if path.starts_with("/_emulator") {
        let reply = control::handle(&shared, &method, &path, &query, &body);
        return Ok(to_response(reply, "control", shared.now()));
    }
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let auth = headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let Some((region, service_name)) = credential_scope(auth) else {
        let err = ApiError::new(
            "MissingAuthenticationTokenException",
            403,
            "Missing Authentication Token",
        );
        let mut reply = Reply::json(403, &serde_json::json!({"message": err.message}));
        reply.headers.push(("x-amzn-ErrorType".into(), err.code));
        return Ok(to_response(reply, "none", shared.now()));
    };
    let service = match service_name.as_str() {
        "elasticfilesystem" => Service::Efs,
        "monitoring" => Service::CloudWatch(cloudwatch::protocol(&headers)),
        "sns" => Service::Sns,
        "backup" => Service::Backup,
        "arc-region-switch" => Service::RegionSwitch,
        "sts" => Service::Sts,
        other => {
            let err = ApiError::new(
                "UnknownService",
                400,
                format!(
                    "The emulator serves elasticfilesystem, monitoring, sns, backup, arc-region-switch and sts, not {other}."
                ),
            );
            return Ok(to_response(efs::error_reply(&err), "none", shared.now()));
        }
    };
    let (operation, mutating) = match service {
        Service::Efs => {
            let (op, m) = efs::operation(&method, &path);
            (op.to_string(), m)
        }
        Service::CloudWatch(_) => cloudwatch::operation(&path, &headers),
        Service::Sns => sns::operation(&body),
        Service::Backup => {
            let (op, m) = backup::operation(&method, &path);
            (op.to_string(), m)
        }
        Service::RegionSwitch => region_switch::operation(&path, &headers),
        Service::Sts => crate::sts::operation(&body),
    };
    let key = access_key(auth).unwrap_or("").to_string();
    let principal = shared.world().principal_of(&key);
    let (gate, latency_ms, lose_answer) = {
        let mut w = shared.world();
        let rng_draw = w.rng.next_f64();
        let (jitter_draw, loss_draw) = (w.rng.next_f64(), w.rng.next_f64());
        let f = &mut w.region_mut(&region).faults;
        let gate = if f.down_for(service.name()) {
            Gate::Outage(f.outage_mode)
        } else if f.bucket.as_mut().is_some_and(|b| !b.try_take()) {
            Gate::Throttled
        } else if rng_draw < f.error_rate {
            Gate::ServerError
        } else {
            Gate::Pass
        };
        let jitter = (jitter_draw * f.latency_jitter_ms as f64) as u64;
        (
            gate,
            f.latency_ms + jitter,
            mutating && loss_draw < f.lost_response_rate,
        )
    };
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    let named_fs = match service {
        Service::Efs => named_file_system(&path, &query),
        _ => None,
    };
    let log = |w: &mut World, status: u16, error_code: Option<String>| {
        let seq = w.calls.len() as u64 + 1;
        let time = w.now;
        w.calls.push(CallRecord {
            seq,
            time,
            region: region.clone(),
            service: service.name().to_string(),
            operation: operation.clone(),
            status,
            error_code,
            mutating,
            file_system_id: named_fs.clone(),
            account: principal.account.clone(),
            role: principal.role.clone(),
        });
    };
    let request_id = {
        let mut w = shared.world();
        w.rng.uuid()
    };
    let reply = match gate {
        Gate::Outage(mode) => {
            log(&mut shared.world(), 0, Some("RegionUnreachable".into()));
            if mode == OutageMode::Blackhole {
                // Hold the request as a black-holed network would, until the client gives up
                // or the Region comes back (then still drop: the request was lost).
                for _ in 0..1200 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if !shared
                        .world()
                        .region_mut(&region)
                        .faults
                        .down_for(service.name())
                    {
                        break;
                    }
                }
            }
            return Err(Dropped);
        }
        Gate::Throttled => {
            let err = service.throttled();
            log(&mut shared.world(), err.status, Some(err.code.clone()));
            service.error_reply(&err, &request_id, &headers)
        }
        Gate::ServerError => {
            let err = service.internal();
            log(&mut shared.world(), err.status, Some(err.code.clone()));
            service.error_reply(&err, &request_id, &headers)
        }
        Gate::Pass => {
            let service_req = ServiceRequest {
                method: &method,
                path: &path,
                query,
                headers: &headers,
                body: &body,
                request_id: &request_id,
            };
            let mut w = shared.world();
            w.caller = principal.clone();
            let result = match service {
                Service::Efs => efs::handle(&mut w, &region, &service_req),
                Service::CloudWatch(_) => cloudwatch::handle(&mut w, &region, &service_req),
                Service::Sns => sns::handle(&mut w, &region, &service_req),
                Service::Backup => backup::handle(&mut w, &region, &service_req),
                Service::RegionSwitch => region_switch::handle(&mut w, &region, &service_req),
                Service::Sts => crate::sts::handle(&mut w, &region, &service_req),
            };
            match result {
                Ok(_) if lose_answer => {
                    // Applied, then the connection resets: the client cannot tell.
                    log(&mut w, 0, Some("ResponseLost".into()));
                    drop(w);
                    let outbox = std::mem::take(&mut shared.world().outbox);
                    shared.deliver(outbox);
                    return Err(Dropped);
                }
                Ok(reply) => {
                    log(&mut w, reply.status, None);
                    reply
                }
                Err(err) => {
                    log(&mut w, err.status, Some(err.code.clone()));
                    service.error_reply(&err, &request_id, &headers)
                }
            }
        }
    };
    let outbox = std::mem::take(&mut shared.world().outbox);
    shared.deliver(outbox);
    Ok(to_response(reply, &request_id, shared.now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_credential_scope() {
        let h = "AWS4-HMAC-SHA256 Credential=AKID/20261121/us-west-2/elasticfilesystem/aws4_request, SignedHeaders=host, Signature=abc";
        assert_eq!(
            credential_scope(h),
            Some(("us-west-2".to_string(), "elasticfilesystem".to_string()))
        );
        assert_eq!(credential_scope("Bearer x"), None);
        assert_eq!(access_key(h), Some("AKID"));
        assert_eq!(access_key("Bearer x"), None);
        assert_eq!(
            credential_scope("AWS4-HMAC-SHA256 Credential=AKID/20261121//sns/aws4_request"),
            None
        );
    }
}
