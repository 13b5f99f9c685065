//! Test support: a platform wrapper that counts mutating EFS calls and
//! "crashes" (stops the run with an error, as a killed process would) right
//! after the k-th one, and a virtual clock.

use crate::domain::error::{AwsError, AwsErrorKind};
use crate::domain::ids::{FileSystemId, Location, RegionName, SecurityGroupId, SubnetId};
use crate::domain::model::MetricPoint;
use crate::domain::model::{
    AccessPoint, AccessPointSpec, BackupJob, BackupJobRequest, DeletionMode, FileSystem,
    MountTarget, Protection, Replication,
};
use crate::domain::ports::{
    AlarmStatus, AwsResult, Backup, CallBudget, Clock, CreateAccessPointOutcome,
    CreateMountTargetOutcome, CreateReplicationOutcome, DeleteOutcome, Efs, Metrics, Notification,
    Notifier, Platform, Recipient, ReplicationDestination, SeriesQuery,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counts mutating calls across every client of a platform.
#[derive(Clone, Default)]
pub struct MutationBudget {
    done: Arc<AtomicUsize>,
    crash_after: Option<usize>,
    /// Whether SNS publishes and metric writes count too (not only EFS and
    /// Backup): for runs whose acts are messages, such as the probe's.
    counts_messages: bool,
    /// Probes (`Efs::probe`) into a Region still to be answered with throttling.
    failing_probes:
        Arc<std::sync::Mutex<std::collections::BTreeMap<String, (usize, AwsErrorKind)>>>,
}

impl MutationBudget {
    pub fn crash_after(k: usize) -> Self {
        MutationBudget {
            crash_after: Some(k),
            ..Self::default()
        }
    }

    /// Crashes after the k-th mutating call of any kind, messages included.
    pub fn crash_after_any(k: usize) -> Self {
        MutationBudget {
            counts_messages: true,
            ..Self::crash_after(k)
        }
    }

    /// Counts every mutating call, messages included, and never crashes.
    pub fn counting_any() -> Self {
        MutationBudget {
            counts_messages: true,
            ..Self::default()
        }
    }

    /// The next `n` probes into `region` are answered with throttling, as a
    /// busy API answers one call in a burst.
    pub fn throttle_next_probes(&self, region: &str, n: usize) {
        self.fail_next_probes(region, n, AwsErrorKind::Throttled);
    }

    /// The next `n` probes into `region` fail so (`Throttled` or `ServerError`).
    pub fn fail_next_probes(&self, region: &str, n: usize, kind: AwsErrorKind) {
        if let Ok(mut m) = self.failing_probes.lock() {
            m.insert(region.to_string(), (n, kind));
        }
    }

    fn take_failing_probe(&self, region: &RegionName) -> Option<AwsErrorKind> {
        let mut m = self.failing_probes.lock().ok()?;
        match m.get_mut(region.as_str()) {
            Some((n, kind)) if *n > 0 => {
                *n -= 1;
                Some(*kind)
            }
            _ => None,
        }
    }

    async fn message<T>(
        &self,
        region: &RegionName,
        call: impl std::future::Future<Output = AwsResult<T>>,
    ) -> AwsResult<T> {
        if !self.counts_messages {
            return call.await;
        }
        self.alive(region)?;
        let r = call.await;
        if r.is_ok() {
            self.after_mutation(region, r)
        } else {
            r
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
    clock: VirtualClock,
}

/// Calls in flight on a platform: the virtual clock does not move while
/// one is (its answer is due now, not after someone else's sleep).
#[derive(Clone, Default)]
pub struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn enter(&self) -> BusyGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        BusyGuard(self.0.clone())
    }
    fn idle(&self) -> bool {
        self.0.load(Ordering::SeqCst) == 0
    }
}

struct BusyGuard(Arc<AtomicUsize>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

macro_rules! read {
    ($self:ident, $call:expr) => {{
        let r = {
            let _busy = $self.clock.busy.enter();
            $self.budget.alive($self.inner.region())?;
            $call.await
        };
        $self.clock.charge(r.as_ref().err()).await;
        r
    }};
}

macro_rules! write {
    ($self:ident, $call:expr) => {{
        let r = {
            let _busy = $self.clock.busy.enter();
            $self.budget.alive($self.inner.region())?;
            $call.await
        };
        $self.clock.charge(r.as_ref().err()).await;
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
        dest: &ReplicationDestination<'_>,
    ) -> AwsResult<CreateReplicationOutcome> {
        write!(self, self.inner.create_replication(source, dest))
    }
    async fn put_file_system_policy(&self, id: &FileSystemId, policy: &str) -> AwsResult<()> {
        write!(self, self.inner.put_file_system_policy(id, policy))
    }
    async fn file_system_policy(&self, id: &FileSystemId) -> AwsResult<Option<String>> {
        read!(self, self.inner.file_system_policy(id))
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
        if let Some(kind) = self.budget.take_failing_probe(self.inner.region()) {
            let (code, status) = match kind {
                AwsErrorKind::Throttled => ("ThrottlingException", 400),
                _ => ("InternalServerError", 500),
            };
            return Err(AwsError {
                operation: "DescribeFileSystems",
                region: self.inner.region().to_string(),
                kind,
                code: Some(code.into()),
                status: Some(status),
                message: "injected by the test platform".into(),
            });
        }
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
    /// Wake-up times of the sleepers, by ticket: only the earliest moves time.
    sleepers: Arc<std::sync::Mutex<(u64, std::collections::BTreeMap<u64, f64>)>>,
    pub busy: Busy,
    /// Emulated seconds each EFS call costs, answered and unanswered.
    costs: Arc<std::sync::Mutex<Option<(f64, f64)>>>,
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
            sleepers: Arc::default(),
            busy: Busy::default(),
            costs: Arc::default(),
        }
    }
}

impl VirtualClock {
    /// From now on each EFS call costs `answered` emulated seconds, and one
    /// that gets no answer `silent` (the client's timeout), as calls cost real
    /// time in AWS: for the proofs that a run keeps its deadline.
    pub fn charge_calls(&self, answered: f64, silent: f64) {
        if let Ok(mut c) = self.costs.lock() {
            *c = Some((answered, silent));
        }
    }

    async fn charge(&self, error: Option<&AwsError>) {
        let Some((answered, silent)) = self.costs.lock().ok().and_then(|c| *c) else {
            return;
        };
        let unanswered = error.is_some_and(|e| e.kind == AwsErrorKind::Unreachable);
        self.sleep(Duration::from_secs_f64(if unanswered {
            silent
        } else {
            answered
        }))
        .await;
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> f64 {
        (self.now)()
    }
    fn monotonic(&self) -> Duration {
        Duration::from_secs_f64(((self.now)() - self.start).max(0.0))
    }
    /// A discrete-event clock: the sleeper with the earliest wake-up time
    /// moves time to it, the others wait their turn, so workflows sleeping
    /// side by side wait together as in real time and none wakes early.
    async fn sleep(&self, d: Duration) {
        let wake = (self.now)() + d.as_secs_f64();
        let ticket = match self.sleepers.lock() {
            Ok(mut s) => {
                s.0 += 1;
                let t = s.0;
                s.1.insert(t, wake);
                t
            }
            Err(_) => return (self.advance)(d.as_secs_f64()),
        };
        loop {
            let now = (self.now)();
            if now >= wake {
                break;
            }
            let earliest = self.sleepers.lock().ok().and_then(|s| {
                s.1.iter()
                    .min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(b.0)))
                    .map(|(t, _)| *t)
            });
            if earliest.is_none_or(|t| t == ticket) && self.busy.idle() {
                (self.advance)(wake - now);
                break;
            }
            // Let the earlier sleepers (and anyone mid-call) run first.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if let Ok(mut s) = self.sleepers.lock() {
            s.1.remove(&ticket);
        }
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

pub struct CrashingNotifier<N> {
    inner: N,
    budget: MutationBudget,
    busy: Busy,
}

impl<N: Notifier> Notifier for CrashingNotifier<N> {
    async fn send(&self, n: Notification<'_>) -> AwsResult<()> {
        let _busy = self.busy.enter();
        let Recipient::SnsTopic { region, .. } = n.to;
        let region = region.clone();
        self.budget.message(&region, self.inner.send(n)).await
    }
}

pub struct CrashingMetrics<M> {
    inner: M,
    region: RegionName,
    budget: MutationBudget,
    busy: Busy,
}

impl<M: Metrics> Metrics for CrashingMetrics<M> {
    async fn put(&self, points: &[MetricPoint]) -> AwsResult<()> {
        let _busy = self.busy.enter();
        self.budget
            .message(&self.region, self.inner.put(points))
            .await
    }
    async fn alarm(&self, name: &str) -> AwsResult<Option<AlarmStatus>> {
        let _busy = self.busy.enter();
        if self.budget.counts_messages {
            self.budget.alive(&self.region)?;
        }
        self.inner.alarm(name).await
    }
    async fn series(&self, query: &SeriesQuery<'_>) -> AwsResult<Vec<(f64, f64)>> {
        let _busy = self.busy.enter();
        if self.budget.counts_messages {
            self.budget.alive(&self.region)?;
        }
        self.inner.series(query).await
    }
    async fn series_many(&self, queries: &[SeriesQuery<'_>]) -> AwsResult<Vec<Vec<(f64, f64)>>> {
        let _busy = self.busy.enter();
        if self.budget.counts_messages {
            self.budget.alive(&self.region)?;
        }
        self.inner.series_many(queries).await
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
    type Notifier = CrashingNotifier<P::Notifier>;
    type Metrics = CrashingMetrics<P::Metrics>;
    type Clock = VirtualClock;
    type RegionSwitch = P::RegionSwitch;

    fn efs(&self, at: impl Into<Location>, budget: CallBudget) -> Self::Efs {
        CrashingEfs {
            inner: self.inner.efs(at, budget),
            budget: self.budget.clone(),
            clock: self.clock.clone(),
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
    fn notifier(&self) -> Self::Notifier {
        CrashingNotifier {
            inner: self.inner.notifier(),
            budget: self.budget.clone(),
            busy: self.clock.busy.clone(),
        }
    }
    fn metrics(&self, at: impl Into<Location>) -> Self::Metrics {
        let at = at.into();
        CrashingMetrics {
            region: at.region.clone(),
            inner: self.inner.metrics(at),
            budget: self.budget.clone(),
            busy: self.clock.busy.clone(),
        }
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
