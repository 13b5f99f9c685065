//! mount-target-ensure's decision for access points: which wanted ones
//! exist, which lack tags, which must be created. Pure, so the table in
//! `decide_tests.rs` covers it; mount targets go through the shared
//! `mount_targets::ensure`.

use crate::domain::ids::FileSystemId;
use crate::domain::model::{AccessPoint, AccessPointSpec, LifeCycle};

/// What one wanted access point needs.
#[derive(Clone, Debug, PartialEq)]
pub enum AccessPointAction {
    /// It exists with every wanted tag.
    Keep { id: String },
    /// It exists without some of the wanted tags.
    AddTags {
        id: String,
        missing: Vec<(String, String)>,
    },
    /// It does not exist (or is being deleted).
    Create { spec: AccessPointSpec },
}

/// One wanted access point: its key, its ID on the source (when copied) and what it needs.
#[derive(Clone, Debug, PartialEq)]
pub struct AccessPointStep {
    pub key: String,
    pub source_access_point_id: Option<String>,
    pub action: AccessPointAction,
}

/// Matches wanted access points to existing ones by their key (path, POSIX
/// user, root directory), ignoring those being deleted.
pub fn decide_access_points(
    wanted: Vec<(Option<String>, AccessPointSpec)>,
    existing: &[AccessPoint],
) -> Vec<AccessPointStep> {
    wanted
        .into_iter()
        .map(|(source_access_point_id, spec)| {
            let key = spec.key();
            let found = existing
                .iter()
                .find(|a| a.spec.key() == key && a.life_cycle != LifeCycle::Deleting);
            let action = match found {
                Some(a) => {
                    let have = a.spec.all_tags();
                    let missing: Vec<(String, String)> = spec
                        .all_tags()
                        .into_iter()
                        .filter(|t| !have.contains(t))
                        .collect();
                    if missing.is_empty() {
                        AccessPointAction::Keep { id: a.id.clone() }
                    } else {
                        AccessPointAction::AddTags {
                            id: a.id.clone(),
                            missing,
                        }
                    }
                }
                None => AccessPointAction::Create { spec },
            };
            AccessPointStep {
                key,
                source_access_point_id,
                action,
            }
        })
        .collect()
}

/// A client token that is the same for the same access point on the same
/// file system, so retries and re-runs never create a second one.
pub fn client_token(file_system: &FileSystemId, key: &str) -> String {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in file_system
        .as_str()
        .bytes()
        .chain([b'|'])
        .chain(key.bytes())
    {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("efs-dr-{h:016x}")
}
