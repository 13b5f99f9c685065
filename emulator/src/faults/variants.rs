//! The behaviours AWS leaves open, each with the variant harder on a client,
//! and the two profiles that pick them all at once.

use serde::{Deserialize, Serialize};

/// What a completed recovery point reports as its `Status`: the model's
/// documentation says `AVAILABLE`, the enum also has `COMPLETED`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecoveryPointDoneStatus {
    #[default]
    Completed,
    Available,
}

impl RecoveryPointDoneStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryPointDoneStatus::Completed => "COMPLETED",
            RecoveryPointDoneStatus::Available => "AVAILABLE",
        }
    }
}

/// Which side of a deleted configuration finishes first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeleteOrder {
    /// The replica is writable while the source's side is still DELETING.
    #[default]
    DestinationFirst,
    SourceFirst,
}

/// A full DeleteReplicationConfiguration while the other side's Region (the
/// source, during a failover) does not answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceDownDelete {
    /// An InternalServerError at once.
    #[default]
    FailFast,
    /// 204, and the configuration stays DELETING until the peer returns.
    AcceptAndHang,
}

/// Where a Region switch plan execution can be read with GetPlanExecution:
/// AWS does not say whether outside the Region whose endpoint started it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanExecutionReads {
    #[default]
    AnyRegion,
    /// Only through the Region that StartPlanExecution was called in.
    StartingRegion,
}

/// The behaviours AWS leaves open. `kind` picks the defaults; `unkind` the
/// variant harder on a client for each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    #[default]
    Kind,
    Unkind,
}

/// The selectable behaviour variants, all in one place.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Variants {
    pub sparse_io_metrics: bool,
    pub recovery_point_status: RecoveryPointDoneStatus,
    pub delete_order: DeleteOrder,
    pub delete_with_source_down: SourceDownDelete,
    pub plan_execution_reads: PlanExecutionReads,
    /// How late a witness reports a change, before its metric's minute and
    /// the alarm's evaluation add theirs: a Route 53 check at the fast 10 s
    /// interval with a failure threshold of 3 (as docs/deploy.md sets it up)
    /// says so after about 30 s. How soon its status reaches CloudWatch is not
    /// documented: the unkind variant gives it another 30 s.
    pub witness_delay_seconds: f64,
    /// Whether a replication PAUSED for a permission says which one. AWS
    /// documents only the start of the message ("Authorization error.
    /// Permissions issues prevent Amazon EFS from performing replication"):
    /// the unkind variant says no more than that.
    pub paused_names_the_permission: bool,
}

impl Default for Variants {
    fn default() -> Self {
        Variants {
            sparse_io_metrics: false,
            recovery_point_status: Default::default(),
            delete_order: Default::default(),
            delete_with_source_down: Default::default(),
            plan_execution_reads: Default::default(),
            witness_delay_seconds: 30.0,
            paused_names_the_permission: true,
        }
    }
}

impl Variants {
    pub fn of(profile: Profile) -> Variants {
        match profile {
            Profile::Kind => Variants::default(),
            Profile::Unkind => Variants {
                sparse_io_metrics: true,
                recovery_point_status: RecoveryPointDoneStatus::Available,
                delete_order: DeleteOrder::SourceFirst,
                delete_with_source_down: SourceDownDelete::AcceptAndHang,
                plan_execution_reads: PlanExecutionReads::StartingRegion,
                witness_delay_seconds: 60.0,
                paused_names_the_permission: false,
            },
        }
    }
}

/// Eventual consistency is a duration: the unkind profile turns it on.
pub const UNKIND_DESCRIBE_LAG: f64 = 5.0;
