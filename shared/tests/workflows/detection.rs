//! Region-failure detection, scenario by scenario, against the emulator:
//! the probe runs every emulated minute as the schedule runs it, with policy
//! auto_failover, and every decision and notification is recorded.
//!
//! - False alarms: none may lead to a failover request or a promotion; each
//!   records what the operator was told.
//! - True failures: the decision within 4 minutes of the failure, and the
//!   replica writable within 8 (AWS's promotion included).
//!
//! The figures go to target/tmp/detection.txt, printed by the test command.

use crate::common;

use common::*;
use efs_dr_emulator::ReplicationFault;
use efs_dr_shared::domain::config::{AlarmPolicy, Config, PairConfig, WitnessAlarm};
use efs_dr_shared::domain::ids::FileSystemRef;
use efs_dr_shared::testing::{MutationBudget, TestPlatform};
use efs_dr_shared::workflows::failover;
use efs_dr_shared::workflows::lag_alarm as lag;
use efs_dr_testkit::alarm_path;
use serde_json::{json, Value};
use std::fmt::Write as _;

pub(crate) struct Setup {
    pub config: Config,
    pub src: String,
    pub dst: String,
    pub alerts: String,
    pub requests: String,
}

pub(crate) async fn setup(w: &World, token: &str) -> Setup {
    let (src, dst) = w.replicated_pair(token).await;
    let topics = alarm_path::create_topics(&w.sdk, &region(WEST))
        .await
        .expect("topics");
    let mut config = w.config();
    config.pairs = vec![PairConfig {
        source_file_system_id: FileSystemRef::parse(&src).expect("id"),
        source_region: Some(region(EAST)),
        destination_file_system_id: Some(FileSystemRef::parse(&dst).expect("id")),
        destination_region: None,
        mount_targets: None,
    }];
    config.source_region = Some(region(EAST));
    config.alerts_topic_arn = Some(topics.alerts_topic_arn.clone());
    config.failover_topic_arn = Some(topics.failover_topic_arn.clone());
    config.alarm_policy = AlarmPolicy::AutoFailover;
    // The template's detector: 3 probes a minute, confirmed after 2 minutes.
    config.detector = Default::default();
    let witness = w.witness(EAST).await.expect("witness");
    config.witness_alarm = Some(WitnessAlarm::parse(&witness).expect("witness ARN"));
    Setup {
        config,
        src,
        dst,
        alerts: topics.alerts_topic_arn,
        requests: topics.failover_topic_arn,
    }
}

/// One scheduled probe run per emulated minute, `n` times. Returns each
/// run's end time and output.
pub(crate) async fn minutes(w: &World, s: &Setup, n: usize) -> Vec<(f64, Value)> {
    minutes_on(w, s, n, &w.platform(MutationBudget::default())).await
}

/// `minutes` on a given platform (a crashing one, say).
pub(crate) async fn minutes_on(
    w: &World,
    s: &Setup,
    n: usize,
    platform: &TestPlatform<efs_dr_aws::AwsContext>,
) -> Vec<(f64, Value)> {
    let mut runs = Vec::new();
    for _ in 0..n {
        let started = w.emu.shared.now();
        let out = lag::probe(platform, &s.config)
            .await
            .unwrap_or_else(|e| json!({"error": e.to_string()}));
        runs.push((w.emu.shared.now(), out));
        let next = started + 60.0 - w.emu.shared.now();
        if next > 0.0 {
            w.advance(next);
        }
    }
    runs
}

pub(crate) fn messages(w: &World, topic: &str, from: usize) -> Vec<(String, String)> {
    w.emu
        .shared
        .world()
        .messages
        .iter()
        .skip(from)
        .filter(|m| m.topic_arn == topic)
        .map(|m| (m.subject.clone().unwrap_or_default(), m.message.clone()))
        .collect()
}

pub(crate) fn verdicts(runs: &[(f64, Value)]) -> Vec<String> {
    runs.iter()
        .map(|(_, out)| {
            out["detections"][0]["verdict"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| {
                    out["error"]
                        .as_str()
                        .map(|e| format!("probe failed ({})", e.split(':').next().unwrap_or(e)))
                        .unwrap_or_else(|| "none".into())
                })
        })
        .collect()
}

/// A run's verdicts, collapsed: `healthy x20, suspected x3, healthy x7`.
pub(crate) fn collapsed(v: &[String]) -> String {
    let mut out: Vec<(String, usize)> = Vec::new();
    for x in v {
        match out.last_mut() {
            Some((last, n)) if last == x => *n += 1,
            _ => out.push((x.clone(), 1)),
        }
    }
    out.iter()
        .map(|(x, n)| format!("{x} x{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a scenario does to the world.
#[derive(Clone)]
pub(crate) enum Step {
    Faults(Value),
    Replication(ReplicationFault),
    /// A write of this many bytes on the source.
    Burst(u64),
    DeleteReplication,
    DeleteSource,
    Maintenance,
    Advance(f64),
    /// Until a sync has just completed (the failure then strikes with the
    /// replica as fresh as it gets, and maybe a sync in flight).
    JustAfterASync,
}

pub(crate) async fn apply(w: &World, s: &Setup, step: &Step) {
    match step {
        Step::Faults(v) => w.faults(v.clone()),
        Step::Replication(f) => w
            .emu
            .shared
            .set_replication_fault(&s.src, f.clone())
            .expect("replication fault"),
        Step::Burst(bytes) => {
            w.emu
                .shared
                .write(EAST, &s.src, "/burst.bin", "a large write", Some(*bytes))
                .expect("write");
        }
        Step::DeleteReplication => {
            w.efs(WEST)
                .delete_replication_configuration()
                .source_file_system_id(&s.src)
                .send()
                .await
                .expect("delete replication");
        }
        Step::DeleteSource => {
            w.efs(EAST)
                .delete_file_system()
                .file_system_id(&s.src)
                .send()
                .await
                .expect("delete the source");
        }
        Step::Maintenance => {
            w.efs(WEST)
                .tag_resource()
                .resource_id(&s.dst)
                .tags(
                    aws_sdk_efs::types::Tag::builder()
                        .key("efs-dr:maintenance")
                        .value("until 06:00, ticket 4711")
                        .build()
                        .expect("tag"),
                )
                .send()
                .await
                .expect("tag");
        }
        Step::Advance(secs) => w.advance(*secs),
        Step::JustAfterASync => {
            let last = |w: &World| {
                w.emu
                    .shared
                    .world()
                    .replications
                    .iter()
                    .find(|r| r.destination_file_system_id == s.dst)
                    .and_then(|r| r.last_replicated)
            };
            let before = last(w);
            for _ in 0..300 {
                w.advance(1.0);
                if last(w) != before {
                    break;
                }
            }
            w.advance(5.0);
        }
    }
}

pub(crate) fn outage() -> Step {
    Step::Faults(json!({"region": EAST, "outage": true}))
}

/// A scenario of the false-alarm suite: what happens after 20 healthy minutes.
struct FalseAlarm {
    name: &'static str,
    minutes: usize,
    start: Vec<Step>,
    /// Applied before every `n`th probe run.
    every: Option<(usize, Vec<Step>)>,
}

fn false_alarms() -> Vec<FalseAlarm> {
    let plain = |name, minutes, start| FalseAlarm {
        name,
        minutes,
        start,
        every: None,
    };
    vec![
        plain(
            "one failed probe (a 15 s blip)",
            15,
            vec![Step::Faults(
                json!({"region": EAST, "outage": true, "outage_seconds": 15.0}),
            )],
        ),
        FalseAlarm {
            name: "short blips (50 s down every 3 minutes)",
            minutes: 15,
            start: vec![],
            every: Some((
                3,
                vec![Step::Faults(
                    json!({"region": EAST, "outage": true, "outage_seconds": 50.0}),
                )],
            )),
        },
        plain(
            "the DR Region's own API failing (5xx); the source unreachable from here too",
            12,
            vec![
                Step::Faults(json!({"region": WEST, "error_rate": 1.0})),
                outage(),
            ],
        ),
        plain(
            "the DR Region's own API throttled; the source unreachable from here too",
            12,
            vec![
                Step::Faults(json!({"region": WEST, "throttle": {"rate": 0.01, "burst": 1.0}})),
                outage(),
            ],
        ),
        plain(
            "the source's API browned out: only 5xx",
            12,
            vec![Step::Faults(json!({"region": EAST, "error_rate": 1.0}))],
        ),
        plain(
            "the source's API browned out (only 5xx) and replication stalled: the Region is there",
            12,
            vec![
                Step::Faults(json!({"region": EAST, "error_rate": 1.0})),
                Step::Replication(ReplicationFault::Stalled),
            ],
        ),
        plain(
            "the source's API throttling everything and replication stalled",
            12,
            vec![
                Step::Faults(json!({"region": EAST, "throttle": {"rate": 0.01, "burst": 1.0}})),
                Step::Replication(ReplicationFault::Stalled),
            ],
        ),
        plain(
            "the source's API throttling everything",
            12,
            vec![Step::Faults(
                json!({"region": EAST, "throttle": {"rate": 0.01, "burst": 1.0}}),
            )],
        ),
        plain(
            "a large write burst (8 GiB): lag grows for an hour, the source healthy",
            70,
            vec![Step::Burst(8 << 30)],
        ),
        plain(
            "replication PAUSED, then the source unreachable",
            12,
            vec![Step::Replication(ReplicationFault::Paused), outage()],
        ),
        plain(
            "replication deleted by an operator, then the source unreachable",
            12,
            vec![Step::DeleteReplication, Step::Advance(300.0), outage()],
        ),
        plain(
            "the source file system deleted on purpose",
            12,
            vec![
                Step::DeleteReplication,
                Step::Advance(300.0),
                Step::DeleteSource,
            ],
        ),
        plain(
            "a maintenance window (efs-dr:maintenance on the replica), the source unreachable",
            12,
            vec![
                Step::Maintenance,
                Step::Replication(ReplicationFault::Stalled),
                outage(),
            ],
        ),
        plain(
            "the source's EFS API down, replication still running",
            12,
            vec![Step::Faults(
                json!({"region": EAST, "outage": true, "outage_services": ["elasticfilesystem"]}),
            )],
        ),
    ]
}

pub(crate) fn figures_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_false_alarm_leads_to_a_failover() {
    let mut table = String::from(
        "False alarms (policy auto_failover; a probe run every emulated minute, 3 source probes 20 s apart; confirmation 120 s):\n",
    );
    let mut failures = Vec::new();
    for (i, scenario) in false_alarms().into_iter().enumerate() {
        let w = world().await;
        let s = setup(&w, &format!("false-{i}")).await;
        minutes(&w, &s, 20).await;
        let from = w.emu.shared.world().messages.len();
        for step in &scenario.start {
            apply(&w, &s, step).await;
        }
        let mut runs = Vec::new();
        for m in 0..scenario.minutes {
            if let Some((n, steps)) = &scenario.every {
                if m % n == 0 {
                    for step in steps {
                        apply(&w, &s, step).await;
                    }
                }
            }
            runs.extend(minutes(&w, &s, 1).await);
        }
        let requested = messages(&w, &s.requests, from);
        // Read from the emulator's state: the scenario may have broken the API.
        let promoted = w
            .emu
            .shared
            .world()
            .file_system(WEST, &s.dst)
            .is_some_and(|f| f.tags.iter().any(|(k, _)| k == "efs-dr:promoted-at"));
        let told: Vec<String> = messages(&w, &s.alerts, from)
            .into_iter()
            .map(|(subject, _)| subject)
            .collect();
        let decision = if requested.is_empty() && !promoted {
            "no failover"
        } else {
            "FAILOVER"
        };
        let _ = writeln!(
            table,
            "  {:<80} {decision}; verdicts: {}; told: {}",
            scenario.name,
            collapsed(&verdicts(&runs)),
            if told.is_empty() {
                "nothing".to_string()
            } else {
                told.join(" | ")
            }
        );
        if decision != "no failover" {
            failures.push(format!(
                "{}: {} failover request(s): {requested:?}",
                scenario.name,
                requested.len()
            ));
        }
    }
    let _ = std::fs::write(figures_path("detection-false-alarms.txt"), &table);
    println!("{table}");
    assert!(failures.is_empty(), "{failures:#?}\n{table}");
}

/// A true failure: how the source Region fails.
struct TrueFailure {
    name: &'static str,
    start: Vec<Step>,
}

fn true_failures() -> Vec<TrueFailure> {
    vec![
        TrueFailure {
            name: "source Region unreachable (connection refused)",
            start: vec![Step::Faults(
                json!({"region": EAST, "outage": true, "outage_mode": "refuse"}),
            )],
        },
        TrueFailure {
            name: "source Region unreachable 5 s after a sync completed",
            start: vec![Step::JustAfterASync, outage()],
        },
        TrueFailure {
            name: "source Region unreachable (black hole: probes time out)",
            start: vec![Step::Faults(
                json!({"region": EAST, "outage": true, "outage_mode": "blackhole"}),
            )],
        },
        TrueFailure {
            name: "replication stalled, the source Region unreachable",
            start: vec![Step::Replication(ReplicationFault::Stalled), outage()],
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_region_is_detected_in_minutes_and_the_replica_writable_within_eight() {
    let mut table = String::from(
        "True failures (policy auto_failover; emulated AWS: DeleteReplicationConfiguration 180 s, protection 20 s later):\n",
    );
    let mut failures = Vec::new();
    for (i, scenario) in true_failures().into_iter().enumerate() {
        let w = world().await;
        let s = setup(&w, &format!("true-{i}")).await;
        minutes(&w, &s, 20).await;
        let from = w.emu.shared.world().messages.len();
        let failed_at = w.emu.shared.now();
        for step in &scenario.start {
            apply(&w, &s, step).await;
        }
        let mut decided_at = None;
        let mut runs = Vec::new();
        for _ in 0..10 {
            let run = minutes(&w, &s, 1).await;
            runs.extend(run);
            if !messages(&w, &s.requests, from).is_empty() {
                decided_at = runs.last().map(|(t, _)| *t);
                break;
            }
        }
        let requests = messages(&w, &s.requests, from);
        let mut writable_at = None;
        if let Some((_, request)) = requests.first() {
            let platform = w.platform(MutationBudget::default());
            let event =
                json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": request}}]});
            let out = failover::handle_event(&platform, &s.config, event, None)
                .await
                .expect("failover");
            if out["status"] == "completed" && w.protection(WEST, &s.dst).await == "ENABLED" {
                writable_at = Some(w.emu.shared.now());
            }
        }
        let told: Vec<String> = messages(&w, &s.alerts, from)
            .into_iter()
            .map(|(subject, _)| subject)
            .collect();
        let decision = decided_at.map(|t| t - failed_at);
        let writable = writable_at.map(|t| t - failed_at);
        let _ = writeln!(
            table,
            "  {:<100} decision after {}, writable after {}; verdicts: {}; told: {}",
            scenario.name,
            decision
                .map(|d| format!("{d:.0} s"))
                .unwrap_or_else(|| "NEVER".into()),
            writable
                .map(|d| format!("{d:.0} s"))
                .unwrap_or_else(|| "NEVER".into()),
            collapsed(&verdicts(&runs)),
            told.join(" | ")
        );
        if !decision.is_some_and(|d| d <= 240.0) {
            failures.push(format!(
                "{}: decision after {decision:?} s (at most 240)",
                scenario.name
            ));
        }
        if !writable.is_some_and(|d| d <= 480.0) {
            failures.push(format!(
                "{}: writable after {writable:?} s (at most 480)",
                scenario.name
            ));
        }
        if requests.len() != 1 {
            failures.push(format!(
                "{}: {} failover requests, one expected",
                scenario.name,
                requests.len()
            ));
        }
    }
    let _ = std::fs::write(figures_path("detection-true-failures.txt"), &table);
    println!("{table}");
    assert!(failures.is_empty(), "{failures:#?}\n{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_notify_tells_a_person_within_the_same_minutes_with_the_plan() {
    let w = world().await;
    let mut s = setup(&w, "notify").await;
    s.config.alarm_policy = AlarmPolicy::Notify;
    minutes(&w, &s, 20).await;
    let from = w.emu.shared.world().messages.len();
    let failed_at = w.emu.shared.now();
    apply(&w, &s, &outage()).await;
    let runs = minutes(&w, &s, 6).await;
    let told = messages(&w, &s.alerts, from);
    let page = told
        .iter()
        .find(|(subject, _)| subject.contains("needs a decision"));
    let (subject, body) =
        page.unwrap_or_else(|| panic!("no page: {told:?}, verdicts {:?}", verdicts(&runs)));
    let told_at = runs
        .iter()
        .find(|(_, out)| out["detections"][0]["decision"] == "notify")
        .map(|(t, _)| t - failed_at);
    let line = format!(
        "Policy notify (source Region unreachable, connection refused): a person told after {} s, with the signals, the plan and its recovery point\n",
        told_at.map(|t| format!("{t:.0}")).unwrap_or_else(|| "NEVER".into())
    );
    let _ = std::fs::write(figures_path("detection-notify.txt"), &line);
    println!("{line}");
    assert!(
        told_at.is_some_and(|t| t <= 240.0),
        "told after {told_at:?} s"
    );
    assert!(
        body.contains("The failover plan:") && body.contains("Recovery point"),
        "{subject}\n{body}"
    );
    assert!(
        body.contains("[x] source_unreachable") && body.contains("[x] replication_stalled"),
        "{body}"
    );
    assert!(body.contains("To fail over, plan first"), "{body}");
    assert!(
        messages(&w, &s.requests, from).is_empty(),
        "notify never requests a failover"
    );
    assert_eq!(
        told.iter()
            .filter(|(s, _)| s.contains("needs a decision"))
            .count(),
        1,
        "told once: {told:?}"
    );
    assert_eq!(w.protection(WEST, &s.dst).await, "REPLICATING");
}
