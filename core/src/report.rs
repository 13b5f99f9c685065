//! What a run did: a timeline of steps, the recovery point achieved,
//! warnings and next steps. The report is the function's result, the body of
//! the SNS notification and a structured log line.

use crate::domain::ids::{FileSystemId, RegionName};
use crate::domain::model::{DeletionMode, MountTarget};
use crate::domain::modes::Mode;
use crate::domain::time::iso8601;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Planned,
    Completed,
    InProgress,
    Refused,
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// This run made the change.
    Done,
    /// The state was already as wanted.
    AlreadyDone,
    /// Plan mode: would be done.
    Planned,
    /// Waiting for AWS to finish a transition.
    Waiting,
    /// Observed only (a probe or a read): nothing to change.
    Checked,
    Skipped,
    Failed,
}

#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub name: String,
    pub outcome: Outcome,
    pub at: String,
    pub duration_ms: u64,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Location {
    pub file_system_id: Option<FileSystemId>,
    pub region: RegionName,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecoveryPoint {
    /// Last sync completed before promotion: changes before it are on the replica.
    pub last_replicated_timestamp: String,
    pub last_replicated_epoch: f64,
    pub promoted_at: String,
    /// Data written in this window before promotion may be missing on the replica.
    pub recovery_point_seconds: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub workflow: &'static str,
    pub mode: Mode,
    pub status: Status,
    pub phase: String,
    pub source: Location,
    pub destination: Location,
    pub reason: Option<String>,
    pub started_at: String,
    pub duration_seconds: f64,
    pub timeline: Vec<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_point: Option<RecoveryPoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_region_reachable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_mode: Option<DeletionMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    pub mount_targets: Vec<MountTarget>,
    /// Access points on this file system and where they came from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub access_points: Vec<AccessPointMapping>,
    /// Differences from the wanted state found by this run (fixed in execute mode).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// Copies taken of what a file system alone held before replication overwrote it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preserved: Vec<Preserved>,
    /// Overwrites without a copy: nothing was written there, or `preserve: never`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overwritten_without_copy: Vec<Unpreserved>,
    pub warnings: Vec<String>,
    pub next_steps: Vec<String>,
    /// What a Terraform or CloudFormation user changes for the pair as it is now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iac: Option<Iac>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ReportError>,
    /// Whether this run changed anything in AWS.
    pub changed: bool,
    #[serde(skip)]
    pub started_epoch: f64,
}

/// What a file system alone held in a window, kept in an AWS Backup recovery point.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Preserved {
    pub file_system_id: FileSystemId,
    pub region: RegionName,
    /// Since when it may hold writes the other side lacks (the two last matched).
    pub window_start: String,
    pub window_end: String,
    /// `DataWriteIOBytes` in the window; `None` when some minute had no data.
    pub bytes_written: Option<u64>,
    /// Bytes in the minutes that had data, and how many had none.
    pub bytes_seen: u64,
    pub minutes_without_data: u32,
    pub backup_job_id: String,
    pub recovery_point_arn: String,
    pub completed_at: Option<String>,
    /// Restores it into a new directory beside the live data.
    pub restore_command: String,
}

/// An overwrite without a copy, and why that was allowed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unpreserved {
    pub file_system_id: FileSystemId,
    pub region: RegionName,
    pub window_start: String,
    pub window_end: String,
    pub bytes_written: Option<u64>,
    /// Bytes in the minutes that had data, and how many had none.
    pub bytes_seen: u64,
    pub minutes_without_data: u32,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReportError {
    pub error_type: String,
    pub message: String,
}

impl Report {
    pub fn new(
        workflow: &'static str,
        mode: Mode,
        source: Location,
        destination: Location,
        now: f64,
    ) -> Report {
        Report {
            workflow,
            mode,
            status: Status::InProgress,
            phase: "preflight".into(),
            source,
            destination,
            reason: None,
            started_at: iso8601(now),
            duration_seconds: 0.0,
            timeline: Vec::new(),
            recovery_point: None,
            source_region_reachable: None,
            deletion_mode: None,
            dns_name: None,
            mount_targets: Vec::new(),
            access_points: Vec::new(),
            drift: Vec::new(),
            ready: None,
            preserved: Vec::new(),
            overwritten_without_copy: Vec::new(),
            warnings: Vec::new(),
            next_steps: Vec::new(),
            iac: None,
            wait_seconds: None,
            error: None,
            changed: false,
            started_epoch: now,
        }
    }

    /// Records a step that started at `started` (epoch seconds) and ended at `now`.
    pub fn step(
        &mut self,
        name: &str,
        outcome: Outcome,
        started: f64,
        now: f64,
        detail: impl Into<String>,
    ) {
        if outcome == Outcome::Done {
            self.changed = true;
        }
        let detail = detail.into();
        // A poll loop repeats the same waiting step: keep one entry, extended.
        if let Some(last) = self.timeline.last_mut() {
            if last.name == name && last.outcome == Outcome::Waiting && outcome == Outcome::Waiting
            {
                last.duration_ms += ((now - started).max(0.0) * 1000.0) as u64;
                last.detail = detail;
                return;
            }
        }
        self.timeline.push(Step {
            name: name.to_string(),
            outcome,
            at: iso8601(started),
            duration_ms: ((now - started).max(0.0) * 1000.0) as u64,
            detail,
        });
    }

    pub fn warn(&mut self, w: impl Into<String>) {
        let w = w.into();
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    pub fn next(&mut self, s: impl Into<String>) {
        let s = s.into();
        if !self.next_steps.contains(&s) {
            self.next_steps.push(s);
        }
    }

    /// Restarts the clock of the report (before any step was recorded).
    pub fn restart(&mut self, now: f64) {
        self.started_epoch = now;
        self.started_at = iso8601(now);
    }

    pub fn finish(&mut self, now: f64) {
        self.duration_seconds = ((now - self.started_epoch) * 1000.0).round() / 1000.0;
    }

    /// One-line headline for subjects and summaries.
    pub fn headline(&self) -> String {
        let dest = self
            .destination
            .file_system_id
            .as_ref()
            .map(|f| f.to_string())
            .unwrap_or_else(|| "?".into());
        let verb = match self.status {
            Status::Planned => "plan",
            Status::Completed => "completed",
            Status::InProgress => "in progress",
            Status::Refused => "REFUSED",
            Status::Failed => "FAILED",
        };
        format!(
            "efs-dr {} {verb}: {} ({})",
            self.workflow, dest, self.destination.region
        )
    }

    /// A readable body: the essentials first, then the full JSON report.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        out.push_str(&self.headline());
        out.push_str("\n\n");
        if let Some(src) = &self.source.file_system_id {
            out.push_str(&format!("Source:      {} ({})\n", src, self.source.region));
        }
        if let Some(dst) = &self.destination.file_system_id {
            out.push_str(&format!(
                "Destination: {} ({})\n",
                dst, self.destination.region
            ));
        }
        out.push_str(&format!("Phase:       {}\n", self.phase));
        if let Some(rp) = &self.recovery_point {
            out.push_str(&format!(
                "Recovery point: {:.0} s (last replicated {}, promoted {})\n",
                rp.recovery_point_seconds, rp.last_replicated_timestamp, rp.promoted_at
            ));
        }
        if let Some(dns) = &self.dns_name {
            out.push_str(&format!("Mount:       {dns}\n"));
        }
        for p in &self.preserved {
            out.push_str(&format!(
                "Preserved:   what {} held from {} to {} ({}) is in {}\n             restore it beside the live data: {}\n",
                p.file_system_id,
                p.window_start,
                p.window_end,
                p.bytes_written
                    .map(|b| format!("{b} bytes written"))
                    .unwrap_or_else(|| "bytes written unknown".into()),
                p.recovery_point_arn,
                p.restore_command
            ));
        }
        for u in &self.overwritten_without_copy {
            out.push_str(&format!(
                "Overwritten: {} from {} to {}, {}: {}\n",
                u.file_system_id,
                u.window_start,
                u.window_end,
                u.bytes_written
                    .map(|b| format!("{b} bytes written"))
                    .unwrap_or_else(|| "bytes written unknown".into()),
                u.reason
            ));
        }
        if let Some(e) = &self.error {
            out.push_str(&format!("Error:       {} - {}\n", e.error_type, e.message));
        }
        for w in &self.warnings {
            out.push_str(&format!("WARNING: {w}\n"));
        }
        for s in &self.next_steps {
            out.push_str(&format!("NEXT: {s}\n"));
        }
        out.push_str("\nReport (JSON):\n");
        out.push_str(&serde_json::to_string_pretty(self).unwrap_or_default());
        out
    }
}

/// Infrastructure as code for a pair as it is now: the report's `iac`
/// section (rendered by the iac workflow).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Topology {
    /// primary -> replica, as configured.
    Protected,
    /// replica -> primary: a failback's reverse sync.
    Reversed,
    /// The replica replicates to or from a file system outside the pair.
    Elsewhere,
    /// No replication: the replica was promoted and is writable.
    Standalone,
}

/// What an infrastructure-as-code user changes, as text they can paste.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Iac {
    pub topology: Topology,
    /// The pair's direction now, in words.
    pub summary: String,
    /// `terraform.tfvars` lines: the variables that carry source and destination.
    pub terraform_tfvars: String,
    /// `import`/`removed` blocks and the protection argument to set.
    pub terraform: String,
    /// What to change in a CloudFormation template, with the snippet.
    pub cloudformation: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_steps_merge() {
        let loc = Location {
            file_system_id: None,
            region: RegionName::parse("us-west-2").unwrap(),
        };
        let mut r = Report::new("failover", Mode::Execute, loc.clone(), loc, 0.0);
        r.step("wait", Outcome::Waiting, 0.0, 5.0, "a");
        r.step("wait", Outcome::Waiting, 5.0, 10.0, "b");
        assert_eq!(r.timeline.len(), 1);
        assert_eq!(r.timeline[0].duration_ms, 10_000);
        assert!(!r.changed);
        r.step("x", Outcome::Done, 10.0, 11.0, "");
        assert!(r.changed);
        assert_eq!(iso8601(1_795_276_800.0), "2026-11-21T16:00:00Z");
    }
}

/// Access point IDs differ between the two file systems: the report maps them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccessPointMapping {
    pub key: String,
    /// The access point on the source (absent for an explicit list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_access_point_id: Option<String>,
    pub access_point_id: Option<String>,
    pub outcome: Outcome,
}
