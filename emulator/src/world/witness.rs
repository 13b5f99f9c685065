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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Seed;
    use crate::faults::FaultUpdate;
    use crate::world::metrics::MetricId;

    const START: f64 = 1_795_276_800.0;

    fn world() -> World {
        World::new(&Seed::default_topology(), START, 7)
    }

    fn request(kind: WitnessKind, region: Option<&str>, watches: Watches) -> WitnessRequest {
        WitnessRequest {
            name: "w".into(),
            kind,
            region: region.map(str::to_string),
            target_region: "us-east-1".into(),
            watches,
            delay_seconds: Some(0.0),
            stopped: false,
        }
    }

    /// What the witness published at minute `t`, if anything.
    fn reported(w: &World, witness: &Witness, t: f64) -> Option<f64> {
        let (namespace, metric, dimension) = witness.metric();
        let id = MetricId {
            namespace: namespace.into(),
            metric_name: metric.into(),
            dimensions: vec![(dimension.into(), witness.name.clone())],
        };
        w.regions
            .get(&witness.region)?
            .metrics
            .aggregate(&id, t, t + 1.0)
            .map(|a| a.max)
    }

    fn faults(w: &mut World, v: serde_json::Value) {
        let u: FaultUpdate = serde_json::from_value(v).expect("update");
        let now = w.now;
        w.region_mut(&u.region)
            .faults
            .apply(&u, now)
            .expect("apply");
    }

    #[test]
    fn a_witness_must_stand_outside_what_it_watches() {
        let mut w = world();
        let r53 = w.set_witness(request(
            WitnessKind::Route53,
            Some("eu-west-1"),
            Watches::Api,
        ));
        assert!(r53.is_err_and(|e| e.contains("us-east-1 only")));
        let inside = w.set_witness(request(
            WitnessKind::Canary,
            Some("us-east-1"),
            Watches::DataPlane,
        ));
        assert!(inside.is_err_and(|e| e.contains("third Region")));
        let nowhere = w.set_witness(request(WitnessKind::Canary, None, Watches::DataPlane));
        assert!(nowhere.is_err());
        let ok = w.set_witness(request(WitnessKind::Route53, None, Watches::Api));
        assert_eq!(ok.map(|x| x.region.clone()).as_deref(), Ok("us-east-1"));
    }

    #[test]
    fn each_witness_sees_what_its_vantage_point_sees() {
        // (fault on the source, data-plane canary says serving, API check says serving)
        let cases = [
            (serde_json::json!({"region": "us-east-1"}), true, true),
            (
                serde_json::json!({"region": "us-east-1", "outage": true}),
                false,
                false,
            ),
            (
                serde_json::json!({"region": "us-east-1", "outage": true, "outage_services": ["elasticfilesystem"]}),
                true,
                false,
            ),
            (
                serde_json::json!({"region": "us-east-1", "partitioned_from": ["us-west-2"]}),
                true,
                true,
            ),
        ];
        for (fault, canary_serving, api_serving) in cases {
            let mut w = world();
            w.set_witness(request(
                WitnessKind::Canary,
                Some("eu-west-1"),
                Watches::DataPlane,
            ))
            .expect("canary");
            let mut api = request(WitnessKind::Canary, Some("eu-central-1"), Watches::Api);
            api.name = "api".into();
            w.set_witness(api).expect("api check");
            faults(&mut w, fault.clone());
            w.publish_witnesses(START);
            let (canary, api) = (w.witnesses[0].clone(), w.witnesses[1].clone());
            assert_eq!(
                reported(&w, &canary, START),
                Some(if canary_serving { 100.0 } else { 0.0 }),
                "{fault}"
            );
            assert_eq!(
                reported(&w, &api, START),
                Some(if api_serving { 100.0 } else { 0.0 }),
                "{fault}"
            );
        }
    }

    #[test]
    fn a_witness_reports_late_and_a_stopped_one_not_at_all() {
        let mut w = world();
        let mut late = request(WitnessKind::Canary, Some("eu-west-1"), Watches::DataPlane);
        late.delay_seconds = Some(120.0);
        w.set_witness(late.clone()).expect("witness");
        faults(
            &mut w,
            serde_json::json!({"region": "us-east-1", "outage": true}),
        );
        for minute in 0..4 {
            w.publish_witnesses(START + 60.0 * minute as f64);
        }
        let witness = w.witnesses[0].clone();
        // Nothing seen 120 s before the first two minutes; then the outage.
        assert_eq!(reported(&w, &witness, START + 60.0), None);
        assert_eq!(reported(&w, &witness, START + 120.0), Some(0.0));
        late.stopped = true;
        w.set_witness(late).expect("stopped");
        w.publish_witnesses(START + 240.0);
        assert_eq!(reported(&w, &w.witnesses[0].clone(), START + 240.0), None);
    }

    #[test]
    fn a_partition_stops_replication_between_the_two_only() {
        let mut w = world();
        assert!(w.reaches("us-east-1", "us-west-2"));
        faults(
            &mut w,
            serde_json::json!({"region": "us-east-1", "partitioned_from": ["us-west-2"]}),
        );
        assert!(!w.reaches("us-east-1", "us-west-2"));
        assert!(!w.reaches("us-west-2", "us-east-1"));
        assert!(w.reaches("us-east-1", "eu-west-1"));
        assert!(w.is_reachable("us-east-1"), "the Region itself serves");
        let u: FaultUpdate = serde_json::from_value(
            serde_json::json!({"region": "us-east-1", "partitioned_from": ["us-east-1"]}),
        )
        .expect("update");
        assert!(w.region_mut("us-east-1").faults.apply(&u, START).is_err());
    }
}
