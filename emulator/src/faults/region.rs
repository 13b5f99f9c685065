//! Faults injected per Region: outage, throttling, server errors, latency,
//! lost responses.
//! (Replication faults live on the replication itself, see `world::model`.)

use serde::{Deserialize, Serialize};
use std::time::Instant;

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutageMode {
    /// The connection is closed without an answer, as when nothing listens.
    #[default]
    Refuse,
    /// The request hangs until the client gives up (or the outage ends), as
    /// when packets to the Region are dropped.
    Blackhole,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Requests per second (real time) the Region accepts on average.
    pub rate: f64,
    /// Requests that may arrive at once.
    pub burst: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RegionFaults {
    pub outage: bool,
    pub outage_mode: OutageMode,
    /// Emulated time at which the outage ends by itself (a blip); `None`: until lifted.
    pub outage_until: Option<f64>,
    /// The services the outage takes down (`elasticfilesystem`,
    /// `monitoring`, `sns`, `backup`); empty: the whole Region, replication
    /// included. A partial outage leaves replication running.
    pub outage_services: Vec<String>,
    /// A network partition between this Region and these: its API does not
    /// answer (every API caller of the emulator stands on the far side, in
    /// the DR Region) and replication between them stops, while the Region
    /// itself keeps serving its own clients and answers a witness outside.
    pub partitioned_from: Vec<String>,
    pub throttle: Option<Throttle>,
    /// Share of requests answered with a 500, in [0, 1].
    pub error_rate: f64,
    pub latency_ms: u64,
    /// Up to this much more latency, drawn per request.
    pub latency_jitter_ms: u64,
    /// Share of mutating requests that are applied and whose answer is then
    /// lost (the connection resets), in [0, 1].
    pub lost_response_rate: f64,
    #[serde(skip)]
    pub bucket: Option<TokenBucket>,
}

/// A request to change a Region's faults; absent fields are left as they are.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultUpdate {
    pub region: String,
    pub outage: Option<bool>,
    pub outage_mode: Option<OutageMode>,
    /// With `outage: true`: it ends by itself after this many emulated seconds.
    pub outage_seconds: Option<f64>,
    /// With `outage: true`: only these services fail (empty or absent: all).
    pub outage_services: Option<Vec<String>>,
    /// Partitioned from these Regions (empty: no partition).
    pub partitioned_from: Option<Vec<String>>,
    /// `null` switches throttling off.
    #[serde(default, deserialize_with = "double_option")]
    pub throttle: Option<Option<Throttle>>,
    pub error_rate: Option<f64>,
    pub latency_ms: Option<u64>,
    pub latency_jitter_ms: Option<u64>,
    pub lost_response_rate: Option<f64>,
}

fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl RegionFaults {
    /// Whether a call to `service` fails for the outage.
    pub fn down_for(&self, service: &str) -> bool {
        !self.partitioned_from.is_empty() || self.down_outside(service)
    }

    /// Whether `service` fails for a caller outside any partition (a
    /// witness's vantage point).
    pub fn down_outside(&self, service: &str) -> bool {
        self.outage
            && (self.outage_services.is_empty()
                || self.outage_services.iter().any(|s| s == service))
    }

    /// Whether the whole Region is down (replication stops).
    pub fn region_down(&self) -> bool {
        self.outage && self.outage_services.is_empty()
    }

    /// `now` is the emulated time, for `outage_seconds`.
    pub fn apply(&mut self, update: &FaultUpdate, now: f64) -> Result<(), String> {
        if let Some(services) = &update.outage_services {
            const KNOWN: [&str; 4] = ["elasticfilesystem", "monitoring", "sns", "backup"];
            if let Some(bad) = services.iter().find(|s| !KNOWN.contains(&s.as_str())) {
                return Err(format!(
                    "outage_services: '{bad}' is not one of elasticfilesystem, monitoring, sns, backup"
                ));
            }
        }
        if let Some(secs) = update.outage_seconds {
            if secs <= 0.0 || update.outage != Some(true) {
                return Err("outage_seconds needs outage: true and a positive number".to_string());
            }
        }
        if let Some(rate) = update.error_rate {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("error_rate must be between 0 and 1, got {rate}"));
            }
            self.error_rate = rate;
        }
        if let Some(rate) = update.lost_response_rate {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!(
                    "lost_response_rate must be between 0 and 1, got {rate}"
                ));
            }
            self.lost_response_rate = rate;
        }
        if let Some(ms) = update.latency_jitter_ms {
            self.latency_jitter_ms = ms;
        }
        if let Some(throttle) = &update.throttle {
            if let Some(t) = throttle {
                if t.rate <= 0.0 || t.burst < 1.0 {
                    return Err("throttle needs rate > 0 and burst >= 1".to_string());
                }
                self.bucket = Some(TokenBucket::new(*t));
            } else {
                self.bucket = None;
            }
            self.throttle = *throttle;
        }
        if let Some(outage) = update.outage {
            self.outage = outage;
            self.outage_until = update.outage_seconds.filter(|_| outage).map(|s| now + s);
            self.outage_services = if outage {
                update.outage_services.clone().unwrap_or_default()
            } else {
                Vec::new()
            };
        }
        if let Some(mode) = update.outage_mode {
            self.outage_mode = mode;
        }
        if let Some(ms) = update.latency_ms {
            self.latency_ms = ms;
        }
        if let Some(regions) = &update.partitioned_from {
            if regions.iter().any(|r| r == &update.region) {
                return Err(format!(
                    "partitioned_from: a Region cannot be partitioned from itself ({})",
                    update.region
                ));
            }
            self.partitioned_from = regions.clone();
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub struct TokenBucket {
    limit: Throttle,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(limit: Throttle) -> Self {
        TokenBucket {
            limit,
            tokens: limit.burst,
            last: Instant::now(),
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.limit.rate;
        self.tokens = (self.tokens + refill).min(self.limit.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refuses() {
        let mut b = TokenBucket::new(Throttle {
            rate: 0.001,
            burst: 3.0,
        });
        assert!(b.try_take() && b.try_take() && b.try_take());
        assert!(!b.try_take());
    }

    #[test]
    fn null_throttle_switches_it_off() {
        let mut f = RegionFaults::default();
        let on: FaultUpdate =
            serde_json::from_str(r#"{"region":"us-east-1","throttle":{"rate":5,"burst":5}}"#)
                .unwrap();
        f.apply(&on, 0.0).unwrap();
        assert!(f.throttle.is_some());
        let off: FaultUpdate =
            serde_json::from_str(r#"{"region":"us-east-1","throttle":null}"#).unwrap();
        f.apply(&off, 0.0).unwrap();
        assert!(f.throttle.is_none() && f.bucket.is_none());
        let bad: FaultUpdate =
            serde_json::from_str(r#"{"region":"us-east-1","error_rate":2}"#).unwrap();
        assert!(f.apply(&bad, 0.0).is_err());
    }
}
