//! Properties of mount-target-ensure's access point decision over random
//! wanted and existing access points (names, root directories, POSIX users,
//! tags, some being deleted).

use super::decide::{client_token, decide_access_points, AccessPointAction};
use crate::domain::model::{
    AccessPoint, AccessPointSpec, LifeCycle, PosixUser, RootDirectory, TagSpec,
};
use crate::workflows::props::{id, A, B};
use proptest::prelude::*;

fn spec() -> impl Strategy<Value = AccessPointSpec> {
    let tag = (
        prop::sample::select(vec!["team", "env", "Name"]),
        prop::sample::select(vec!["a", "b"]),
    )
        .prop_map(|(key, value)| TagSpec {
            key: key.into(),
            value: value.into(),
        });
    (
        proptest::option::of(prop::sample::select(vec!["app", "web"])),
        proptest::option::of((0i64..2, 0i64..2).prop_map(|(uid, gid)| PosixUser {
            uid,
            gid,
            secondary_gids: vec![],
        })),
        proptest::option::of(prop::sample::select(vec!["/", "/app", "/data"])),
        prop::collection::vec(tag, 0..3),
    )
        .prop_map(|(name, posix_user, path, tags)| AccessPointSpec {
            name: name.map(str::to_string),
            posix_user,
            root_directory: path.map(|p| RootDirectory {
                path: p.into(),
                creation_info: None,
            }),
            tags,
        })
}

fn existing() -> impl Strategy<Value = Vec<AccessPoint>> {
    let life_cycle = prop_oneof![
        3 => Just(LifeCycle::Available),
        1 => Just(LifeCycle::Creating),
        1 => Just(LifeCycle::Deleting),
    ];
    prop::collection::vec((spec(), life_cycle), 0..5).prop_map(|found| {
        found
            .into_iter()
            .enumerate()
            .map(|(i, (spec, life_cycle))| AccessPoint {
                id: format!("fsap-{i:017x}"),
                file_system_id: id(B),
                spec,
                life_cycle,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// One step per wanted access point, in order. Keep and AddTags name an
    /// existing access point of the file system with the same key that is not
    /// being deleted; Create only when there is none; AddTags adds exactly the
    /// wanted tags it lacks, Keep only when it lacks none.
    #[test]
    fn each_wanted_access_point_maps_to_a_live_match_or_a_create(
        wanted in prop::collection::vec(spec(), 0..4),
        found in existing(),
    ) {
        let input: Vec<(Option<String>, AccessPointSpec)> =
            wanted.iter().cloned().map(|s| (None, s)).collect();
        let steps = decide_access_points(input, &found);
        prop_assert_eq!(steps.len(), wanted.len());
        for (step, spec) in steps.iter().zip(&wanted) {
            prop_assert_eq!(&step.key, &spec.key());
            let live = |a: &&AccessPoint| a.spec.key() == step.key && a.life_cycle != LifeCycle::Deleting;
            let matched = |ap: &str| found.iter().find(|a| a.id == ap);
            match &step.action {
                AccessPointAction::Keep { id } | AccessPointAction::AddTags { id, .. } => {
                    let m = matched(id);
                    prop_assert!(m.as_ref().is_some_and(live), "{id} is no live match of {}", step.key);
                    let have = m.map(|a| a.spec.all_tags()).unwrap_or_default();
                    let lacking: Vec<_> = spec.all_tags().into_iter().filter(|t| !have.contains(t)).collect();
                    match &step.action {
                        AccessPointAction::AddTags { missing, .. } => {
                            prop_assert!(!missing.is_empty());
                            prop_assert_eq!(missing, &lacking);
                        }
                        _ => prop_assert!(lacking.is_empty(), "kept without {lacking:?}"),
                    }
                }
                AccessPointAction::Create { spec: created } => {
                    prop_assert_eq!(created, spec);
                    prop_assert!(!found.iter().any(|a| live(&a)), "created beside a live match");
                }
            }
        }
    }

    /// The client token is a function of file system and key, short enough for AWS.
    #[test]
    fn the_client_token_is_stable_and_per_file_system(s in spec()) {
        let key = s.key();
        prop_assert_eq!(client_token(&id(B), &key), client_token(&id(B), &key));
        prop_assert_ne!(client_token(&id(A), &key), client_token(&id(B), &key));
        prop_assert!(client_token(&id(B), &key).len() <= 64);
    }
}
