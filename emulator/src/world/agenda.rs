//! The agenda: how the world moves through emulated time. `World::advance_to`
//! puts every pending transition on a min-heap keyed by emulated instant and
//! fires them in order: resources settle (`creating` -> `available`,
//! `deleting` -> gone), replications finish deleting and sync, backup jobs
//! move on (`backup_jobs`), and each minute the metrics and alarms of
//! `monitoring` run.

use super::model::{
    AccessPoint, FileEntry, FileSystem, LifeCycle, MountTarget, Protection, Replication,
    ReplicationFault, SideState, SyncInProgress, World,
};
use super::monitoring;
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};

impl World {
    /// Runs every transition due up to `now`, in time order.
    ///
    /// Requests change the world between calls, so the agenda is rebuilt from
    /// the whole state once per call; within the call each event touches only
    /// its own object. That keeps a fleet of hundreds of replications, each
    /// syncing every minute, cheap at a high time scale.
    pub fn advance_to(&mut self, now: f64) {
        let mut agenda = self.agenda();
        while let Some(Reverse((At(t), due))) = agenda.pop() {
            if t > now {
                break;
            }
            if t > self.now {
                self.now = t;
            }
            match self.fire(due) {
                Followup::None => {}
                Followup::At(t, due) => agenda.push(Reverse((At(t), due))),
                Followup::Rebuild => agenda = self.agenda(),
            }
        }
        if now > self.now {
            self.now = now;
        }
    }

    /// Every pending transition, earliest first.
    fn agenda(&self) -> BinaryHeap<Reverse<(At, Due)>> {
        let mut agenda = BinaryHeap::new();
        agenda.push(Reverse((At(self.next_minute), Due::Minute)));
        for (name, r) in &self.regions {
            if let Some(t) = r.faults.outage_until.filter(|_| r.faults.outage) {
                agenda.push(Reverse((At(t), Due::OutageEnds(name.clone()))));
            }
            let mut add = |t: Option<f64>, due: fn(String, String) -> Due, id: &String| {
                if let Some(t) = t {
                    agenda.push(Reverse((At(t), due(name.clone(), id.clone()))));
                }
            };
            for (id, f) in &r.file_systems {
                add(f.transition_at, Due::FileSystem, id);
                add(f.protection_enable_at, Due::Protection, id);
            }
            for (id, m) in &r.mount_targets {
                add(m.transition_at, Due::MountTarget, id);
            }
            for (id, a) in &r.access_points {
                add(a.transition_at, Due::AccessPoint, id);
            }
            for (id, j) in &r.backup.jobs {
                add(j.due(), Due::BackupJob, id);
            }
            for (arn, p) in &r.backup.recovery_points {
                add(p.delete_at(), Due::RecoveryPoint, arn);
            }
        }
        for (i, rep) in self.replications.iter().enumerate() {
            if let Some(t) = self.replication_due(rep) {
                agenda.push(Reverse((At(t), Due::Replication(i))));
            }
        }
        agenda
    }

    /// When a configuration next changes by itself.
    fn replication_due(&self, rep: &Replication) -> Option<f64> {
        let sides = [rep.source_side, rep.destination_side];
        let gone = sides.iter().filter(|s| **s == SideState::Gone).count();
        if gone == 2 || (gone == 1 && !rep.orphaned) {
            // A side removed: settle (orphan or drop) right away.
            return Some(self.now);
        }
        let mut due: Option<f64> = None;
        let mut consider = |t: f64| due = Some(due.map_or(t, |d: f64| d.min(t)));
        for side in sides {
            if let SideState::Deleting { done_at } = side {
                consider(done_at);
            }
        }
        if !rep.is_deleting() && !rep.orphaned {
            match &rep.sync {
                Some(sync) => consider(sync.completes_at),
                None => consider(rep.next_sync_at),
            }
        }
        due
    }

    /// Applies one event due at `self.now`.
    fn fire(&mut self, due: Due) -> Followup {
        let now = self.now;
        match due {
            Due::OutageEnds(region) => {
                let f = &mut self.region_mut(&region).faults;
                f.outage = false;
                f.outage_until = None;
                f.outage_services.clear();
                self.resume_hung_deletes(&region);
                Followup::Rebuild
            }
            Due::FileSystem(region, id) => {
                if let Some(r) = self.regions.get_mut(&region) {
                    settle(&mut r.file_systems, &id, now);
                }
                Followup::None
            }
            Due::Protection(region, id) => {
                let fs = self
                    .regions
                    .get_mut(&region)
                    .and_then(|r| r.file_systems.get_mut(&id));
                if let Some(fs) = fs {
                    if fs.protection_enable_at.is_some_and(|t| t <= now) {
                        fs.protection_enable_at = None;
                        fs.protection = Protection::Enabled;
                    }
                }
                Followup::None
            }
            Due::MountTarget(region, id) => {
                if let Some(r) = self.regions.get_mut(&region) {
                    settle(&mut r.mount_targets, &id, now);
                }
                Followup::None
            }
            Due::AccessPoint(region, id) => {
                if let Some(r) = self.regions.get_mut(&region) {
                    settle(&mut r.access_points, &id, now);
                }
                Followup::None
            }
            Due::Replication(i) => {
                if i >= self.replications.len() {
                    return Followup::Rebuild;
                }
                if self.step_replication(i, now) {
                    self.replications.remove(i);
                    return Followup::Rebuild;
                }
                match self.replication_due(&self.replications[i]) {
                    Some(t) => Followup::At(t, Due::Replication(i)),
                    None => Followup::None,
                }
            }
            Due::BackupJob(region, id) => match self.step_backup_job(&region, &id) {
                Some(t) => Followup::At(t, Due::BackupJob(region, id)),
                None => Followup::None,
            },
            Due::RecoveryPoint(region, arn) => {
                self.expire_recovery_point(&region, &arn);
                Followup::None
            }
            Due::Minute => {
                let minute = self.next_minute;
                self.next_minute += 60.0;
                monitoring::on_minute(self, minute);
                Followup::At(self.next_minute, Due::Minute)
            }
        }
    }

    /// Moves configuration `i` on to `now`; true once both sides are gone.
    fn step_replication(&mut self, i: usize, now: f64) -> bool {
        // Deletions complete first: a deleting configuration never syncs again.
        let mut promoted = None;
        {
            let rep = &mut self.replications[i];
            if let SideState::Deleting { done_at } = rep.source_side {
                if done_at <= now {
                    rep.source_side = SideState::Gone;
                }
            }
            if let SideState::Deleting { done_at } = rep.destination_side {
                if done_at <= now {
                    rep.destination_side = SideState::Gone;
                    promoted = Some((
                        rep.destination_region.clone(),
                        rep.destination_file_system_id.clone(),
                    ));
                }
            }
            if rep.source_side == SideState::Gone || rep.destination_side == SideState::Gone {
                rep.orphaned = true;
            }
        }
        let rep = &self.replications[i];
        let finished =
            rep.source_side == SideState::Gone && rep.destination_side == SideState::Gone;
        if let Some((region, fs_id)) = promoted {
            // The replica becomes writable only after its side is gone, and not in the
            // same instant: REPLICATING with no configuration in between.
            let delay = self.durations.protection_enable;
            if let Some(fs) = self
                .regions
                .get_mut(&region)
                .and_then(|r| r.file_systems.get_mut(&fs_id))
            {
                if delay > 0.0 {
                    fs.protection_enable_at = Some(now + delay);
                } else {
                    fs.protection = Protection::Enabled;
                }
            }
        }
        if !finished {
            self.step_sync(i, now);
        }
        finished
    }

    /// Why EFS may not sync a configuration across accounts, as its
    /// StatusMessage tells it: the role it assumes, and the destination's policy.
    pub fn sync_denied(&self, rep: &Replication) -> Option<String> {
        use crate::iam::{policy_allows, Principal, EFS_SERVICE};
        if rep.source_owner == rep.destination_owner {
            return None;
        }
        let why = (|| {
            let Some(arn) = &rep.role_arn else {
                return Some("no replication role is configured".to_string());
            };
            let Some(role) = self.roles.get(arn) else {
                return Some(format!("the role {arn} does not exist"));
            };
            if !role.trusts(EFS_SERVICE) {
                return Some(format!(
                    "the trust policy of {arn} does not let {EFS_SERVICE} assume it"
                ));
            }
            for action in ["ReplicationRead", "ReplicationWrite"] {
                if !role.allows(&format!("elasticfilesystem:{action}")) {
                    return Some(format!("{arn} is not allowed elasticfilesystem:{action}"));
                }
            }
            let as_role = Principal {
                account: rep.source_owner.clone(),
                role: Some(arn.clone()),
            };
            let policy = self
                .file_system(&rep.destination_region, &rep.destination_file_system_id)
                .and_then(|f| f.policy.as_deref());
            if !policy_allows(policy, &as_role, "elasticfilesystem:ReplicationWrite") {
                return Some(format!(
                    "the file system policy of {} does not allow {arn} elasticfilesystem:ReplicationWrite",
                    rep.destination_file_system_id
                ));
            }
            None
        })()?;
        let documented =
            "Authorization error. Permissions issues prevent Amazon EFS from performing replication.";
        Some(if self.variants.paused_names_the_permission {
            format!("{} ({why}).", documented.trim_end_matches('.'))
        } else {
            documented.to_string()
        })
    }

    fn can_sync(&self, rep: &Replication) -> bool {
        let dest_ready = self
            .file_system(&rep.destination_region, &rep.destination_file_system_id)
            .is_some_and(|f| f.life_cycle == LifeCycle::Available);
        !rep.is_deleting()
            && !rep.orphaned
            && rep.fault == ReplicationFault::Healthy
            && rep.denied.is_none()
            && dest_ready
            && self.reaches(&rep.source_region, &rep.destination_region)
    }

    fn step_sync(&mut self, i: usize, now: f64) {
        // Permissions are read again at every attempt: mended, the syncs resume.
        let denied = self.sync_denied(&self.replications[i]);
        self.replications[i].denied = denied;
        let can_sync = self.can_sync(&self.replications[i]);
        let interval = self.durations.sync_interval;
        // Complete a sync whose time has come.
        let completed = match &self.replications[i].sync {
            Some(s) if s.completes_at <= now => Some(can_sync),
            _ => None,
        };
        if let Some(ok) = completed {
            let rep = &mut self.replications[i];
            let sync = rep.sync.take();
            if let (false, Some(sync)) = (ok, &sync) {
                // An interrupted sync may already have applied part of its files.
                self.apply_partial_sync(i, sync, false);
            }
            let rep = &mut self.replications[i];
            if let (true, Some(sync)) = (ok, sync) {
                rep.last_replicated = Some(sync.started_at);
                rep.next_sync_at = rep.next_sync_at.max(now);
                let (region, fs_id) = (
                    rep.destination_region.clone(),
                    rep.destination_file_system_id.clone(),
                );
                if let Some(fs) = self
                    .regions
                    .get_mut(&region)
                    .and_then(|r| r.file_systems.get_mut(&fs_id))
                {
                    // EFS makes the destination match the source: added, changed and removed files.
                    fs.files = sync.snapshot;
                }
            } else {
                // An interrupted sync is retried from the start.
                rep.next_sync_at = now + interval;
            }
        }
        let rep = &self.replications[i];
        if rep.sync.is_none() && rep.next_sync_at <= now && !rep.is_deleting() && !rep.orphaned {
            if can_sync {
                let snapshot = self
                    .file_system(&rep.source_region, &rep.source_file_system_id)
                    .map(|f| f.files.clone())
                    .unwrap_or_default();
                let base = if rep.last_replicated.is_none() {
                    self.durations.initial_sync
                } else {
                    self.durations.sync_duration
                };
                let changed = self
                    .file_system(&rep.destination_region, &rep.destination_file_system_id)
                    .map(|d| changed_bytes(&snapshot, &d.files))
                    .unwrap_or(0);
                let duration =
                    base + self.durations.sync_seconds_per_mib * changed as f64 / (1024.0 * 1024.0);
                let rep = &mut self.replications[i];
                rep.sync = Some(SyncInProgress {
                    started_at: now,
                    completes_at: now + duration,
                    snapshot,
                });
                rep.next_sync_at = now + duration.max(interval);
            } else {
                self.replications[i].next_sync_at = now + interval;
            }
        }
    }
}

/// Bytes a sync must move to make `dest` match `source`.
fn changed_bytes(source: &BTreeMap<String, FileEntry>, dest: &BTreeMap<String, FileEntry>) -> u64 {
    source
        .iter()
        .filter(|(path, f)| dest.get(*path).is_none_or(|d| d.seq != f.seq))
        .map(|(_, f)| f.size)
        .sum()
}

impl World {
    /// Applies the first half (by path) of the files a sync `sync` of
    /// configuration `i` was moving. A configuration deleted mid-sync leaves
    /// them where AWS documents it does, in
    /// `efs-replication-lost+found-<source id>-<timestamp>`; an interrupted one
    /// in place.
    pub(crate) fn apply_partial_sync(&mut self, i: usize, sync: &SyncInProgress, lost_found: bool) {
        let Some(rep) = self.replications.get(i) else {
            return;
        };
        let (region, dest_id) = (
            rep.destination_region.clone(),
            rep.destination_file_system_id.clone(),
        );
        let dir = format!(
            "/efs-replication-lost+found-{}-{}",
            rep.source_file_system_id, self.now as u64
        );
        let Some(dest) = self
            .regions
            .get_mut(&region)
            .and_then(|r| r.file_systems.get_mut(&dest_id))
        else {
            return;
        };
        let changed: Vec<(&String, &FileEntry)> = sync
            .snapshot
            .iter()
            .filter(|(path, f)| dest.files.get(*path).is_none_or(|d| d.seq != f.seq))
            .collect();
        let moved = changed.len() / 2;
        for (path, f) in changed.into_iter().take(moved) {
            let at = if lost_found {
                format!("{dir}{path}")
            } else {
                path.clone()
            };
            dest.files.insert(at, f.clone());
        }
    }

    /// The peer `region` answers again: deletes accepted while it did not go on.
    pub fn resume_hung_deletes(&mut self, region: &str) {
        let (delete, skew) = (
            self.durations.replication_delete,
            self.durations.side_delete_skew,
        );
        let now = self.now;
        for rep in &mut self.replications {
            if rep.hung_on.as_deref() != Some(region) {
                continue;
            }
            rep.hung_on = None;
            let (first, second) = (now + delete, now + delete + skew);
            for side in [&mut rep.source_side, &mut rep.destination_side] {
                *side = match *side {
                    SideState::Deleting { done_at } if done_at.is_infinite() => {
                        SideState::Deleting { done_at: first }
                    }
                    SideState::Present => SideState::Deleting { done_at: second },
                    other => other,
                };
            }
        }
    }
}

/// A resource that goes `creating` -> `available`, or `deleting` -> gone, at `transition_at`.
trait Transitioning {
    fn state(&mut self) -> (&mut LifeCycle, &mut Option<f64>);
}

macro_rules! transitioning {
    ($($t:ty),*) => {$(
        impl Transitioning for $t {
            fn state(&mut self) -> (&mut LifeCycle, &mut Option<f64>) {
                (&mut self.life_cycle, &mut self.transition_at)
            }
        }
    )*};
}
transitioning!(FileSystem, MountTarget, AccessPoint);

/// Completes `id`'s transition if its time has come.
fn settle<T: Transitioning>(items: &mut BTreeMap<String, T>, id: &str, now: f64) {
    let Some(item) = items.get_mut(id) else {
        return;
    };
    let (life_cycle, transition_at) = item.state();
    if !transition_at.is_some_and(|t| t <= now) {
        return;
    }
    match *life_cycle {
        LifeCycle::Creating => {
            *life_cycle = LifeCycle::Available;
            *transition_at = None;
        }
        LifeCycle::Deleting => {
            items.remove(id);
        }
        LifeCycle::Available => {}
    }
}

/// An emulated instant, ordered so it can key the agenda.
#[derive(Clone, Copy, Debug, PartialEq)]
struct At(f64);

impl Eq for At {}

impl PartialOrd for At {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for At {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// What falls due. At one instant, resources settle before replications
/// and backup jobs look at them, and metrics and alarms come last.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    FileSystem(String, String),
    Protection(String, String),
    MountTarget(String, String),
    AccessPoint(String, String),
    Replication(usize),
    BackupJob(String, String),
    RecoveryPoint(String, String),
    OutageEnds(String),
    Minute,
}

enum Followup {
    None,
    At(f64, Due),
    Rebuild,
}
