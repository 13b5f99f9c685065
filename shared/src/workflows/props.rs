//! Strategies for the property tests of the decide functions: random states a
//! replication pair can be in as a pass observes them, with the tags earlier
//! runs may have left. Each workflow's `decide_props.rs` builds on these.

use crate::domain::ids::{FileSystemId, RegionName};
use crate::domain::model::{FileSystem, LifeCycle, Protection, Replication, ReplicationStatus};
use crate::domain::tags;
use proptest::prelude::*;

/// The source (failover) or original (failback) of the pair.
pub const A: &str = "fs-0000000000000000a";
/// The destination (failover) or replica (failback) of the pair.
pub const B: &str = "fs-0000000000000000b";
/// A file system of another pair.
pub const C: &str = "fs-0000000000000000c";
/// The new original a new_file_system failback replicates into.
pub const N: &str = "fs-0000000000000000d";
pub const EAST: &str = "us-east-1";
pub const WEST: &str = "us-west-2";
pub const ELSEWHERE: &str = "eu-west-1";
pub const NOW: f64 = 1_000_000.0;

pub fn id(s: &str) -> FileSystemId {
    FileSystemId::parse(s).unwrap()
}

pub fn region(s: &str) -> RegionName {
    RegionName::parse(s).unwrap()
}

/// The Region each file system of these tests lives in.
pub fn region_of(fs: &str) -> &'static str {
    match fs {
        B => WEST,
        C => ELSEWHERE,
        _ => EAST,
    }
}

pub fn protection() -> impl Strategy<Value = Protection> {
    prop_oneof![
        Just(Protection::Enabled),
        Just(Protection::Disabled),
        Just(Protection::Replicating),
    ]
}

pub fn status() -> impl Strategy<Value = ReplicationStatus> {
    prop_oneof![
        // The status a healthy pair shows, as often as all the others.
        6 => Just(ReplicationStatus::Enabled),
        1 => Just(ReplicationStatus::Enabling),
        1 => Just(ReplicationStatus::Deleting),
        1 => Just(ReplicationStatus::Paused),
        1 => Just(ReplicationStatus::Pausing),
        1 => Just(ReplicationStatus::Error),
        1 => Just(ReplicationStatus::Other("UPDATING".into())),
    ]
}

/// A time around `NOW`: mostly past, sometimes a little ahead (the clocks of
/// two Regions differ), and the edges the guardrails compare against.
pub fn time() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (-20_000.0..120.0f64).prop_map(|d| NOW + d),
        1 => prop::sample::select(vec![NOW, NOW - 900.0, NOW - 900.5, NOW - 3600.0]),
    ]
}

/// A replication configuration `from -> into`, each file system in its own Region.
pub fn replication(from: &'static str, into: &'static str) -> BoxedStrategy<Replication> {
    (
        status(),
        // Absent only until the first sync completes.
        proptest::option::weighted(0.8, time()),
        proptest::option::of(Just("status message".to_string())),
    )
        .prop_map(
            move |(status, last_replicated, status_message)| Replication {
                source_file_system_id: id(from),
                source_region: region(region_of(from)),
                destination_file_system_id: id(into),
                destination_region: region(region_of(into)),
                status,
                status_message,
                last_replicated,
                owners: Default::default(),
            },
        )
        .boxed()
}

/// One of `configs` (weighted, each `from -> into`), or none.
pub fn maybe_one_of(
    configs: Vec<(u32, (&'static str, &'static str))>,
) -> BoxedStrategy<Option<Replication>> {
    let some = proptest::strategy::Union::new_weighted(
        configs
            .into_iter()
            .map(|(w, (from, into))| (w, replication(from, into)))
            .collect(),
    );
    proptest::option::weighted(0.75, some).boxed()
}

/// A tag value an earlier run wrote (epoch seconds), `none`, or garbage.
pub fn epoch_tag() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => time().prop_map(|t| format!("{t:.3}")),
        1 => Just(tags::NONE.to_string()),
        1 => Just("yesterday".to_string()),
    ]
}

/// Each candidate tag present or not, with one of its values.
pub fn tags_from(
    candidates: Vec<(&'static str, BoxedStrategy<String>)>,
) -> impl Strategy<Value = Vec<(String, String)>> {
    candidates
        .into_iter()
        .map(|(key, value)| {
            proptest::option::of(value).prop_map(move |v| v.map(|v| (key.to_string(), v)))
        })
        .collect::<Vec<_>>()
        .prop_map(|tags| tags.into_iter().flatten().collect())
}

/// The tags failover, failback and the lag handler leave on a file system.
pub fn dr_tags() -> impl Strategy<Value = Vec<(String, String)>> {
    let source = prop::sample::select(vec![
        format!("{A}@{EAST}"),
        format!("{C}@{EAST}"),
        format!("{A}@{ELSEWHERE}"),
        "garbage".to_string(),
    ]);
    tags_from(vec![
        (tags::FAILOVER_SOURCE, source.boxed()),
        (tags::PROMOTED_AT, epoch_tag().boxed()),
        (tags::RECOVERY_POINT, epoch_tag().boxed()),
        (tags::FAILOVER_COMPLETED_AT, epoch_tag().boxed()),
        (tags::FAILBACK_COMPLETED_AT, epoch_tag().boxed()),
        (tags::FAILBACK_CUTOVER_AT, epoch_tag().boxed()),
        (tags::FAILOVER_REQUESTED_AT, epoch_tag().boxed()),
        (
            tags::ROLE,
            prop::sample::select(vec![tags::ROLE_PRIMARY, tags::ROLE_REPLICA])
                .prop_map(str::to_string)
                .boxed(),
        ),
    ])
}

/// A file system `fs` in its Region with any protection and any tags an earlier run left.
pub fn file_system(fs: &'static str) -> BoxedStrategy<FileSystem> {
    (protection(), dr_tags())
        .prop_map(move |(protection, tags)| FileSystem {
            id: id(fs),
            region: region(region_of(fs)),
            arn: format!(
                "arn:aws:elasticfilesystem:{}:123456789012:file-system/{fs}",
                region_of(fs)
            ),
            life_cycle: LifeCycle::Available,
            protection,
            name: None,
            tags,
            mount_target_count: 0,
        })
        .boxed()
}
