//! `Shared`, the state the server, the background ticker, the control API
//! and in-process callers (tests, the drill) share: the world behind a lock,
//! the emulated clock, and the HTTP client that delivers SNS messages to
//! Lambda. Kept apart from the server so the control API can use it without
//! depending on the server.

use crate::faults::FaultUpdate;
use crate::world::clock::Clock;
use crate::world::model::{CallRecord, ReplicationFault, World, WriteRecord};
use crate::world::topics::Delivery;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper_util::rt::TokioExecutor;
use std::sync::{Mutex, MutexGuard};

/// State shared by the server, the background ticker and in-process callers.
pub struct Shared {
    world: Mutex<World>,
    clock: Mutex<Clock>,
    http: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
}

impl Shared {
    /// The world and its clock, with a client for Lambda deliveries.
    pub(crate) fn new(world: World, clock: Clock) -> Shared {
        Shared {
            world: Mutex::new(world),
            clock: Mutex::new(clock),
            http: hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Locks the world after running every transition due by now.
    pub fn world(&self) -> MutexGuard<'_, World> {
        let now = self.now();
        let mut w = self.world.lock().unwrap_or_else(|p| p.into_inner());
        w.advance_to(now);
        w
    }

    pub fn now(&self) -> f64 {
        self.clock.lock().unwrap_or_else(|p| p.into_inner()).now()
    }

    pub fn clock_info(&self) -> (f64, bool, Option<f64>) {
        let c = self.clock.lock().unwrap_or_else(|p| p.into_inner());
        (c.now(), c.is_manual(), c.scale())
    }

    /// Moves emulated time forward and runs what falls due, then delivers SNS messages.
    pub fn advance(&self, seconds: f64) {
        self.clock
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .advance(seconds);
        let outbox = {
            let mut w = self.world();
            std::mem::take(&mut w.outbox)
        };
        self.deliver(outbox);
    }

    /// Sets a Region's faults. An outage fails the Region's open backup jobs.
    pub fn set_faults(&self, update: &FaultUpdate) -> Result<(), String> {
        let mut w = self.world();
        let now = w.now;
        let was_partitioned_from = w.region_mut(&update.region).faults.partitioned_from.clone();
        w.region_mut(&update.region).faults.apply(update, now)?;
        if update.outage == Some(true) {
            w.fail_backup_jobs_for_outage(&update.region);
        }
        if update.outage == Some(false) {
            w.resume_hung_deletes(&update.region);
        }
        let healed: Vec<String> = {
            let now_from = &w.region_mut(&update.region).faults.partitioned_from;
            was_partitioned_from
                .into_iter()
                .filter(|r| !now_from.contains(r))
                .collect()
        };
        if !healed.is_empty() {
            w.resume_hung_deletes(&update.region);
            for r in &healed {
                w.resume_hung_deletes(r);
            }
        }
        Ok(())
    }

    /// Sets a replication fault on the configuration `file_system_id` (source or
    /// destination) takes part in.
    pub fn set_replication_fault(
        &self,
        file_system_id: &str,
        fault: ReplicationFault,
    ) -> Result<(), String> {
        let mut w = self.world();
        let now = w.now;
        let rep = w
            .replications
            .iter_mut()
            .find(|r| {
                r.source_file_system_id == file_system_id
                    || r.destination_file_system_id == file_system_id
            })
            .ok_or_else(|| format!("no replication configuration involves {file_system_id}"))?;
        rep.fault = fault;
        rep.fault_since = now;
        Ok(())
    }

    pub fn write(
        &self,
        region: &str,
        fs_id: &str,
        path: &str,
        content: &str,
        size: Option<u64>,
    ) -> Result<WriteRecord, String> {
        self.world().write(region, fs_id, path, content, size)
    }

    pub fn calls(&self) -> Vec<CallRecord> {
        self.world().calls.clone()
    }

    pub fn set_lambda_endpoint(&self, endpoint: Option<String>) {
        self.world().lambda_endpoint = endpoint;
    }

    /// Sends SNS messages to the Lambda endpoint, outside the world's lock.
    pub(crate) fn deliver(&self, outbox: Vec<Delivery>) {
        if outbox.is_empty() {
            return;
        }
        let endpoint = self.world().lambda_endpoint.clone();
        for d in outbox {
            let Some(endpoint) = endpoint.clone() else {
                tracing::warn!(function = %d.function_name, "no Lambda endpoint configured; SNS message not delivered");
                continue;
            };
            let client = self.http.clone();
            let url = format!(
                "{}/2015-03-31/functions/{}/invocations",
                endpoint.trim_end_matches('/'),
                d.function_name
            );
            tokio::spawn(async move {
                let request = Request::post(&url)
                    .header("content-type", "application/json")
                    .header("x-amz-invocation-type", "Event")
                    .body(Full::new(Bytes::from(d.payload)));
                let result = match request {
                    Ok(r) => client
                        .request(r)
                        .await
                        .map(|resp| resp.status().as_u16())
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match result {
                    Ok(status) if status < 300 => {
                        tracing::debug!(%url, status, "delivered SNS message to Lambda")
                    }
                    Ok(status) => {
                        tracing::warn!(%url, status, "Lambda endpoint refused SNS delivery")
                    }
                    Err(e) => tracing::warn!(%url, error = %e, "SNS delivery to Lambda failed"),
                }
            });
        }
    }
}
