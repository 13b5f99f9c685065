//! Properties of the lag-alarm-handler's `decide` over random alarm state
//! changes, pair health and alarm states now.

use super::alarm_event::AlarmEvent;
use super::{decide, PairHealth};
use crate::domain::config::{AlarmPolicy, Config};
use crate::domain::ports::AlarmStatus;
use crate::workflows::props::{id, region, time, A, B, EAST, NOW, WEST};
use proptest::prelude::*;

#[derive(Debug)]
struct Case {
    config: Config,
    alarm: AlarmEvent,
    health: PairHealth,
    status: Option<AlarmStatus>,
}

/// An alarm state: ALARM as often as all the others, as the interesting cases need it.
fn state() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just("ALARM"),
        1 => Just("OK"),
        1 => Just("INSUFFICIENT_DATA"),
        1 => Just("garbage"),
    ]
    .prop_map(str::to_string)
}

fn case() -> BoxedStrategy<Case> {
    let config = (
        prop_oneof![1 => Just(AlarmPolicy::Notify), 3 => Just(AlarmPolicy::AutoFailover)],
        prop::sample::select(vec![0.0, 120.0, 300.0]),
        prop::sample::select(vec![0.0, 3_600.0]),
    )
        .prop_map(
            |(alarm_policy, alarm_min_seconds, cooldown_seconds)| Config {
                alarm_policy,
                alarm_min_seconds,
                cooldown_seconds,
                ..Config::default()
            },
        );
    let alarm = (state(), time()).prop_map(|(new_state, changed_at)| AlarmEvent {
        name: format!("efs-dr-replication-lag-{B}"),
        new_state,
        old_state: Some("OK".into()),
        changed_at,
        reason: None,
        description: None,
        metrics: vec![],
        delivery: "sns",
    });
    let health = (
        prop_oneof![
            5 => Just("ENABLED"),
            1 => prop::sample::select(vec!["ENABLING", "PAUSED", "ERROR", "DELETING", "NONE"]),
        ],
        proptest::bool::weighted(0.8),
        proptest::option::weighted(0.8, time()),
        proptest::bool::weighted(0.3),
        proptest::option::weighted(0.3, time()),
        proptest::option::weighted(0.2, time()),
        proptest::option::weighted(0.7, (time(), 0u32..8)),
        proptest::bool::weighted(0.1),
    )
        .prop_map(
            |(
                status,
                named,
                last_replicated,
                reachable,
                last_dr_event,
                requested,
                mark,
                maintenance,
            )| PairHealth {
                source_file_system_id: id(A),
                source_region: region(EAST),
                destination_file_system_id: named.then(|| id(B)),
                destination_region: region(WEST),
                status_message: None,
                source_account: None,
                status: status.into(),
                lag_seconds: last_replicated.map(|t| (NOW - t).max(0.0)),
                last_replicated: last_replicated.map(crate::domain::time::iso8601),
                healthy: status == "ENABLED" && last_replicated.is_some(),
                source_region_reachable: reachable,
                last_dr_event,
                failover_requested_at: requested,
                failover_request_sent_at: requested,
                last_notified: None,
                unreachable_mark: mark,
                maintenance,
                last_replicated_epoch: last_replicated,
                detector_notified: None,
                witness: super::detector::WitnessSignal::Down {
                    since: NOW - 600.0,
                    detail: "ALARM".into(),
                },
            },
        );
    let status = proptest::option::weighted(
        0.9,
        (state(), time()).prop_map(|(state, since)| AlarmStatus {
            state,
            since,
            treat_missing_data: None,
        }),
    );
    (config, alarm, health, status)
        .prop_map(|(config, alarm, health, status)| Case {
            config,
            alarm,
            health,
            status,
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// An automatic failover is requested only when every signal agrees: policy
    /// auto_failover, the alarm held in ALARM long enough, the source Region
    /// silent, a configuration to promote that is past its initial sync (so
    /// the replica is still read-only: there is one primary, and it is gone),
    /// no failover or failback within the cool-down, and this state change is
    /// neither older than the last one nor already acted on.
    #[test]
    fn failover_is_requested_only_when_every_signal_agrees(c in case()) {
        let region = region(WEST);
        let (decision, reason) = decide(&c.config, &c.alarm, &c.health, c.status.as_ref(), &region, NOW);
        prop_assert!(
            ["notify", "failover_requested", "not_failing_over", "resolved", "warning", "ignored"].contains(&decision),
            "{decision}"
        );
        prop_assert!(!reason.is_empty());
        if decision == "failover_requested" {
            let h = &c.health;
            prop_assert_eq!(c.config.alarm_policy, AlarmPolicy::AutoFailover);
            prop_assert_eq!(c.alarm.new_state.as_str(), "ALARM");
            let held = c.status.as_ref().is_some_and(|s| s.state == "ALARM" && NOW - s.since >= c.config.alarm_min_seconds);
            prop_assert!(held, "{:?}", c.status);
            prop_assert!(!h.source_region_reachable);
            prop_assert!(h.destination_file_system_id.is_some());
            prop_assert!(h.status != "NONE" && h.status != "ENABLING", "{}", h.status);
            prop_assert!(h.status != "ENABLED" || h.last_replicated.is_some());
            prop_assert!(h.last_dr_event.is_none_or(|e| NOW - e >= c.config.cooldown_seconds && c.alarm.changed_at >= e));
            prop_assert!(h.failover_requested_at.is_none_or(|t| c.alarm.changed_at > t));
            prop_assert!(!h.maintenance);
            prop_assert!(!["PAUSED", "PAUSING", "ERROR", "DELETING"].contains(&h.status.as_str()), "{}", h.status);
            let d = &c.config.detector;
            prop_assert!(
                h.unreachable_mark.is_some_and(|(since, n)| NOW - since >= d.confirm_seconds && n >= d.min_failed_probes),
                "the source's silence is confirmed by the region detector: {:?}",
                h.unreachable_mark
            );
        }
    }

    /// A delivery older than the last failover or failback, or one already
    /// acted on, changes nothing, whatever it says.
    #[test]
    fn stale_and_repeated_deliveries_are_ignored(c in case()) {
        let region = region(WEST);
        let (decision, _) = decide(&c.config, &c.alarm, &c.health, c.status.as_ref(), &region, NOW);
        let stale = c.health.last_dr_event.is_some_and(|e| c.alarm.changed_at < e);
        let repeated = c.health.failover_requested_at.is_some_and(|t| c.alarm.changed_at <= t);
        if stale || repeated {
            prop_assert_eq!(decision, "ignored");
        }
    }
}
