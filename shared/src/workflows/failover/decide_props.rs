//! Properties of failover's `decide` over random states of the pair: the
//! destination B with any protection and tags, and any configuration the DR
//! Region may show for it (from the named source A, from a file system of
//! another pair, from A in another Region, B itself a source, or none).

use super::decide::{decide, Action, Decision, Observed};
use super::request::{resolve, FailoverRequest, FailoverTarget};
use crate::domain::config::Config;
use crate::domain::error::Error;
use crate::domain::ids::FileSystemRef;
use crate::domain::model::{DeletionMode, Protection, ReplicationStatus};
use crate::domain::modes::Mode;
use crate::domain::tags;
use crate::workflows::props::{file_system, maybe_one_of, region, time, A, B, C, EAST, N, WEST};
use proptest::prelude::*;

#[derive(Debug)]
struct Case {
    target: FailoverTarget,
    seen: Observed,
    now: f64,
}

fn case() -> impl Strategy<Value = Case> {
    let configurations = vec![
        (6, (A, B)),
        (1, (C, B)),
        (1, (N, B)), // N lives in EAST too: the right Region, another file system.
        (1, (B, A)), // B is a source: swapped.
        (1, (B, C)),
        (1, (C, A)), // Not even about B: never what the DR Region answers, and must not matter.
    ];
    (
        prop_oneof![Just(Mode::Plan), Just(Mode::Execute)],
        any::<bool>(),
        prop_oneof![Just(1u64), Just(900), 1..100_000u64],
        any::<bool>(),
        prop_oneof![3 => Just(EAST), 1 => Just("eu-west-1")],
        file_system(B),
        maybe_one_of(configurations),
        time(),
        prop_oneof![Just(None), Just(Some(true)), Just(Some(false))],
        any::<bool>(),
        prop_oneof![
            2 => Just(None),
            1 => Just(Some(DeletionMode::LocalConfigurationOnly)),
            1 => Just(Some(DeletionMode::AllConfigurations)),
        ],
    )
        .prop_map(
            |(
                mode,
                force,
                max_rpo_seconds,
                named,
                source_region,
                destination,
                replication,
                now,
                source_reachable,
                answered_with_errors,
                deletion_mode,
            )| {
                // Through resolve, as a run gets it: fields added to the request later keep their defaults.
                let request = FailoverRequest {
                    source_file_system_id: Some(fs_ref(A)),
                    source_region: Some(region(source_region)),
                    destination_file_system_id: named.then(|| fs_ref(B)),
                    destination_region: Some(region(WEST)),
                    mode: Some(mode),
                    max_rpo_seconds: Some(max_rpo_seconds),
                    force: Some(force),
                    deletion_mode,
                    ..Default::default()
                };
                let target = resolve(&request, &Config::default()).unwrap().remove(0);
                Case {
                    target,
                    seen: Observed {
                        destination,
                        replication,
                        source_reachable,
                        // Unreachable: silent, or answering only with errors.
                        source_silent: source_reachable.map(|r| !r && !answered_with_errors),
                    },
                    now: now.max(crate::workflows::props::NOW),
                }
            },
        )
}

fn fs_ref(fs: &str) -> FileSystemRef {
    FileSystemRef::parse(fs).unwrap()
}

fn overridden(d: &Decision, guardrail: &str) -> bool {
    let prefix = format!("guardrail {guardrail} overridden by force");
    d.warnings.iter().any(|w| w.starts_with(&prefix))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Promote deletes the configuration observed on the destination, and only
    /// when the destination is that configuration's destination: a file system
    /// that is itself a source, already a primary, is never promoted into a
    /// second one, even with force. The promoted source is the observed one,
    /// never merely the one the event named (it can belong to another pair).
    #[test]
    fn promotes_only_the_destination_of_the_observed_configuration(c in case()) {
        let result = decide(&c.target, &c.seen, c.now);
        let dest = &c.seen.destination.id;
        if let Some(r) = &c.seen.replication {
            if &r.destination_file_system_id != dest {
                prop_assert!(
                    matches!(result, Err(Error::InvalidInput(_))),
                    "{dest} is not the destination of {r:?}, yet: {result:?}"
                );
            }
        }
        if let Ok(Decision { action: Action::Promote { source, last_replicated, deletion_mode }, .. }) = &result {
            // Local-only only when asked for, and never silently while the source answers.
            if *deletion_mode == DeletionMode::LocalConfigurationOnly {
                prop_assert_eq!(c.target.deletion_mode, Some(DeletionMode::LocalConfigurationOnly));
                prop_assert!(c.seen.source_reachable != Some(true) || c.target.force);
            }
            prop_assert_eq!(c.target.mode, Mode::Execute);
            let r = c.seen.replication.as_ref();
            prop_assert!(r.is_some(), "promote without a configuration");
            let r = r.unwrap();
            prop_assert_eq!(&r.destination_file_system_id, dest);
            prop_assert_eq!(&source.file_system_id, &r.source_file_system_id);
            prop_assert_eq!(&source.region, &r.source_region);
            prop_assert_ne!(&source.file_system_id, dest);
            prop_assert_ne!(&r.status, &ReplicationStatus::Deleting);
            prop_assert_eq!(*last_replicated, r.last_replicated);
            if !c.target.force {
                prop_assert_eq!(&source.file_system_id, &c.target.source_id);
                prop_assert_eq!(&source.region, &c.target.source_region);
            }
        }
    }

    /// An escalation deletes only the observed configuration's destination side,
    /// only while it is DELETING and the source Region does not answer.
    #[test]
    fn escalates_only_a_hung_promotion_with_the_source_unreachable(c in case()) {
        if let Ok(Decision { action: Action::Escalate { source, .. }, .. }) = decide(&c.target, &c.seen, c.now) {
            prop_assert_eq!(c.target.mode, Mode::Execute);
            prop_assert_eq!(c.seen.source_reachable, Some(false));
            let r = c.seen.replication.as_ref();
            prop_assert!(r.is_some_and(|r| r.status == ReplicationStatus::Deleting
                && r.destination_file_system_id == c.seen.destination.id
                && r.source_file_system_id == source.file_system_id));
        }
    }

    /// Without force every guardrail holds for what decide lets through; with
    /// force nothing but WrongSource is refused, and each guardrail it passes
    /// is in the warnings.
    #[test]
    fn force_overrides_guardrails_only_out_loud(c in case()) {
        let result = decide(&c.target, &c.seen, c.now);
        if c.target.force {
            prop_assert!(
                !matches!(&result, Err(Error::Refused(r)) if r.guardrail != "WrongSource"),
                "{result:?}"
            );
        }
        let Ok(d) = &result else { return Ok(()) };
        let force = c.target.force;
        let wanted = format!("{}@{}", c.target.source_id, c.target.source_region);
        match (&d.action, &c.seen.replication) {
            (Action::Plan { .. } | Action::Promote { .. }, Some(r)) => {
                prop_assert!(
                    r.source_file_system_id == c.target.source_id
                        && r.source_region == c.target.source_region,
                    "promoted a replica of another pair: {d:?}"
                );
                let guards = [
                    ("InitialSync", r.status == ReplicationStatus::Enabling
                        || r.last_replicated.is_none()),
                    ("ReplicationError", r.status == ReplicationStatus::Error),
                    ("RecoveryPointTooOld", c.seen.source_silent != Some(true)
                        && r.last_replicated
                            .is_some_and(|t| c.now - t > c.target.max_rpo_seconds as f64)),
                ];
                for (guardrail, applies) in guards {
                    if applies {
                        prop_assert!(force, "{guardrail} let through without force: {d:?}");
                        prop_assert!(overridden(d, guardrail), "{guardrail} silent: {d:?}");
                    }
                }
            }
            (Action::FinishPromoted | Action::ReportAlreadyWritable, None) => {
                prop_assert_eq!(c.seen.destination.protection, Protection::Enabled);
                let promoted_from = c.seen.destination.tag(tags::FAILOVER_SOURCE);
                if promoted_from != Some(wanted.as_str()) {
                    prop_assert!(promoted_from.is_none(), "adopted a file system promoted from {promoted_from:?}");
                    prop_assert!(force, "adopted a file system efs-dr never promoted");
                    prop_assert!(overridden(d, "NotAReplica"), "{d:?}");
                }
            }
            (Action::AwaitDeletion | Action::ReportPromotionUnderWay, Some(r)) => {
                prop_assert_eq!(&r.status, &ReplicationStatus::Deleting);
                prop_assert_eq!(&r.destination_file_system_id, &c.seen.destination.id);
            }
            (Action::AwaitWritable, None) => {
                prop_assert_eq!(c.seen.destination.protection, Protection::Replicating);
            }
            (Action::ReportPromotionUnderWay, None) => {
                // Between the configuration's end and protection ENABLED, after our own promotion.
                prop_assert_eq!(c.seen.destination.protection, Protection::Replicating);
                prop_assert!(c.seen.destination.tag(tags::PROMOTED_AT).is_some());
            }
            (Action::Escalate { .. }, Some(r)) => {
                prop_assert_eq!(&r.status, &ReplicationStatus::Deleting);
            }
            (action, replication) => {
                prop_assert!(false, "{action:?} with configuration {replication:?}");
            }
        }
    }

    /// Plan mode only reports; execute mode never stops at a report.
    #[test]
    fn plan_mode_never_acts(c in case()) {
        if let Ok(d) = decide(&c.target, &c.seen, c.now) {
            let report = matches!(
                d.action,
                Action::Plan { .. } | Action::ReportAlreadyWritable | Action::ReportPromotionUnderWay
            );
            prop_assert_eq!(report, c.target.mode == Mode::Plan, "{:?}", d.action);
        }
    }
}
