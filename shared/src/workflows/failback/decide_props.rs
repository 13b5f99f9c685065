//! Properties of failback's `decide` over random states of the pair: the
//! original O (A, or with new_file_system possibly gone, or the new N) and the
//! replica B with any protection and tags, any configuration each Region may
//! show for its own file system (between the two, in either direction, or
//! with a file system of another pair), and any cutover request and mark.

use super::decide::{decide, is_pair, Action, Observed};
use super::request::{FailbackTarget, Strategy as FailbackStrategy};
use crate::domain::error::Error;
use crate::domain::ids::FileSystemId;
use crate::domain::model::{FileSystem, Protection, Replication, ReplicationStatus};
use crate::domain::modes::Mode;
use crate::domain::tags;
use crate::workflows::props::{
    file_system, id, maybe_one_of, region, replication, time, A, B, C, EAST, N, NOW, WEST,
};
use proptest::prelude::*;

#[derive(Debug)]
struct Case {
    target: FailbackTarget,
    seen: Observed,
    mark: Option<f64>,
}

/// The configurations a Region can report for `fs`: with `other`, either way, or with C.
fn configurations_of(
    fs: &'static str,
    other: &'static str,
) -> Vec<(u32, (&'static str, &'static str))> {
    vec![
        (4, (fs, other)),
        (4, (other, fs)),
        (1, (fs, C)),
        (1, (C, fs)),
    ]
}

/// What each Region reports: (the original's, the replica's).
type Reported = (Option<Replication>, Option<Replication>);

/// The configurations of the pair as the two Regions report them: one
/// configuration seen from both sides, or from one side only (the other has
/// deleted it first, as a LOCAL_CONFIGURATION_ONLY failover does), or
/// anything each Region may report on its own, with another pair too.
fn reported(o: &'static str) -> BoxedStrategy<Reported> {
    let both = |from, into| replication(from, into).prop_map(|r| (Some(r.clone()), Some(r)));
    prop_oneof![
        2 => Just((None, None)),
        3 => both(o, B),
        1 => replication(o, B).prop_map(|r| (Some(r), None)),
        4 => both(B, o),
        1 => replication(B, o).prop_map(|r| (None, Some(r))),
        1 => replication(B, o).prop_map(|r| (Some(r), None)),
        3 => (maybe_one_of(configurations_of(o, B)), maybe_one_of(configurations_of(B, o))),
    ]
    .boxed()
}

fn case() -> BoxedStrategy<Case> {
    let strategy = prop_oneof![
        Just(FailbackStrategy::KeepChanges),
        Just(FailbackStrategy::DiscardChanges),
        Just(FailbackStrategy::NewFileSystem),
    ];
    (strategy, any::<bool>(), any::<bool>())
        .prop_flat_map(|(strategy, new_original, original_present)| {
            // With new_file_system the original is A while it lasts, then the new N, or not visible yet.
            let new_file_system = strategy == FailbackStrategy::NewFileSystem;
            let o = if new_file_system && new_original {
                N
            } else {
                A
            };
            let present = original_present || !new_file_system;
            (
                Just((strategy, o)),
                file_system(o).prop_map(move |f| present.then_some(f)),
                file_system(B),
                reported(o),
                any::<bool>(),
                proptest::option::weighted(0.7, time()),
                proptest::option::weighted(0.3, time()),
            )
        })
        .prop_map(
            |(
                (strategy, o),
                original,
                replica,
                (original_replication, replica_replication),
                cutover,
                given_mark,
                mark,
            )| {
                let original_replication = original.as_ref().and(original_replication);
                Case {
                    target: FailbackTarget {
                        original_id: (o == A).then(|| id(A)),
                        original_region: region(EAST),
                        replica_id: id(B),
                        replica_region: region(WEST),
                        strategy,
                        mode: Mode::Execute,
                        cutover,
                        cutover_mark: given_mark,
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
                    },
                    seen: Observed {
                        replica,
                        replica_replication,
                        original,
                        original_replication,
                    },
                    // The run starts from the mark asked for; a pass without one fixes its own.
                    mark: given_mark.or(mark),
                }
            },
        )
        .boxed()
}

/// A pair whose reverse replication is in sync past the mark, cutover asked.
fn in_sync_for_cutover() -> impl Strategy<Value = Case> {
    (
        case().prop_filter("an original", |c| c.seen.original.is_some()),
        time(),
        0.0..5_000.0f64,
    )
        .prop_map(|(mut c, mark, ahead)| {
            if let Some(o) = &c.seen.original {
                let reverse = Replication {
                    source_file_system_id: c.seen.replica.id.clone(),
                    source_region: c.seen.replica.region.clone(),
                    destination_file_system_id: o.id.clone(),
                    destination_region: o.region.clone(),
                    status: ReplicationStatus::Enabled,
                    status_message: None,
                    last_replicated: Some(mark + ahead),
                    owners: Default::default(),
                };
                c.seen.original_replication = Some(reverse.clone());
                c.seen.replica_replication = Some(reverse);
            }
            c.target.cutover = true;
            c.mark = Some(mark);
            c
        })
}

/// A cutover has opened the original (its tag holds the mark, not `none`).
fn cutover_begun(original: &FileSystem) -> bool {
    original
        .tag(tags::FAILBACK_CUTOVER_AT)
        .is_some_and(|v| v != tags::NONE)
}

fn between(r: Option<&Replication>, from: &FileSystemId, into: &FileSystemId) -> bool {
    r.is_some_and(|r| is_pair(r, from, into))
}

/// Which of the pair accept writes: a file system is read-only only as the
/// destination of a configuration its own Region reports.
fn primaries(
    original: Option<&FileSystem>,
    original_replication: Option<&Replication>,
    replica: &FileSystem,
    replica_replication: Option<&Replication>,
) -> Vec<FileSystemId> {
    let open = |fs: &FileSystem, r: Option<&Replication>| {
        r.is_none_or(|r| r.destination_file_system_id != fs.id)
    };
    let mut out = Vec::new();
    if let Some(o) = original.filter(|o| open(o, original_replication)) {
        out.push(o.id.clone());
    }
    if open(replica, replica_replication) {
        out.push(replica.id.clone());
    }
    out
}

/// The configurations the pair has once `action` is done, as its documentation says.
fn after(seen: &Observed, action: &Action) -> (Option<Replication>, Option<Replication>) {
    let (o, b) = (seen.original.as_ref(), &seen.replica);
    let new = |from: &FileSystem, into: &FileSystem| Replication {
        source_file_system_id: from.id.clone(),
        source_region: from.region.clone(),
        destination_file_system_id: into.id.clone(),
        destination_region: into.region.clone(),
        status: ReplicationStatus::Enabling,
        status_message: None,
        last_replicated: None,
        owners: Default::default(),
    };
    let (mut on_original, mut on_replica) = (
        seen.original_replication.clone(),
        seen.replica_replication.clone(),
    );
    match (action, o) {
        // Deletes the reverse replication in both Regions.
        (Action::Cutover { .. }, _) => {
            on_original = None;
            on_replica = None;
        }
        // Deletes the forward configuration in the original's Region only.
        (Action::CleanUpLeftover, _) => on_original = None,
        (Action::RestoreOriginalDirection, Some(o)) => {
            on_original = Some(new(o, b));
            on_replica = on_original.clone();
        }
        (Action::ReverseReplicate, Some(o)) => {
            on_replica = Some(new(b, o));
            on_original = on_replica.clone();
        }
        _ => {}
    }
    (on_original, on_replica)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every configuration failback waits on, deletes or finishes with is one
    /// between the original and the replica; what it creates is created only
    /// when neither Region shows any configuration, so a configuration of
    /// another pair is never touched and a pair never has two.
    #[test]
    fn acts_only_on_configurations_of_the_pair(c in case()) {
        let Ok(action) = decide(&c.target, &c.seen, c.mark, NOW) else { return Ok(()) };
        let b = &c.seen.replica.id;
        let on_replica = c.seen.replica_replication.as_ref();
        let on_original = c.seen.original_replication.as_ref();
        let Some(o) = c.seen.original.as_ref().map(|o| &o.id) else {
            match &action {
                Action::AwaitNewOriginal => prop_assert!(
                    on_replica.is_some_and(|r| &r.source_file_system_id == b),
                    "{on_replica:?}"
                ),
                Action::CreateNewOriginal => prop_assert!(
                    on_replica.is_none_or(|r| &r.source_file_system_id != b),
                    "{on_replica:?}"
                ),
                other => prop_assert!(false, "{other:?} without an original"),
            }
            return Ok(());
        };
        prop_assert!(
            on_original.is_none() || between(on_original, o, b) || between(on_original, b, o),
            "the original takes part in {on_original:?}, yet {action:?}"
        );
        match &action {
            Action::CleanUpLeftover | Action::AwaitCleanup | Action::Finish | Action::AwaitForwardSync { .. } => {
                prop_assert!(between(on_original, o, b), "{action:?} with {on_original:?}");
            }
            // The replica's side of the reverse configuration may finish deleting
            // first; then the original's side, still deleting, is what is awaited.
            Action::AwaitOriginalWritableAtCutover => {
                prop_assert!(
                    between(on_replica, b, o)
                        || (between(on_original, b, o)
                            && on_original.is_some_and(|r| r.status == ReplicationStatus::Deleting)),
                    "{action:?} with {on_replica:?}, {on_original:?}"
                );
            }
            Action::Cutover { .. }
            | Action::AwaitReverseSync { .. }
            | Action::AwaitCutoverApproval { .. }
            | Action::AwaitCutoverMark { .. } => {
                prop_assert!(between(on_replica, b, o), "{action:?} with {on_replica:?}");
            }
            Action::AllowReplicaOverwrite
            | Action::RestoreOriginalDirection
            | Action::AllowOriginalOverwrite
            | Action::ReverseReplicate
            | Action::AwaitOriginalWritable => {
                prop_assert!(on_original.is_none() && on_replica.is_none(), "{action:?} with {on_original:?}, {on_replica:?}");
            }
            Action::AwaitNewOriginal | Action::CreateNewOriginal => {
                prop_assert!(false, "{action:?} with the original present");
            }
        }
    }

    /// No step gives the pair a second writable primary, except the cutover,
    /// which opens the original only behind the reverse replication, asked
    /// for, in sync past the mark (writes to the replica stopped). And the
    /// direction is only ever turned towards the file system that holds the
    /// writes: the original is overwritten only while the replica is the
    /// promoted primary and no cutover has opened the original; the replica
    /// only once the original is writable.
    #[test]
    fn never_makes_a_second_primary_but_at_a_guarded_cutover(c in case()) {
        let Ok(action) = decide(&c.target, &c.seen, c.mark, NOW) else { return Ok(()) };
        let before = primaries(
            c.seen.original.as_ref(),
            c.seen.original_replication.as_ref(),
            &c.seen.replica,
            c.seen.replica_replication.as_ref(),
        );
        let (on_original, on_replica) = after(&c.seen, &action);
        let now = primaries(c.seen.original.as_ref(), on_original.as_ref(), &c.seen.replica, on_replica.as_ref());
        let opened: Vec<_> = now.iter().filter(|f| !before.contains(f)).collect();
        if !opened.is_empty() {
            let Action::Cutover { last_replicated, mark } = &action else {
                return Err(TestCaseError::fail(format!("{action:?} opened {opened:?}")));
            };
            let reverse = c.seen.replica_replication.as_ref();
            prop_assert!(c.target.cutover, "cutover not asked for");
            prop_assert!(reverse.is_some_and(|r| r.status == ReplicationStatus::Enabled
                && r.last_replicated == Some(*last_replicated)), "{reverse:?}");
            prop_assert_eq!(*mark, c.mark.unwrap_or(NOW));
            prop_assert!(last_replicated >= mark, "synced {last_replicated}, before the mark {mark}");
        }
        let original = c.seen.original.as_ref();
        match action {
            Action::AllowOriginalOverwrite | Action::ReverseReplicate => {
                prop_assert_eq!(c.seen.replica.protection, Protection::Enabled);
                prop_assert_ne!(c.target.strategy, FailbackStrategy::DiscardChanges);
                prop_assert!(!original.is_some_and(cutover_begun), "the original was opened by a cutover");
            }
            Action::AllowReplicaOverwrite | Action::RestoreOriginalDirection => {
                prop_assert!(original.is_some_and(|o| o.protection == Protection::Enabled));
            }
            _ => {}
        }
    }

    /// In sync past the mark with cutover asked, failback cuts over; and the
    /// pass after demotes the replica: with the reverse replication gone and
    /// the original tagged, decide never turns back to overwriting the original.
    #[test]
    fn after_a_cutover_the_replica_is_demoted(c in in_sync_for_cutover()) {
        let decided = decide(&c.target, &c.seen, c.mark, NOW);
        let Ok(action @ Action::Cutover { mark, .. }) = decided else {
            return Err(TestCaseError::fail(format!("in sync past the mark, cutover asked: {decided:?}")));
        };
        let mut seen = c.seen.clone();
        let (on_original, on_replica) = after(&seen, &action);
        seen.original_replication = on_original;
        seen.replica_replication = on_replica;
        if let Some(o) = seen.original.as_mut() {
            o.tags.retain(|(k, _)| k != tags::FAILBACK_CUTOVER_AT);
            o.tags.push((tags::FAILBACK_CUTOVER_AT.into(), format!("{mark:.3}")));
        }
        for protection in [Protection::Replicating, Protection::Enabled] {
            // AWS turns the original's protection from REPLICATING to ENABLED some time after the deletion.
            if let Some(o) = seen.original.as_mut() {
                o.protection = protection;
            }
            let next = decide(&c.target, &seen, Some(mark), NOW + 60.0);
            prop_assert!(
                matches!(next, Ok(Action::AwaitOriginalWritable | Action::AllowReplicaOverwrite | Action::RestoreOriginalDirection)),
                "after the cutover: {next:?}"
            );
        }
    }

    /// Refusals and errors are the documented ones, never a panic.
    #[test]
    fn refuses_only_with_the_documented_guardrails(c in case()) {
        match decide(&c.target, &c.seen, c.mark, NOW) {
            Ok(_) | Err(Error::Topology(_)) => {}
            Err(Error::Refused(r)) => prop_assert!(
                ["OriginalInOtherReplication", "ReplicaNotPromoted"].contains(&r.guardrail),
                "{r:?}"
            ),
            Err(other) => prop_assert!(false, "{other:?}"),
        }
    }
}
