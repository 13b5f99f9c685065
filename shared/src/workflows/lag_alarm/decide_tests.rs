//! The lag-alarm-handler's decision, as a table: an alarm state change, the
//! pair's health and the alarm's state now, and what must be decided.

use super::alarm_event::AlarmEvent;
use super::{decide, PairHealth};
use crate::domain::config::{AlarmPolicy, Config};
use crate::domain::ids::{FileSystemId, RegionName};
use crate::domain::ports::AlarmStatus;

const NOW: f64 = 100_000.0;

fn alarm(state: &str, changed_at: f64) -> AlarmEvent {
    AlarmEvent {
        name: "efs-dr-replication-lag-fs-0000000000000000b".into(),
        new_state: state.into(),
        old_state: Some("OK".into()),
        changed_at,
        reason: None,
        description: None,
        metrics: vec![],
        delivery: "sns",
    }
}

/// A pair whose source Region is gone and whose replica is complete.
fn lost_source() -> PairHealth {
    PairHealth {
        source_file_system_id: FileSystemId::parse("fs-0000000000000000a").unwrap(),
        source_region: RegionName::parse("us-east-1").unwrap(),
        destination_file_system_id: Some(FileSystemId::parse("fs-0000000000000000b").unwrap()),
        destination_region: RegionName::parse("us-west-2").unwrap(),
        status_message: None,
        source_account: None,
        status: "ENABLED".into(),
        lag_seconds: Some(1_200.0),
        last_replicated: Some("2026-11-27T10:00:00Z".into()),
        healthy: false,
        source_region_reachable: false,
        last_dr_event: None,
        failover_requested_at: None,
        last_notified: None,
        // Silent for 10 minutes, through 6 probes: confirmed.
        unreachable_mark: Some((NOW - 600.0, 6)),
        maintenance: false,
        last_replicated_epoch: Some(NOW - 1_200.0),
        failover_request_sent_at: None,
        detector_notified: None,
        witness: super::detector::WitnessSignal::Down {
            since: NOW - 600.0,
            detail: "ALARM".into(),
        },
    }
}

/// A case: what it shows, the policy, the event, the pair, the alarm now, the decision, words of its reason.
type Case<'a> = (
    &'a str,
    &'a Config,
    AlarmEvent,
    PairHealth,
    Option<AlarmStatus>,
    &'a str,
    &'a str,
);

fn held(seconds: f64) -> Option<AlarmStatus> {
    Some(AlarmStatus {
        state: "ALARM".into(),
        since: NOW - seconds,
        treat_missing_data: None,
    })
}

#[test]
fn failover_is_requested_only_when_every_signal_agrees() {
    let auto = Config {
        alarm_policy: AlarmPolicy::AutoFailover,
        alarm_min_seconds: 120.0,
        cooldown_seconds: 3_600.0,
        ..Config::default()
    };
    let notify = Config {
        alarm_policy: AlarmPolicy::Notify,
        ..auto.clone()
    };
    let dr = RegionName::parse("us-west-2").unwrap();
    let cases: Vec<Case> = vec![
        (
            "every signal agrees",
            &auto,
            alarm("ALARM", NOW - 300.0),
            lost_source(),
            held(300.0),
            "failover_requested",
            "every signal agrees",
        ),
        (
            "policy notify never fails over",
            &notify,
            alarm("ALARM", NOW - 300.0),
            lost_source(),
            held(300.0),
            "notify",
            "policy notify",
        ),
        (
            "an alarm held too briefly",
            &auto,
            alarm("ALARM", NOW - 60.0),
            lost_source(),
            held(60.0),
            "not_failing_over",
            "less than the 120 s required",
        ),
        (
            "a source that still answers",
            &auto,
            alarm("ALARM", NOW - 300.0),
            PairHealth {
                source_region_reachable: true,
                ..lost_source()
            },
            held(300.0),
            "not_failing_over",
            "answers: lag alone",
        ),
        (
            "a replica in its initial sync",
            &auto,
            alarm("ALARM", NOW - 300.0),
            PairHealth {
                status: "ENABLING".into(),
                last_replicated: None,
                ..lost_source()
            },
            held(300.0),
            "not_failing_over",
            "initial sync",
        ),
        (
            "nothing left to promote",
            &auto,
            alarm("ALARM", NOW - 300.0),
            PairHealth {
                status: "NONE".into(),
                ..lost_source()
            },
            held(300.0),
            "not_failing_over",
            "no replication configuration",
        ),
        (
            "within the cool-down",
            &auto,
            alarm("ALARM", NOW - 300.0),
            PairHealth {
                last_dr_event: Some(NOW - 600.0),
                ..lost_source()
            },
            held(300.0),
            "not_failing_over",
            "cool-down",
        ),
        (
            "an alarm that is OK again by now",
            &auto,
            alarm("ALARM", NOW - 300.0),
            lost_source(),
            Some(AlarmStatus {
                state: "OK".into(),
                since: NOW - 10.0,
                treat_missing_data: None,
            }),
            "not_failing_over",
            "late or repeated",
        ),
        (
            "an alarm that no longer exists",
            &auto,
            alarm("ALARM", NOW - 300.0),
            lost_source(),
            None,
            "not_failing_over",
            "not found",
        ),
        (
            "a state change older than the last failover",
            &auto,
            alarm("ALARM", NOW - 9_000.0),
            PairHealth {
                last_dr_event: Some(NOW - 5_000.0),
                ..lost_source()
            },
            held(9_000.0),
            "ignored",
            "before the last failover",
        ),
        (
            "a failover already requested for this change",
            &auto,
            alarm("ALARM", NOW - 300.0),
            PairHealth {
                failover_requested_at: Some(NOW - 200.0),
                ..lost_source()
            },
            held(300.0),
            "ignored",
            "already requested",
        ),
        (
            "another path's request, still outstanding, for an older failure start",
            &auto,
            alarm("ALARM", NOW - 300.0),
            PairHealth {
                failover_requested_at: Some(NOW - 7_200.0),
                failover_request_sent_at: Some(NOW - 60.0),
                ..lost_source()
            },
            held(300.0),
            "ignored",
            "already requested",
        ),
        (
            "a source silent only this run (a blip while the alarm is held)",
            &auto,
            alarm("ALARM", NOW - 300.0),
            PairHealth {
                unreachable_mark: Some((NOW - 30.0, 2)),
                ..lost_source()
            },
            held(300.0),
            "not_failing_over",
            "not been silent long enough",
        ),
        (
            "a maintenance window",
            &auto,
            alarm("ALARM", NOW - 300.0),
            PairHealth {
                maintenance: true,
                ..lost_source()
            },
            held(300.0),
            "not_failing_over",
            "maintenance window",
        ),
        (
            "replication paused",
            &auto,
            alarm("ALARM", NOW - 300.0),
            PairHealth {
                status: "PAUSED".into(),
                ..lost_source()
            },
            held(300.0),
            "not_failing_over",
            "PAUSED",
        ),
        (
            "OK resolves",
            &auto,
            alarm("OK", NOW - 30.0),
            lost_source(),
            None,
            "resolved",
            "OK again",
        ),
        (
            "INSUFFICIENT_DATA warns",
            &auto,
            alarm("INSUFFICIENT_DATA", NOW - 30.0),
            lost_source(),
            None,
            "warning",
            "insufficient data",
        ),
    ];
    for (name, config, event, health, status, decision, reason) in cases {
        let (got, why) = decide(config, &event, &health, status.as_ref(), &dr, NOW);
        assert_eq!(got, decision, "{name}: {why}");
        assert!(why.contains(reason), "{name}: {why}");
    }
}
