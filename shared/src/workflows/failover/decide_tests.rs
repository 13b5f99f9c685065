//! Every branch of failover's `decide`, as a table: what the DR Region
//! shows, the request, and the step (or refusal) that must follow.

use super::decide::{decide, Action, Observed, Source};
use super::request::FailoverTarget;
use crate::domain::error::Error;
use crate::domain::ids::{FileSystemId, RegionName};
use crate::domain::model::{
    DeletionMode, FileSystem, LifeCycle, Protection, Replication, ReplicationStatus,
};
use crate::domain::modes::Mode;
use crate::domain::tags;
use ReplicationStatus::{Deleting, Enabled, Enabling, Error as InError, Paused};

const SOURCE: &str = "fs-0000000000000000a";
const REPLICA: &str = "fs-0000000000000000b";
const OTHER: &str = "fs-0000000000000000c";
const NOW: f64 = 10_000.0;

fn id(s: &str) -> FileSystemId {
    FileSystemId::parse(s).unwrap()
}

fn region(s: &str) -> RegionName {
    RegionName::parse(s).unwrap()
}

fn replica(protection: Protection, tags: &[(&str, &str)]) -> FileSystem {
    FileSystem {
        id: id(REPLICA),
        region: region("us-west-2"),
        arn: format!("arn:aws:elasticfilesystem:us-west-2:123456789012:file-system/{REPLICA}"),
        life_cycle: LifeCycle::Available,
        protection,
        name: None,
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        mount_target_count: 0,
    }
}

fn from(fs: &str) -> Source {
    Source {
        file_system_id: id(fs),
        region: region("us-east-1"),
    }
}

const PROMOTED_FROM_SOURCE: &[(&str, &str)] = &[
    (tags::FAILOVER_SOURCE, "fs-0000000000000000a@us-east-1"),
    (tags::PROMOTED_AT, "9000.000"),
];
const PROMOTED_FROM_OTHER: &[(&str, &str)] = &[
    (tags::FAILOVER_SOURCE, "fs-0000000000000000c@us-east-1"),
    (tags::PROMOTED_AT, "9000.000"),
];

fn replication(
    from: &str,
    into: &str,
    status: ReplicationStatus,
    last: Option<f64>,
) -> Option<Replication> {
    Some(Replication {
        source_file_system_id: id(from),
        source_region: region("us-east-1"),
        destination_file_system_id: id(into),
        destination_region: region("us-west-2"),
        status,
        status_message: None,
        last_replicated: last,
        owners: Default::default(),
    })
}

struct Case {
    name: &'static str,
    protection: Protection,
    tags: &'static [(&'static str, &'static str)],
    replication: Option<Replication>,
    mode: Mode,
    force: bool,
    /// The action, or the refusal's guardrail (or error kind).
    expect: Result<Action, &'static str>,
    /// A warning the decision must carry.
    warns: Option<&'static str>,
    /// What the source Region's probe window said.
    source_reachable: Option<bool>,
    source_silent: Option<bool>,
    deletion_mode: Option<DeletionMode>,
}

fn healthy(name: &'static str) -> Case {
    Case {
        name,
        protection: Protection::Replicating,
        tags: &[],
        replication: replication(SOURCE, REPLICA, Enabled, Some(NOW - 60.0)),
        mode: Mode::Execute,
        force: false,
        expect: Ok(Action::Promote {
            last_replicated: Some(NOW - 60.0),
            source: from(SOURCE),
            deletion_mode: DeletionMode::AllConfigurations,
        }),
        warns: None,
        source_reachable: Some(true),
        source_silent: None,
        deletion_mode: None,
    }
}

const HUNG_SINCE: &[(&str, &str)] = &[
    (tags::FAILOVER_SOURCE, "fs-0000000000000000a@us-east-1"),
    (tags::PROMOTED_AT, "9000.000"),
];
const DELETING_SINCE_MOMENTS_AGO: &[(&str, &str)] = &[
    (tags::FAILOVER_SOURCE, "fs-0000000000000000a@us-east-1"),
    (tags::PROMOTED_AT, "9900.000"),
];

fn cases() -> Vec<Case> {
    use Protection::{Disabled, Enabled as Writable, Replicating};
    vec![
        healthy("a replica in sync is promoted"),
        Case {
            replication: replication(SOURCE, REPLICA, Deleting, Some(NOW - 60.0)),
            tags: HUNG_SINCE,
            source_reachable: Some(false),
            expect: Ok(Action::Escalate {
                source: from(SOURCE),
                waited_seconds: 1_000.0,
            }),
            ..healthy("a promotion hung past its bound with the source unreachable escalates to a local delete")
        },
        Case {
            replication: replication(SOURCE, REPLICA, Deleting, Some(NOW - 60.0)),
            tags: HUNG_SINCE,
            expect: Ok(Action::AwaitDeletion),
            ..healthy("a long promotion with the source answering is waited out, never escalated")
        },
        Case {
            replication: replication(SOURCE, REPLICA, Deleting, Some(NOW - 60.0)),
            tags: DELETING_SINCE_MOMENTS_AGO,
            source_reachable: Some(false),
            expect: Ok(Action::AwaitDeletion),
            ..healthy("a promotion within its bound is waited out even with the source down")
        },
        Case {
            deletion_mode: Some(DeletionMode::LocalConfigurationOnly),
            source_reachable: Some(false),
            expect: Ok(Action::Promote {
                last_replicated: Some(NOW - 60.0),
                source: from(SOURCE),
                deletion_mode: DeletionMode::LocalConfigurationOnly,
            }),
            ..healthy("a local-only promotion asked for with the source unreachable goes ahead")
        },
        Case {
            deletion_mode: Some(DeletionMode::LocalConfigurationOnly),
            expect: Err("SourceReachable"),
            ..healthy("a local-only promotion while the source answers is refused")
        },
        Case {
            deletion_mode: Some(DeletionMode::LocalConfigurationOnly),
            force: true,
            expect: Ok(Action::Promote {
                last_replicated: Some(NOW - 60.0),
                source: from(SOURCE),
                deletion_mode: DeletionMode::LocalConfigurationOnly,
            }),
            warns: Some("guardrail SourceReachable overridden by force"),
            ..healthy("force lets a local-only promotion through while the source answers")
        },
        Case {
            replication: None,
            tags: PROMOTED_FROM_SOURCE,
            mode: Mode::Plan,
            expect: Ok(Action::ReportPromotionUnderWay),
            ..healthy("plan mode between the configuration's end and protection ENABLED reports the promotion under way")
        },
        Case {
            mode: Mode::Plan,
            expect: Ok(Action::Plan {
                last_replicated: Some(NOW - 60.0),
            }),
            ..healthy("plan mode plans the promotion")
        },
        Case {
            replication: replication(SOURCE, REPLICA, Deleting, Some(NOW - 60.0)),
            expect: Ok(Action::AwaitDeletion),
            ..healthy("a configuration being deleted is waited out")
        },
        Case {
            replication: replication(SOURCE, REPLICA, Deleting, Some(NOW - 60.0)),
            mode: Mode::Plan,
            expect: Ok(Action::ReportPromotionUnderWay),
            ..healthy("plan mode reports a promotion under way")
        },
        Case {
            replication: None,
            expect: Ok(Action::AwaitWritable),
            ..healthy("configuration gone but still REPLICATING: wait")
        },
        Case {
            replication: None,
            protection: Writable,
            tags: PROMOTED_FROM_SOURCE,
            expect: Ok(Action::FinishPromoted),
            ..healthy("promoted by efs-dr from this source: finish")
        },
        Case {
            replication: None,
            protection: Writable,
            tags: PROMOTED_FROM_SOURCE,
            mode: Mode::Plan,
            expect: Ok(Action::ReportAlreadyWritable),
            ..healthy("plan mode reports an already writable file system")
        },
        Case {
            replication: None,
            protection: Writable,
            expect: Err("NotAReplica"),
            ..healthy("writable, and efs-dr never promoted it")
        },
        Case {
            replication: None,
            protection: Writable,
            force: true,
            expect: Ok(Action::FinishPromoted),
            warns: Some("guardrail NotAReplica overridden by force"),
            ..healthy("force adopts a file system efs-dr never promoted")
        },
        Case {
            replication: None,
            protection: Writable,
            tags: PROMOTED_FROM_OTHER,
            expect: Err("WrongSource"),
            ..healthy("promoted from another source")
        },
        Case {
            replication: None,
            protection: Disabled,
            expect: Err("Topology"),
            ..healthy("no configuration and protection DISABLED is neither replica nor writable")
        },
        Case {
            replication: None,
            protection: Replicating,
            mode: Mode::Plan,
            expect: Err("Topology"),
            ..healthy("plan mode does not wait on REPLICATING without configuration")
        },
        Case {
            replication: replication(REPLICA, OTHER, Enabled, Some(NOW - 60.0)),
            expect: Err("InvalidInput"),
            ..healthy("a destination that is itself a source: swapped")
        },
        Case {
            replication: replication(OTHER, REPLICA, Enabled, Some(NOW - 60.0)),
            expect: Err("WrongSource"),
            ..healthy("a replica of another source is refused")
        },
        Case {
            replication: replication(OTHER, REPLICA, Enabled, Some(NOW - 60.0)),
            force: true,
            expect: Err("WrongSource"),
            ..healthy("force does not override WrongSource")
        },
        Case {
            replication: None,
            protection: Writable,
            tags: PROMOTED_FROM_OTHER,
            force: true,
            expect: Err("WrongSource"),
            ..healthy("force does not adopt a file system promoted from another source")
        },
        Case {
            replication: replication(SOURCE, REPLICA, Enabling, None),
            expect: Err("InitialSync"),
            ..healthy("the initial sync is refused")
        },
        Case {
            replication: replication(SOURCE, REPLICA, Enabling, None),
            force: true,
            expect: Ok(Action::Promote {
                last_replicated: None,
                source: from(SOURCE),
                deletion_mode: DeletionMode::AllConfigurations,
            }),
            warns: Some("guardrail InitialSync overridden by force"),
            ..healthy("force promotes an incomplete copy without a recovery point")
        },
        Case {
            replication: replication(SOURCE, REPLICA, InError, Some(NOW - 60.0)),
            expect: Err("ReplicationError"),
            ..healthy("a replication in ERROR is refused")
        },
        Case {
            replication: replication(SOURCE, REPLICA, Paused, Some(NOW - 60.0)),
            expect: Ok(Action::Promote {
                last_replicated: Some(NOW - 60.0),
                source: from(SOURCE),
                deletion_mode: DeletionMode::AllConfigurations,
            }),
            warns: Some("replication is Paused"),
            ..healthy("a paused replication is promoted with a warning")
        },
        Case {
            replication: replication(SOURCE, REPLICA, Enabled, Some(NOW - 901.0)),
            expect: Err("RecoveryPointTooOld"),
            ..healthy("a recovery point beyond max_rpo_seconds is refused")
        },
        Case {
            replication: replication(SOURCE, REPLICA, Enabled, Some(NOW - 899.0)),
            expect: Ok(Action::Promote {
                last_replicated: Some(NOW - 899.0),
                source: from(SOURCE),
                deletion_mode: DeletionMode::AllConfigurations,
            }),
            ..healthy("a recovery point within max_rpo_seconds is promoted")
        },
        Case {
            replication: replication(SOURCE, REPLICA, Enabled, Some(NOW - 5000.0)),
            source_reachable: Some(false),
            expect: Ok(Action::Promote {
                last_replicated: Some(NOW - 5000.0),
                source: from(SOURCE),
                deletion_mode: DeletionMode::AllConfigurations,
            }),
            warns: Some("the last sync completed 5000 s ago"),
            ..healthy("an old recovery point is promoted, with a warning, when the source does not answer: waiting cannot improve it")
        },
        Case {
            replication: replication(SOURCE, REPLICA, Enabled, Some(NOW - 5000.0)),
            source_reachable: Some(false),
            source_silent: Some(false),
            expect: Err("RecoveryPointTooOld"),
            ..healthy("an old recovery point is refused while the source answers only with 5xx or throttling: it is there, replication can catch up")
        },
        Case {
            replication: replication(SOURCE, REPLICA, Enabled, Some(NOW - 5000.0)),
            source_reachable: None,
            expect: Err("RecoveryPointTooOld"),
            ..healthy("an old recovery point is refused while the source's state is unknown")
        },
        Case {
            replication: replication(SOURCE, REPLICA, Enabled, Some(NOW - 5000.0)),
            mode: Mode::Plan,
            source_reachable: Some(false),
            expect: Ok(Action::Plan {
                last_replicated: Some(NOW - 5000.0),
            }),
            warns: Some("the last sync completed 5000 s ago"),
            ..healthy("plan mode says the same as execute during an outage")
        },
    ]
}

fn error_name(e: &Error) -> String {
    match e {
        Error::Refused(r) => r.guardrail.to_string(),
        Error::Topology(_) => "Topology".into(),
        Error::InvalidInput(_) => "InvalidInput".into(),
        other => format!("{other:?}"),
    }
}

#[test]
fn each_state_leads_to_its_one_next_step_or_refusal() {
    for c in cases() {
        let target = FailoverTarget {
            source_id: id(SOURCE),
            source_region: region("us-east-1"),
            destination_id: Some(id(REPLICA)),
            destination_region: region("us-west-2"),
            mode: c.mode,
            max_rpo_seconds: 900,
            force: c.force,
            mount_targets: vec![],
            reason: None,
            deletion_mode: c.deletion_mode,
            max_promotion_wait_seconds: 600,
            synced_after: None,
            region_switch: None,
            known_source_window: None,
        };
        let seen = Observed {
            destination: replica(c.protection, c.tags),
            replication: c.replication,
            source_reachable: c.source_reachable,
            // Unreachable means silent, unless a case says it answered with errors.
            source_silent: c.source_silent.or(c.source_reachable.map(|r| !r)),
        };
        match (decide(&target, &seen, NOW), &c.expect) {
            (Ok(d), Ok(want)) => {
                assert_eq!(&d.action, want, "{}", c.name);
                if let Some(w) = c.warns {
                    assert!(
                        d.warnings.iter().any(|x| x.starts_with(w)),
                        "{}: warnings {:?}",
                        c.name,
                        d.warnings
                    );
                } else {
                    assert!(d.warnings.is_empty(), "{}: {:?}", c.name, d.warnings);
                }
            }
            (Err(e), Err(name)) => assert_eq!(&error_name(&e), name, "{}", c.name),
            (got, want) => panic!("{}: got {got:?}, expected {want:?}", c.name),
        }
    }
}

fn synced_target(mode: Mode, mark: f64, force: bool) -> FailoverTarget {
    FailoverTarget {
        source_id: id(SOURCE),
        source_region: region("us-east-1"),
        destination_id: Some(id(REPLICA)),
        destination_region: region("us-west-2"),
        mode,
        max_rpo_seconds: 900,
        force,
        mount_targets: vec![],
        reason: None,
        deletion_mode: None,
        max_promotion_wait_seconds: 600,
        synced_after: Some(mark),
        region_switch: None,
        known_source_window: None,
    }
}

fn synced_seen(status: ReplicationStatus, last: Option<f64>, silent: bool) -> Observed {
    Observed {
        destination: replica(Protection::Replicating, &[]),
        replication: replication(SOURCE, REPLICA, status, last),
        source_reachable: Some(!silent),
        source_silent: Some(silent),
    }
}

#[test]
fn synced_after_waits_for_a_later_sync() {
    let seen = |silent| synced_seen(Enabled, Some(NOW - 60.0), silent);
    // The last sync (NOW - 60) is before the mark: wait for the next one.
    let d = decide(
        &synced_target(Mode::Execute, NOW - 30.0, false),
        &seen(false),
        NOW,
    )
    .unwrap();
    assert_eq!(
        d.action,
        Action::AwaitSync {
            mark: NOW - 30.0,
            last_replicated: Some(NOW - 60.0)
        }
    );
    // A sync after the mark: promote.
    let d = decide(
        &synced_target(Mode::Execute, NOW - 90.0, false),
        &seen(false),
        NOW,
    )
    .unwrap();
    assert!(matches!(d.action, Action::Promote { .. }), "{d:?}");
    // Silent now: still wait (a planned move; a blip is likelier), saying how out.
    let d = decide(
        &synced_target(Mode::Execute, NOW - 30.0, false),
        &seen(true),
        NOW,
    )
    .unwrap();
    assert!(matches!(d.action, Action::AwaitSync { .. }), "{d:?}");
    assert!(d.warnings.iter().any(|w| w.contains("force")), "{d:?}");
    // force: promote without it, and say so.
    let d = decide(
        &synced_target(Mode::Execute, NOW - 30.0, true),
        &seen(false),
        NOW,
    )
    .unwrap();
    assert!(matches!(d.action, Action::Promote { .. }), "{d:?}");
    assert!(d.warnings.iter().any(|w| w.contains("without it")), "{d:?}");
    // Plan mode says execute will wait.
    let d = decide(
        &synced_target(Mode::Plan, NOW - 30.0, false),
        &seen(false),
        NOW,
    )
    .unwrap();
    assert!(matches!(d.action, Action::Plan { .. }), "{d:?}");
    assert!(
        d.warnings.iter().any(|w| w.contains("execute waits")),
        "{d:?}"
    );
    // A paused replication completes no sync: refused, not an endless wait.
    let paused = synced_seen(Paused, Some(NOW - 60.0), false);
    match decide(
        &synced_target(Mode::Execute, NOW - 30.0, false),
        &paused,
        NOW,
    ) {
        Err(Error::Refused(r)) => assert_eq!(r.guardrail, "NoSyncCanComplete"),
        other => panic!("{other:?}"),
    }
    // A mark in the future (milliseconds for seconds) would never be met.
    let future = decide(
        &synced_target(Mode::Execute, NOW * 1000.0, false),
        &seen(false),
        NOW,
    );
    assert!(matches!(future, Err(Error::InvalidInput(_))), "{future:?}");
}

#[test]
fn an_unmet_mark_never_promotes_without_force() {
    let lasts = [None, Some(NOW - 600.0), Some(NOW - 60.0), Some(NOW - 5.0)];
    let marks = [NOW - 900.0, NOW - 100.0, NOW - 30.0, NOW, NOW + 200.0];
    for status in [Enabled, Paused, InError] {
        for last in lasts {
            for mark in marks {
                for silent in [false, true] {
                    let seen = synced_seen(status.clone(), last, silent);
                    let target = synced_target(Mode::Execute, mark, false);
                    let unmet = last.is_none_or(|l| l < mark);
                    if let Ok(d) = decide(&target, &seen, NOW) {
                        let promotes = matches!(d.action, Action::Promote { .. });
                        assert!(
                            !(unmet && promotes),
                            "{status:?} last {last:?} mark {mark} silent {silent}: {d:?}"
                        );
                    }
                }
            }
        }
    }
}
