//! Every branch of failback's `decide`, as a table: the state both Regions
//! show, the request, and the step that must follow.

use super::decide::{decide, Action, Observed};
use super::request::{FailbackTarget, Strategy};
use crate::domain::error::Error;
use crate::domain::ids::{FileSystemId, RegionName};
use crate::domain::model::{FileSystem, LifeCycle, Protection, Replication, ReplicationStatus};
use crate::domain::modes::Mode;
use crate::domain::tags;
use ReplicationStatus::{Deleting, Enabled, Enabling, Error as InError};

const ORIGINAL: &str = "fs-0000000000000000a";
const REPLICA: &str = "fs-0000000000000000b";
const OTHER: &str = "fs-0000000000000000c";
const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";
const NOW: f64 = 1_000.0;

fn id(s: &str) -> FileSystemId {
    FileSystemId::parse(s).unwrap()
}

fn region(s: &str) -> RegionName {
    RegionName::parse(s).unwrap()
}

fn fs(fs_id: &str, r: &str, protection: Protection, tags: &[(&str, &str)]) -> FileSystem {
    FileSystem {
        id: id(fs_id),
        region: region(r),
        arn: format!("arn:aws:elasticfilesystem:{r}:123456789012:file-system/{fs_id}"),
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

fn rep(from: &str, into: &str, status: ReplicationStatus, last: Option<f64>) -> Replication {
    let region_of = |f: &str| if f == REPLICA { WEST } else { EAST };
    Replication {
        source_file_system_id: id(from),
        source_region: region(region_of(from)),
        destination_file_system_id: id(into),
        destination_region: region(region_of(into)),
        status,
        status_message: None,
        last_replicated: last,
        owners: Default::default(),
    }
}

fn target(strategy: Strategy, cutover: bool) -> FailbackTarget {
    FailbackTarget {
        original_id: Some(id(ORIGINAL)),
        original_region: region(EAST),
        replica_id: id(REPLICA),
        replica_region: region(WEST),
        strategy,
        mode: Mode::Execute,
        cutover,
        cutover_mark: None,
        force: false,
        mount_targets: vec![],
        reason: None,
        preserve: Default::default(),
        backup_vault: "Default".into(),
        backup_role_arn: None,
        region_switch: None,
        original_account: None,
        source_account_role: None,
        replication_role_arn: None,
        source_replication_role_arn: None,
        source_backup_role_arn: None,
    }
}

use Protection::{Disabled as Open, Enabled as Writable, Replicating as ReadOnly};

const FAILED_OVER: &[(&str, &str)] = &[(tags::FAILOVER_COMPLETED_AT, "500")];
const CUTOVER_BEGUN: &[(&str, &str)] = &[(tags::FAILBACK_CUTOVER_AT, "900")];

struct Case {
    name: &'static str,
    original: Option<FileSystem>,
    original_replication: Option<Replication>,
    replica: FileSystem,
    replica_replication: Option<Replication>,
    strategy: Strategy,
    cutover: bool,
    mark: Option<f64>,
    expect: Result<Action, &'static str>,
}

fn case(name: &'static str) -> Case {
    Case {
        name,
        original: Some(fs(ORIGINAL, EAST, Writable, &[])),
        original_replication: None,
        replica: fs(REPLICA, WEST, Writable, FAILED_OVER),
        replica_replication: None,
        strategy: Strategy::KeepChanges,
        cutover: false,
        mark: None,
        expect: Ok(Action::AllowOriginalOverwrite),
    }
}

fn cases() -> Vec<Case> {
    let forward = |s, l| Some(rep(ORIGINAL, REPLICA, s, l));
    let reverse = |s, l| Some(rep(REPLICA, ORIGINAL, s, l));
    vec![
        case("keep_changes starts by opening the original to overwrite"),
        Case {
            original: Some(fs(ORIGINAL, EAST, Open, &[])),
            expect: Ok(Action::ReverseReplicate),
            ..case("an open original gets the reverse replication")
        },
        Case {
            replica_replication: reverse(Enabling, None),
            original: Some(fs(ORIGINAL, EAST, ReadOnly, &[])),
            expect: Ok(Action::AwaitReverseSync { status: Enabling }),
            ..case("the reverse replication's initial sync is waited for")
        },
        Case {
            replica_replication: reverse(Enabled, Some(800.0)),
            original: Some(fs(ORIGINAL, EAST, ReadOnly, &[])),
            expect: Ok(Action::AwaitCutoverApproval {
                last_replicated: 800.0,
            }),
            ..case("in sync without cutover pauses for a person")
        },
        Case {
            replica_replication: reverse(Enabled, Some(800.0)),
            original: Some(fs(ORIGINAL, EAST, ReadOnly, &[])),
            cutover: true,
            expect: Ok(Action::AwaitCutoverMark {
                last_replicated: 800.0,
                mark: NOW,
            }),
            ..case("cutover without a mark fixes it now and waits for a sync after it")
        },
        Case {
            replica_replication: reverse(Enabled, Some(800.0)),
            original: Some(fs(ORIGINAL, EAST, ReadOnly, &[])),
            cutover: true,
            mark: Some(700.0),
            expect: Ok(Action::Cutover {
                last_replicated: 800.0,
                mark: 700.0,
            }),
            ..case("a sync past the mark cuts over")
        },
        Case {
            replica_replication: reverse(Deleting, Some(800.0)),
            original: Some(fs(ORIGINAL, EAST, ReadOnly, CUTOVER_BEGUN)),
            cutover: true,
            expect: Ok(Action::AwaitOriginalWritableAtCutover),
            ..case("a reverse replication being deleted is waited out")
        },
        Case {
            original: Some(fs(ORIGINAL, EAST, ReadOnly, CUTOVER_BEGUN)),
            expect: Ok(Action::AwaitOriginalWritable),
            ..case("after the cutover, the original must be writable before re-protecting")
        },
        Case {
            original: Some(fs(ORIGINAL, EAST, Writable, CUTOVER_BEGUN)),
            expect: Ok(Action::AllowReplicaOverwrite),
            ..case("after the cutover, the replica is opened to overwrite")
        },
        Case {
            original: Some(fs(ORIGINAL, EAST, Writable, CUTOVER_BEGUN)),
            replica: fs(REPLICA, WEST, Open, FAILED_OVER),
            expect: Ok(Action::RestoreOriginalDirection),
            ..case("an open replica gets original -> replica back")
        },
        Case {
            strategy: Strategy::DiscardChanges,
            expect: Ok(Action::AllowReplicaOverwrite),
            ..case("discard_changes skips the reverse replication")
        },
        Case {
            original_replication: forward(Enabling, None),
            replica: fs(REPLICA, WEST, ReadOnly, FAILED_OVER),
            expect: Ok(Action::AwaitForwardSync {
                status: Enabling,
                last_replicated: None,
            }),
            ..case("original -> replica in its first sync is waited for")
        },
        Case {
            original_replication: forward(Enabled, Some(900.0)),
            replica: fs(REPLICA, WEST, ReadOnly, FAILED_OVER),
            expect: Ok(Action::Finish),
            ..case("original -> replica replicating after a failover finishes")
        },
        Case {
            original_replication: forward(Enabled, Some(900.0)),
            replica: fs(REPLICA, WEST, ReadOnly, &[]),
            expect: Err("ReplicaNotPromoted"),
            ..case("a replica that never failed over is refused")
        },
        Case {
            original_replication: forward(Enabled, Some(400.0)),
            expect: Ok(Action::CleanUpLeftover),
            ..case("the leftover of a local-only failover is cleaned up first")
        },
        Case {
            original_replication: forward(InError, Some(400.0)),
            replica: fs(REPLICA, WEST, ReadOnly, FAILED_OVER),
            expect: Ok(Action::CleanUpLeftover),
            ..case("a leftover in ERROR is cleaned up too")
        },
        Case {
            original_replication: forward(Deleting, Some(400.0)),
            expect: Ok(Action::AwaitCleanup),
            ..case("a leftover being deleted is waited out")
        },
        Case {
            original_replication: Some(rep(ORIGINAL, OTHER, Enabled, Some(400.0))),
            expect: Err("OriginalInOtherReplication"),
            ..case("an original replicating elsewhere is refused")
        },
        Case {
            replica_replication: Some(rep(OTHER, REPLICA, Enabled, Some(400.0))),
            expect: Err("Topology"),
            ..case("a replication in an unexpected direction is an error")
        },
        Case {
            replica: fs(REPLICA, WEST, ReadOnly, &[]),
            expect: Err("ReplicaNotPromoted"),
            ..case("a read-only replica with no replication was not promoted")
        },
        Case {
            original: None,
            strategy: Strategy::NewFileSystem,
            expect: Ok(Action::CreateNewOriginal),
            ..case("new_file_system creates the new original")
        },
        Case {
            original: None,
            strategy: Strategy::NewFileSystem,
            replica_replication: Some(rep(REPLICA, OTHER, Enabling, None)),
            expect: Ok(Action::AwaitNewOriginal),
            ..case("new_file_system waits for the new original to appear")
        },
    ]
}

fn error_name(e: &Error) -> String {
    match e {
        Error::Refused(r) => r.guardrail.to_string(),
        Error::Topology(_) => "Topology".into(),
        other => format!("{other:?}"),
    }
}

#[test]
fn each_state_leads_to_its_one_next_step() {
    for c in cases() {
        let seen = Observed {
            replica: c.replica,
            replica_replication: c.replica_replication,
            original: c.original,
            original_replication: c.original_replication,
        };
        let got = decide(&target(c.strategy, c.cutover), &seen, c.mark, NOW);
        match (&got, &c.expect) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", c.name),
            (Err(e), Err(name)) => assert_eq!(&error_name(e), name, "{}", c.name),
            _ => panic!("{}: got {got:?}, expected {:?}", c.name, c.expect),
        }
    }
}
