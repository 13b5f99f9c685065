//! Witnesses: what a vantage point outside both Regions sees of a source
//! Region, published each minute as the metric a CloudWatch alarm watches.
//!
//! - `canary`: a CloudWatch Synthetics canary in a third Region that checks
//!   the application using the file system (the data plane):
//!   `CloudWatchSynthetics SuccessPercent {CanaryName}` in its own Region.
//! - `route53`: a Route 53 health check: `AWS/Route53 HealthCheckStatus
//!   {HealthCheckId}`, published in us-east-1 only. It watches the data
//!   plane (an application endpoint) or the Region's EFS API endpoint.
//!
//! A witness stands outside any partition: it sees the source serve while
//! the DR Region cannot reach it. It reports late (the checker interval
//! and failure threshold), later in the unkind profile, and a stopped
//! witness publishes nothing.

use super::metrics::single;
use super::model::World;
use super::monitoring::publish;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WitnessKind {
    #[default]
    Canary,
    Route53,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Watches {
    /// The application on the file system: down only when the Region is.
    #[default]
    DataPlane,
    /// The Region's EFS API endpoint: down in an API-only outage too.
    Api,
}

#[derive(Clone, Debug, Serialize)]
pub struct Witness {
    pub name: String,
    pub kind: WitnessKind,
    /// Where its metric is published.
    pub region: String,
    pub target_region: String,
    pub watches: Watches,
    /// Seconds between the target changing and the witness saying so.
    pub delay_seconds: f64,
    pub stopped: bool,
    /// What it saw each minute, oldest first (only the last few are kept).
    #[serde(skip)]
    seen: Vec<(f64, bool)>,
}

/// A witness to add or change (`POST /_emulator/witnesses`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessRequest {
    pub name: String,
    #[serde(default)]
    pub kind: WitnessKind,
    /// Canary only (a Route 53 check publishes in us-east-1).
    pub region: Option<String>,
    pub target_region: String,
    #[serde(default)]
    pub watches: Watches,
    /// Default: the profile's (`witness_delay_seconds`).
    pub delay_seconds: Option<f64>,
    #[serde(default)]
    pub stopped: bool,
}

impl Witness {
    pub fn metric(&self) -> (&'static str, &'static str, &'static str) {
        match self.kind {
            WitnessKind::Canary => ("CloudWatchSynthetics", "SuccessPercent", "CanaryName"),
            WitnessKind::Route53 => ("AWS/Route53", "HealthCheckStatus", "HealthCheckId"),
        }
    }
}

impl World {
    pub fn set_witness(&mut self, r: WitnessRequest) -> Result<&Witness, String> {
        let region = match (r.kind, r.region) {
            (WitnessKind::Route53, Some(region)) if region != "us-east-1" => {
                return Err(format!(
                    "a Route 53 health check publishes its metric in us-east-1 only, not {region}; leave region out"
                ))
            }
            (WitnessKind::Route53, _) => "us-east-1".to_string(),
            (WitnessKind::Canary, Some(region)) => region,
            (WitnessKind::Canary, None) => {
                return Err("a canary needs the region it runs in (a third Region, neither source nor DR)".into())
            }
        };
        if region == r.target_region && r.kind == WitnessKind::Canary {
            return Err(format!(
                "a witness in the Region it watches ({region}) fails with it: run it in a third Region"
            ));
        }
        let delay = r
            .delay_seconds
            .unwrap_or(self.variants.witness_delay_seconds);
        if !(0.0..=3600.0).contains(&delay) {
            return Err(format!(
                "delay_seconds must be between 0 and 3600, got {delay}"
            ));
        }
        let seen = self
            .witnesses
            .iter()
            .find(|w| w.name == r.name)
            .map(|w| w.seen.clone())
            .unwrap_or_default();
        self.witnesses.retain(|w| w.name != r.name);
        self.witnesses.push(Witness {
            name: r.name,
            kind: r.kind,
            region,
            target_region: r.target_region,
            watches: r.watches,
            delay_seconds: delay,
            stopped: r.stopped,
            seen,
        });
        self.witnesses
            .last()
            .ok_or_else(|| "no witness".to_string())
    }

    fn serving_seen_from_outside(&self, w: &Witness) -> bool {
        let Some(target) = self.regions.get(&w.target_region) else {
            return true;
        };
        match w.watches {
            Watches::DataPlane => !target.faults.region_down(),
            Watches::Api => !target.faults.down_outside("elasticfilesystem"),
        }
    }

    /// Every emulated minute, before the alarms are evaluated.
    pub fn publish_witnesses(&mut self, t: f64) {
        let mut points = Vec::new();
        for i in 0..self.witnesses.len() {
            let serving = self.serving_seen_from_outside(&self.witnesses[i]);
            let up = self.is_reachable(&self.witnesses[i].region);
            let w = &mut self.witnesses[i];
            w.seen.push((t, serving));
            let keep_from = t - w.delay_seconds - 180.0;
            w.seen.retain(|(at, _)| *at >= keep_from);
            if w.stopped || !up {
                continue;
            }
            let Some((_, reported)) = w
                .seen
                .iter()
                .rev()
                .find(|(at, _)| *at <= t - w.delay_seconds)
            else {
                continue;
            };
            let (namespace, metric, dimension) = w.metric();
            let value = match (w.kind, reported) {
                (WitnessKind::Canary, true) => 100.0,
                (WitnessKind::Route53, true) => 1.0,
                (_, false) => 0.0,
            };
            let unit = if w.kind == WitnessKind::Canary {
                "Percent"
            } else {
                "None"
            };
            points.push((
                w.region.clone(),
                single(
                    namespace,
                    metric,
                    vec![(dimension.to_string(), w.name.clone())],
                    t,
                    value,
                    unit,
                ),
            ));
        }
        for (region, d) in points {
            publish(self, &region, d);
        }
    }
}
