//! mount-target-ensure's access point decision, as a table: what is wanted,
//! what exists, and what each wanted access point needs.

use super::decide::{client_token, decide_access_points, AccessPointAction};
use crate::domain::ids::FileSystemId;
use crate::domain::model::{AccessPoint, AccessPointSpec, LifeCycle, RootDirectory, TagSpec};

fn spec(name: Option<&str>, path: &str, tags: &[(&str, &str)]) -> AccessPointSpec {
    AccessPointSpec {
        name: name.map(str::to_string),
        posix_user: None,
        root_directory: Some(RootDirectory {
            path: path.into(),
            creation_info: None,
        }),
        tags: tags
            .iter()
            .map(|(k, v)| TagSpec {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect(),
    }
}

fn existing(id: &str, spec: AccessPointSpec, life_cycle: LifeCycle) -> AccessPoint {
    AccessPoint {
        id: id.into(),
        file_system_id: FileSystemId::parse("fs-0000000000000000b").unwrap(),
        spec,
        life_cycle,
    }
}

#[test]
fn each_wanted_access_point_is_kept_tagged_or_created() {
    let app = spec(Some("app"), "/app", &[("team", "a")]);
    let cases: Vec<(&str, AccessPointSpec, Vec<AccessPoint>, AccessPointAction)> = vec![
        (
            "the same name with every tag is kept",
            app.clone(),
            vec![existing("fsap-1", app.clone(), LifeCycle::Available)],
            AccessPointAction::Keep {
                id: "fsap-1".into(),
            },
        ),
        (
            "the same name without a wanted tag gets it",
            app.clone(),
            vec![existing(
                "fsap-1",
                spec(Some("app"), "/app", &[]),
                LifeCycle::Available,
            )],
            AccessPointAction::AddTags {
                id: "fsap-1".into(),
                missing: vec![("team".into(), "a".into())],
            },
        ),
        (
            "a match being deleted does not count",
            app.clone(),
            vec![existing("fsap-1", app.clone(), LifeCycle::Deleting)],
            AccessPointAction::Create { spec: app.clone() },
        ),
        (
            "another name is not a match",
            app.clone(),
            vec![existing(
                "fsap-2",
                spec(Some("web"), "/app", &[]),
                LifeCycle::Available,
            )],
            AccessPointAction::Create { spec: app.clone() },
        ),
        (
            "without a name, the root directory and user match",
            spec(None, "/data", &[]),
            vec![existing(
                "fsap-3",
                spec(None, "/data", &[]),
                LifeCycle::Available,
            )],
            AccessPointAction::Keep {
                id: "fsap-3".into(),
            },
        ),
    ];
    for (name, wanted, found, expect) in cases {
        let steps = decide_access_points(vec![(Some("fsap-src".into()), wanted.clone())], &found);
        assert_eq!(steps.len(), 1, "{name}");
        assert_eq!(steps[0].action, expect, "{name}");
        assert_eq!(steps[0].key, wanted.key(), "{name}");
        assert_eq!(
            steps[0].source_access_point_id.as_deref(),
            Some("fsap-src"),
            "{name}"
        );
    }
}

#[test]
fn the_client_token_is_stable_per_file_system_and_key() {
    let a = FileSystemId::parse("fs-0000000000000000a").unwrap();
    let b = FileSystemId::parse("fs-0000000000000000b").unwrap();
    assert_eq!(client_token(&a, "name:app"), client_token(&a, "name:app"));
    assert_ne!(client_token(&a, "name:app"), client_token(&b, "name:app"));
    assert_ne!(client_token(&a, "name:app"), client_token(&a, "name:web"));
    assert!(client_token(&a, "name:app").len() <= 64);
}
