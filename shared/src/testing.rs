//! Test support: a platform wrapper that counts mutating EFS calls and
//! "crashes" (stops the run with an error, as a killed process would) right
//! after the k-th one, and a virtual clock.

use crate::domain::error::{AwsError, AwsErrorKind};
use crate::domain::ids::{FileSystemId, Location, RegionName, SecurityGroupId, SubnetId};
use crate::domain::model::{
    AccessPoint, AccessPointSpec, BackupJob, BackupJobRequest, DeletionMode, FileSystem,
    MountTarget, Protection, Replication,
};
use crate::domain::ports::{
    AwsResult, Backup, CallBudget, Clock, CreateAccessPointOutcome, CreateMountTargetOutcome,
    CreateReplicationOutcome, DeleteOutcome, Efs, Platform,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counts mutating calls across every client of a platform.
#[derive(Clone, Default)]
pub struct MutationBudget {
    done: Arc<AtomicUsize>,
    crash_after: Option<usize>,
}

impl MutationBudget {
    pub fn crash_after(k: usize) -> Self {
        MutationBudget {
            done: Arc::default(),
            crash_after: Some(k),
        }
    }

    pub fn count(&self) -> usize {
        self.done.load(Ordering::SeqCst)
    }

    /// Called after a mutating call went through: past the budget, the "process" dies.
    fn after_mutation<T>(&self, region: &RegionName, result: AwsResult<T>) -> AwsResult<T> {
        let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        match self.crash_after {
            Some(k) if n >= k => Err(AwsError {
                operation: "crash",
                region: region.to_string(),
                kind: AwsErrorKind::Other,
                code: Some("InjectedCrash".into()),
                status: None,
                message: format!("process killed after mutating call {n}"),
            }),
            _ => result,
        }
    }

    /// Refuses every call once the process has "died".
    fn alive(&self, region: &RegionName) -> AwsResult<()> {
        match self.crash_after {
            Some(k) if self.count() >= k => Err(AwsError {
                operation: "crash",
                region: region.to_string(),
                kind: AwsErrorKind::Other,
                code: Some("InjectedCrash".into()),
                status: None,
                message: "process is dead".into(),
            }),
            _ => Ok(()),
        }
    }
}

pub struct CrashingEfs<E> {
    inner: E,
    budget: MutationBudget,
}

macro_rules! read {
    ($self:ident, $call:expr) => {{
        $self.budget.alive($self.inner.region())?;
        $call.await
    }};
}

macro_rules! write {
    ($self:ident, $call:expr) => {{
        $self.budget.alive($self.inner.region())?;
        let r = $call.await;
        if r.is_ok() {
            $self.budget.after_mutation($self.inner.region(), r)
        } else {
            r
        }
    }};
}

impl<E: Efs> Efs for CrashingEfs<E> {
    fn region(&self) -> &RegionName {
        self.inner.region()
    }
    async fn describe_file_system(&self, id: &FileSystemId) -> AwsResult<Option<FileSystem>> {
        read!(self, self.inner.describe_file_system(id))
    }
    async fn list_file_systems(&self) -> AwsResult<Vec<FileSystem>> {
        read!(self, self.inner.list_file_systems())
    }
    async fn describe_replication(&self, id: &FileSystemId) -> AwsResult<Option<Replication>> {
        read!(self, self.inner.describe_replication(id))
    }
    async fn list_replications(&self) -> AwsResult<Vec<Replication>> {
        read!(self, self.inner.list_replications())
    }
    async fn delete_replication(
        &self,
        source: &FileSystemId,
        mode: DeletionMode,
    ) -> AwsResult<DeleteOutcome> {
        write!(self, self.inner.delete_replication(source, mode))
    }
    async fn create_replication(
        &self,
        source: &FileSystemId,
        region: &RegionName,
        dest: Option<&FileSystemId>,
    ) -> AwsResult<CreateReplicationOutcome> {
        write!(self, self.inner.create_replication(source, region, dest))
    }
    async fn update_protection(&self, id: &FileSystemId, p: Protection) -> AwsResult<()> {
        write!(self, self.inner.update_protection(id, p))
    }
    async fn tag_file_system(&self, id: &FileSystemId, tags: &[(String, String)]) -> AwsResult<()> {
        write!(self, self.inner.tag_file_system(id, tags))
    }
    async fn describe_mount_targets(&self, id: &FileSystemId) -> AwsResult<Vec<MountTarget>> {
        read!(self, self.inner.describe_mount_targets(id))
    }
    async fn mount_target_security_groups(&self, id: &str) -> AwsResult<Vec<String>> {
        read!(self, self.inner.mount_target_security_groups(id))
    }
    async fn create_mount_target(
        &self,
        id: &FileSystemId,
        subnet: &SubnetId,
        sgs: &[SecurityGroupId],
    ) -> AwsResult<CreateMountTargetOutcome> {
        write!(self, self.inner.create_mount_target(id, subnet, sgs))
    }
    async fn set_mount_target_security_groups(
        &self,
        id: &str,
        sgs: &[SecurityGroupId],
    ) -> AwsResult<()> {
        write!(self, self.inner.set_mount_target_security_groups(id, sgs))
    }
    async fn delete_mount_target(&self, id: &str) -> AwsResult<()> {
        write!(self, self.inner.delete_mount_target(id))
    }
    async fn describe_access_points(&self, id: &FileSystemId) -> AwsResult<Vec<AccessPoint>> {
        read!(self, self.inner.describe_access_points(id))
    }
    async fn create_access_point(
        &self,
        id: &FileSystemId,
        spec: &AccessPointSpec,
        token: &str,
    ) -> AwsResult<CreateAccessPointOutcome> {
        write!(self, self.inner.create_access_point(id, spec, token))
    }
    async fn tag_access_point(&self, id: &str, tags: &[(String, String)]) -> AwsResult<()> {
        write!(self, self.inner.tag_access_point(id, tags))
    }
    async fn probe(&self) -> AwsResult<()> {
        read!(self, self.inner.probe())
    }
}

/// Virtual time: `sleep` moves time forward at once through `advance`
/// (typically the emulator's manual clock).
#[derive(Clone)]
pub struct VirtualClock {
    now: Arc<dyn Fn() -> f64 + Send + Sync>,
    advance: Arc<dyn Fn(f64) + Send + Sync>,
    start: f64,
}

impl VirtualClock {
    pub fn new(
        now: impl Fn() -> f64 + Send + Sync + 'static,
        advance: impl Fn(f64) + Send + Sync + 'static,
    ) -> Self {
        let start = now();
        VirtualClock {
            now: Arc::new(now),
            advance: Arc::new(advance),
            start,
        }
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> f64 {
        (self.now)()
    }
    fn monotonic(&self) -> Duration {
        Duration::from_secs_f64(((self.now)() - self.start).max(0.0))
    }
    async fn sleep(&self, d: Duration) {
        (self.advance)(d.as_secs_f64());
        tokio::task::yield_now().await;
    }
}

/// Backup calls count against the same crash budget: StartBackupJob is a mutation.
pub struct CrashingBackup<B> {
    inner: B,
    region: RegionName,
    budget: MutationBudget,
}

impl<B: Backup> Backup for CrashingBackup<B> {
    async fn start_backup_job(&self, request: &BackupJobRequest) -> AwsResult<String> {
        self.budget.alive(&self.region)?;
        let r = self.inner.start_backup_job(request).await;
        if r.is_ok() {
            self.budget.after_mutation(&self.region, r)
        } else {
            r
        }
    }
    async fn describe_backup_job(&self, job_id: &str) -> AwsResult<BackupJob> {
        self.budget.alive(&self.region)?;
        self.inner.describe_backup_job(job_id).await
    }
}

/// A platform whose EFS and Backup clients share one crash budget and whose clock is virtual.
pub struct TestPlatform<P: Platform> {
    pub inner: P,
    pub clock: VirtualClock,
    pub budget: MutationBudget,
}

impl<P: Platform> Platform for TestPlatform<P> {
    type Efs = CrashingEfs<P::Efs>;
    type Backup = CrashingBackup<P::Backup>;
    type Notifier = P::Notifier;
    type Metrics = P::Metrics;
    type Clock = VirtualClock;
    type RegionSwitch = P::RegionSwitch;

    fn efs(&self, at: impl Into<Location>, budget: CallBudget) -> Self::Efs {
        CrashingEfs {
            inner: self.inner.efs(at, budget),
            budget: self.budget.clone(),
        }
    }
    fn backup(&self, at: impl Into<Location>) -> Self::Backup {
        let at = at.into();
        CrashingBackup {
            region: at.region.clone(),
            inner: self.inner.backup(at),
            budget: self.budget.clone(),
        }
    }
    fn notifier(&self) -> P::Notifier {
        self.inner.notifier()
    }
    fn metrics(&self, at: impl Into<Location>) -> P::Metrics {
        self.inner.metrics(at)
    }
    fn clock(&self) -> &VirtualClock {
        &self.clock
    }
    fn region_switch(&self, at: impl Into<Location>) -> P::RegionSwitch {
        self.inner.region_switch(at)
    }
}

/// The string `mutate_json` puts in place of a value: a NUL and a right-to-left override.
pub const GARBAGE: &str = "\u{0}garbage\u{202e}";

/// One step of a JSON path: an object key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    Key(String),
    Index(usize),
}

/// What a mutation did to the value at its path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MutationKind {
    /// The key was removed from its object.
    Removed,
    /// The value was replaced by null.
    Nulled,
    /// The value was replaced by this number.
    Number(u64),
    /// The value was replaced by [`GARBAGE`].
    Garbage,
    /// A string was cut to its first this many bytes.
    Truncated(usize),
    /// A string holding JSON was parsed and written back; the mutations made
    /// inside it have paths that go on from this one into that JSON.
    Reencoded,
}

/// One change `mutate_json_recorded` made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mutation {
    pub path: Vec<PathStep>,
    pub kind: MutationKind,
}

impl Mutation {
    /// The last key on the path: the field that was changed, or holds the changed item.
    pub fn key(&self) -> Option<&str> {
        self.path.iter().rev().find_map(|s| match s {
            PathStep::Key(k) => Some(k.as_str()),
            PathStep::Index(_) => None,
        })
    }

    /// The path relative to `prefix`, when it lies under it.
    pub fn under(&self, prefix: &[PathStep]) -> Option<Mutation> {
        self.path.strip_prefix(prefix).map(|rest| Mutation {
            path: rest.to_vec(),
            kind: self.kind.clone(),
        })
    }
}

/// Whether `text` names `word` as a whole word: a key alone or as part of a
/// dotted path, not inside a longer name (`name` is not named by `alarmName`).
pub fn names(text: &str, word: &str) -> bool {
    let part = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    !word.is_empty()
        && text.match_indices(word).any(|(i, _)| {
            !text[..i].chars().next_back().is_some_and(part)
                && !text[i + word.len()..].chars().next().is_some_and(part)
        })
}

/// A path as serde_path_to_error and the intake errors print it: `a.b[0].c`, `.` for the root.
pub fn dotted(path: &[PathStep]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            PathStep::Key(k) if out.is_empty() => out.push_str(k),
            PathStep::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            PathStep::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// Garbles a JSON value for fuzzing: drops, nulls, retypes and corrupts fields
/// at every depth, and nested JSON strings (SNS messages) too.
pub fn mutate_json(v: &mut serde_json::Value, next: &mut dyn FnMut() -> u64) {
    mutate_json_recorded(v, next);
}

/// As [`mutate_json`], and returns what it changed, so a test can check that
/// an error names the field it is about.
pub fn mutate_json_recorded(
    v: &mut serde_json::Value,
    next: &mut dyn FnMut() -> u64,
) -> Vec<Mutation> {
    let mut done = Vec::new();
    mutate_at(v, next, &mut Vec::new(), &mut done);
    done
}

fn mutate_at(
    v: &mut serde_json::Value,
    next: &mut dyn FnMut() -> u64,
    path: &mut Vec<PathStep>,
    done: &mut Vec<Mutation>,
) {
    use serde_json::{json, Value};
    let record = |done: &mut Vec<Mutation>, path: &[PathStep], kind| {
        done.push(Mutation {
            path: path.to_vec(),
            kind,
        })
    };
    match v {
        Value::Object(m) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                path.push(PathStep::Key(k.clone()));
                match next() % 7 {
                    0 => {
                        m.remove(&k);
                        record(done, path, MutationKind::Removed);
                    }
                    1 => {
                        m.insert(k, Value::Null);
                        record(done, path, MutationKind::Nulled);
                    }
                    2 => {
                        let n = next() % 1000;
                        m.insert(k, json!(n));
                        record(done, path, MutationKind::Number(n));
                    }
                    3 => {
                        m.insert(k, json!(GARBAGE));
                        record(done, path, MutationKind::Garbage);
                    }
                    _ => {
                        if let Some(child) = m.get_mut(&k) {
                            mutate_at(child, next, path, done);
                        }
                    }
                }
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter_mut().enumerate() {
                path.push(PathStep::Index(i));
                mutate_at(c, next, path, done);
                path.pop();
            }
        }
        Value::String(s) if next().is_multiple_of(3) => {
            if let Ok(mut inner) = serde_json::from_str::<Value>(s) {
                record(done, path, MutationKind::Reencoded);
                mutate_at(&mut inner, next, path, done);
                *s = inner.to_string();
            } else {
                let cut = (next() % (s.len() as u64 + 1)) as usize;
                let cut = (0..=cut)
                    .rev()
                    .find(|i| s.is_char_boundary(*i))
                    .unwrap_or(0);
                if cut < s.len() {
                    s.truncate(cut);
                    record(done, path, MutationKind::Truncated(cut));
                }
            }
        }
        _ => {}
    }
}

/// A xorshift generator for fuzzing loops.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed.max(1);
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}
