//! Is the source Region gone, or is replication merely slow? Judged from the
//! DR Region every probe minute, from signals that fail differently:
//!
//! - the source Region's EFS API, probed several times a minute: any answer,
//!   even throttling or a 5xx, means the Region is there (an API brown-out is
//!   not a Region loss);
//! - the DR Region's own EFS API, which must answer cleanly, so that our own
//!   side failing is never read as theirs failing;
//! - replication progress against the pair's own recent cadence (learned from
//!   its lag history), not a fixed threshold: no sync for longer than the
//!   pair ever goes between syncs;
//! - the replication status: only an ENABLED, complete replica is promoted
//!   automatically (PAUSED, ERROR or a configuration an operator deleted is a
//!   person's call), and never during a maintenance window
//!   (`efs-dr:maintenance` on the replica).
//!
//! - a witness outside both Regions (an alarm on a canary or health check
//!   that watches the source from a third vantage point): the DR Region
//!   alone cannot tell a lost Region from a partition between the two, or
//!   from an outage of the source's API while its data plane and
//!   replication go on. A witness that sees the source serve vetoes; one
//!   that cannot be read, or none at all, leaves the decision to a person.
//!
//! Pure: the signals are read before, so every scenario is a table test.

use serde::Serialize;

pub use crate::domain::config::DetectorSettings;

/// The source Region as this and earlier probes saw it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourceSignal {
    /// The first failed probe after the last answer; `None` while it answers.
    pub unreachable_since: Option<f64>,
    /// Failed probes in a row since then.
    pub failed_probes: u32,
}

/// One pair, as the DR Region shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairSignal {
    /// Replication status in the DR Region, or `NONE`.
    pub status: String,
    pub last_replicated: Option<f64>,
    /// The longest the pair went between syncs recently (from its lag
    /// history before the source went silent); `None` without history.
    pub learned_sync_gap: Option<f64>,
    /// Why the lag history could not be read, when it could not.
    pub history_error: Option<String>,
    pub maintenance: bool,
}

/// What the witness outside both Regions says of the source Region.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "witness", rename_all = "snake_case")]
pub enum WitnessSignal {
    /// No witness configured (`EFS_DR_WITNESS_ALARM_ARN`).
    NotConfigured,
    /// The witness alarm is in ALARM: the source does not serve, seen from outside.
    Down { since: f64, detail: String },
    /// The witness alarm is OK: the source serves its clients.
    Serving { detail: String },
    /// INSUFFICIENT_DATA, unreadable, missing or misconfigured.
    Unknown { detail: String },
}

/// One signal's say, for the record and the notification.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Signal {
    pub name: &'static str,
    /// Whether it points to a lost Region.
    pub agrees: bool,
    pub since: Option<f64>,
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing points to a lost Region.
    Healthy,
    /// Some signals point to it, not yet all, or not for long enough.
    Suspected,
    /// Our own Region's API is failing: nothing about the source can be judged.
    DrUnhealthy,
    /// Every signal agrees, but the pair must not be failed over automatically.
    Suppressed,
    /// The DR side sees a lost Region, but the witness sees the source serve:
    /// a partition or an API outage. No failover; a person is told.
    Vetoed,
    /// The DR side sees a lost Region, but it cannot be confirmed (no
    /// witness, a witness that cannot be read, no readable lag history): a
    /// person decides.
    Unconfirmed,
    /// Every signal agrees: the source Region is gone for this pair.
    RegionLost,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Judgement {
    pub verdict: Verdict,
    pub signals: Vec<Signal>,
    pub reason: String,
    /// When the failure began, as the first failed probe saw it.
    pub since: Option<f64>,
}

/// The probe samples the lag once a minute: the true peak between two syncs
/// can exceed the sampled one by up to that.
pub const LAG_SAMPLING_SECONDS: f64 = 60.0;

/// The expected gap between syncs: the longest lag seen before the source
/// went silent, with a quarter more for a late sync and one sampling
/// interval for the peaks the minute samples missed.
pub fn expected_sync_gap(pair: &PairSignal, settings: &DetectorSettings) -> f64 {
    pair.learned_sync_gap
        .map(|g| g * 1.25 + LAG_SAMPLING_SECONDS)
        .unwrap_or(settings.fallback_sync_gap)
        .max(settings.min_sync_gap)
}

pub fn judge(
    now: f64,
    dr_healthy: Result<(), String>,
    source: &SourceSignal,
    pair: &PairSignal,
    witness: &WitnessSignal,
    settings: &DetectorSettings,
) -> Judgement {
    let mut signals = Vec::new();
    if let Err(why) = dr_healthy {
        signals.push(Signal {
            name: "dr_region_healthy",
            agrees: false,
            since: None,
            detail: format!("this Region's own EFS API does not answer cleanly ({why}): the source cannot be judged from here"),
        });
        return Judgement {
            verdict: Verdict::DrUnhealthy,
            reason: "the DR Region's own API is failing; no verdict about the source Region".into(),
            signals,
            since: None,
        };
    }
    signals.push(Signal {
        name: "dr_region_healthy",
        agrees: true,
        since: None,
        detail: "this Region's EFS API answers".into(),
    });

    let silent_for = source.unreachable_since.map(|s| (now - s).max(0.0));
    let confirmed = silent_for.is_some_and(|s| s >= settings.confirm_seconds)
        && source.failed_probes >= settings.min_failed_probes;
    signals.push(Signal {
        name: "source_unreachable",
        agrees: confirmed,
        since: source.unreachable_since,
        detail: match silent_for {
            None => "the source Region's EFS API answers".into(),
            Some(s) => format!(
                "no answer for {s:.0} s, {} probes in a row (confirmed after {:.0} s and {} probes)",
                source.failed_probes, settings.confirm_seconds, settings.min_failed_probes
            ),
        },
    });

    let gap = expected_sync_gap(pair, settings);
    // No sync for longer than the pair's own cadence. (Not "none since the
    // source went silent": a sync in flight at the failure may complete on
    // the DR side seconds later, and would hide the stall for good.)
    let stalled = pair.last_replicated.is_some_and(|lrt| now - lrt > gap);
    signals.push(Signal {
        name: "replication_stalled",
        agrees: stalled,
        since: pair.last_replicated,
        detail: match pair.last_replicated {
            None => "no completed sync yet".into(),
            Some(lrt) => format!(
                "last sync {:.0} s ago; this pair syncs at least every {gap:.0} s ({})",
                now - lrt,
                match (&pair.learned_sync_gap, &pair.history_error) {
                    (Some(_), _) => "learned from its lag history".to_string(),
                    (None, Some(e)) => format!("its lag history cannot be read ({e}): the default"),
                    (None, None) => "no lag history yet: the default".to_string(),
                }
            ),
        },
    });

    let promotable = pair.status == "ENABLED" && pair.last_replicated.is_some();
    signals.push(Signal {
        name: "replication_promotable",
        agrees: promotable,
        since: None,
        detail: match pair.status.as_str() {
            "ENABLED" if pair.last_replicated.is_some() => "ENABLED, replica complete".into(),
            "ENABLED" | "ENABLING" => "initial sync not complete: the replica is incomplete".into(),
            "NONE" => {
                "no replication configuration (deleted by an operator, or already failed over)"
                    .into()
            }
            other => format!("{other}: a person decides"),
        },
    });

    let witness_agrees = matches!(witness, WitnessSignal::Down { .. });
    signals.push(Signal {
        name: "witness_sees_source_down",
        agrees: witness_agrees,
        since: match witness {
            WitnessSignal::Down { since, .. } => Some(*since),
            _ => None,
        },
        detail: match witness {
            WitnessSignal::NotConfigured => {
                "no witness configured (EFS_DR_WITNESS_ALARM_ARN): a lost Region cannot be told from a partition".into()
            }
            WitnessSignal::Down { detail, .. }
            | WitnessSignal::Serving { detail }
            | WitnessSignal::Unknown { detail } => detail.clone(),
        },
    });

    let since = source.unreachable_since;
    if !(confirmed && stalled) {
        let verdict = if silent_for.is_some() || stalled {
            Verdict::Suspected
        } else {
            Verdict::Healthy
        };
        let reason = match verdict {
            Verdict::Healthy => {
                "the source Region answers and replication keeps its cadence".into()
            }
            _ => format!(
                "not every signal agrees yet: {}",
                signals
                    .iter()
                    .filter(|s| !s.agrees)
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return Judgement {
            verdict,
            signals,
            reason,
            since,
        };
    }
    if let WitnessSignal::Serving { detail } = witness {
        if silent_for.is_some_and(|s| s < settings.witness_grace) {
            return Judgement {
                verdict: Verdict::Suspected,
                reason: format!(
                    "every signal from here agrees, but the witness still sees the source serve ({detail}) and may not have noticed yet: waiting up to {:.0} s of silence for it",
                    settings.witness_grace
                ),
                signals,
                since,
            };
        }
        return Judgement {
            verdict: Verdict::Vetoed,
            reason: format!(
                "the source Region does not answer from here and replication has stopped, but it serves its clients as the witness sees it ({detail}): a partition between the Regions or an outage of its API, not a lost Region. No failover: two writable copies would be worse than this"
            ),
            signals,
            since,
        };
    }
    if !promotable || pair.maintenance {
        let why = if pair.maintenance {
            "the pair is in a maintenance window (efs-dr:maintenance on the replica)".to_string()
        } else {
            format!(
                "replication is {}, not an ENABLED complete replica",
                pair.status
            )
        };
        return Judgement {
            verdict: Verdict::Suppressed,
            reason: format!("the source Region looks lost, but no automatic failover: {why}"),
            signals,
            since,
        };
    }
    let mut doubts = Vec::new();
    match witness {
        WitnessSignal::NotConfigured => doubts.push(
            "no witness is configured (EFS_DR_WITNESS_ALARM_ARN), so a partition cannot be ruled out"
                .to_string(),
        ),
        WitnessSignal::Unknown { detail } => {
            doubts.push(format!("the witness cannot confirm it: {detail}"))
        }
        _ => {}
    }
    if pair.learned_sync_gap.is_none() {
        doubts.push(match &pair.history_error {
            Some(e) => format!("the pair's lag history cannot be read ({e}), so a long sync cannot be told from a stall"),
            None => "the pair has no lag history yet, so a long sync cannot be told from a stall".to_string(),
        });
    }
    if !doubts.is_empty() {
        return Judgement {
            verdict: Verdict::Unconfirmed,
            reason: format!(
                "the source Region looks lost from here, but no automatic failover: {}",
                doubts.join("; ")
            ),
            signals,
            since,
        };
    }
    Judgement {
        verdict: Verdict::RegionLost,
        reason: format!(
            "every signal agrees since {}: the source Region does not answer, replication has stopped, the witness sees it down, this Region is healthy",
            crate::domain::time::iso8601(since.unwrap_or(now))
        ),
        signals,
        since,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 100_000.0;

    fn pair(lag: f64) -> PairSignal {
        PairSignal {
            status: "ENABLED".into(),
            last_replicated: Some(NOW - lag),
            learned_sync_gap: Some(70.0),
            history_error: None,
            maintenance: false,
        }
    }

    fn silent(for_seconds: f64, probes: u32) -> SourceSignal {
        SourceSignal {
            unreachable_since: Some(NOW - for_seconds),
            failed_probes: probes,
        }
    }

    fn down() -> WitnessSignal {
        WitnessSignal::Down {
            since: NOW - 100.0,
            detail: "ALARM".into(),
        }
    }

    const ANSWERS: SourceSignal = SourceSignal {
        unreachable_since: None,
        failed_probes: 0,
    };

    #[test]
    fn each_scenario_gets_its_verdict() {
        let s = DetectorSettings::default();
        let ok = || Ok(());
        type Case = (
            &'static str,
            Result<(), String>,
            SourceSignal,
            PairSignal,
            Verdict,
        );
        let cases: Vec<Case> = vec![
            ("healthy", ok(), ANSWERS, pair(30.0), Verdict::Healthy),
            (
                "a write burst: lag grows, the source answers",
                ok(),
                ANSWERS,
                pair(2_000.0),
                Verdict::Suspected,
            ),
            (
                "one failed probe",
                ok(),
                silent(10.0, 1),
                pair(40.0),
                Verdict::Suspected,
            ),
            (
                "silent long enough, too few probes (the schedule stalled)",
                ok(),
                silent(600.0, 2),
                pair(700.0),
                Verdict::Suspected,
            ),
            (
                "silent, but a sync completed since: the data path works",
                ok(),
                silent(150.0, 7),
                pair(20.0),
                Verdict::Suspected,
            ),
            (
                "silent and stalled, not yet confirmed",
                ok(),
                silent(100.0, 5),
                pair(140.0),
                Verdict::Suspected,
            ),
            (
                "silent and stalled, confirmed",
                ok(),
                silent(130.0, 6),
                pair(150.0),
                Verdict::RegionLost,
            ),
            (
                "our own Region failing",
                Err("throttled".into()),
                silent(600.0, 20),
                pair(700.0),
                Verdict::DrUnhealthy,
            ),
            (
                "paused by an operator",
                ok(),
                silent(600.0, 20),
                PairSignal {
                    status: "PAUSED".into(),
                    ..pair(700.0)
                },
                Verdict::Suppressed,
            ),
            (
                "maintenance window",
                ok(),
                silent(600.0, 20),
                PairSignal {
                    maintenance: true,
                    ..pair(700.0)
                },
                Verdict::Suppressed,
            ),
            (
                "configuration deleted: nothing replicates, nothing to promote",
                ok(),
                silent(600.0, 20),
                PairSignal {
                    status: "NONE".into(),
                    last_replicated: None,
                    ..pair(0.0)
                },
                Verdict::Suspected,
            ),
        ];
        for (name, dr, source, p, want) in cases {
            let j = judge(NOW, dr, &source, &p, &down(), &s);
            assert_eq!(j.verdict, want, "{name}: {j:#?}");
        }
    }

    #[test]
    fn the_cadence_is_the_pair_s_own() {
        let s = DetectorSettings::default();
        // A pair that syncs every 10 minutes is not stalled 4 minutes after its last sync.
        let slow = PairSignal {
            learned_sync_gap: Some(600.0),
            ..pair(240.0)
        };
        assert_eq!(
            judge(NOW, Ok(()), &silent(200.0, 10), &slow, &down(), &s).verdict,
            Verdict::Suspected
        );
        // Without history, the fallback applies.
        let new = PairSignal {
            learned_sync_gap: None,
            ..pair(240.0)
        };
        assert_eq!(expected_sync_gap(&new, &s), 300.0);
        assert_eq!(
            judge(NOW, Ok(()), &silent(200.0, 10), &new, &down(), &s).verdict,
            Verdict::Suspected
        );
        assert_eq!(
            judge(
                NOW,
                Ok(()),
                &silent(400.0, 20),
                &PairSignal {
                    learned_sync_gap: None,
                    ..pair(400.0)
                },
                &down(),
                &s
            )
            .verdict,
            // Stalled past the fallback, but without a history a long sync
            // cannot be ruled out: a person decides.
            Verdict::Unconfirmed
        );
        // A tiny learned gap is floored.
        let fast = PairSignal {
            learned_sync_gap: Some(5.0),
            ..pair(50.0)
        };
        assert_eq!(
            expected_sync_gap(&fast, &s),
            5.0 * 1.25 + LAG_SAMPLING_SECONDS
        );
    }

    #[test]
    fn a_verdict_names_every_signal() {
        let j = judge(
            NOW,
            Ok(()),
            &silent(130.0, 6),
            &pair(150.0),
            &down(),
            &DetectorSettings::default(),
        );
        let names: Vec<&str> = j.signals.iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            vec![
                "dr_region_healthy",
                "source_unreachable",
                "replication_stalled",
                "replication_promotable",
                "witness_sees_source_down"
            ]
        );
        assert!(j.signals.iter().all(|s| s.agrees));
        assert_eq!(j.since, Some(NOW - 130.0));
    }

    #[test]
    fn the_witness_vetoes_or_leaves_it_to_a_person() {
        let s = DetectorSettings::default();
        let lost = |w: WitnessSignal, p: PairSignal| {
            judge(NOW, Ok(()), &silent(130.0, 6), &p, &w, &s).verdict
        };
        assert_eq!(lost(down(), pair(150.0)), Verdict::RegionLost);
        let serving = WitnessSignal::Serving {
            detail: "OK".into(),
        };
        // Silent 130 s: the witness may not have noticed yet.
        assert_eq!(lost(serving.clone(), pair(150.0)), Verdict::Suspected);
        let long = |w: WitnessSignal, p: PairSignal| {
            judge(NOW, Ok(()), &silent(400.0, 20), &p, &w, &s).verdict
        };
        assert_eq!(long(serving.clone(), pair(450.0)), Verdict::Vetoed);
        // A veto outranks a suppression: the person hears what matters most.
        assert_eq!(
            long(
                serving,
                PairSignal {
                    maintenance: true,
                    ..pair(450.0)
                }
            ),
            Verdict::Vetoed
        );
        let unknown = WitnessSignal::Unknown {
            detail: "INSUFFICIENT_DATA".into(),
        };
        assert_eq!(lost(unknown, pair(150.0)), Verdict::Unconfirmed);
        assert_eq!(
            lost(WitnessSignal::NotConfigured, pair(150.0)),
            Verdict::Unconfirmed
        );
        let unreadable = PairSignal {
            learned_sync_gap: None,
            history_error: Some("throttled".into()),
            ..pair(400.0)
        };
        let j = judge(NOW, Ok(()), &silent(400.0, 20), &unreadable, &down(), &s);
        assert_eq!(j.verdict, Verdict::Unconfirmed);
        assert!(j.reason.contains("cannot be read"), "{}", j.reason);
        // Not yet confirmed from here: the witness alone decides nothing.
        assert_eq!(
            judge(NOW, Ok(()), &silent(30.0, 2), &pair(150.0), &down(), &s).verdict,
            Verdict::Suspected
        );
    }
}
