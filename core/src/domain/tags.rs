//! Tags the workflows write on file systems, so that later runs and other
//! functions (cool-downs, discovery after a crash) can see what happened.

pub const ROLE: &str = "efs-dr:role";
pub const ROLE_PRIMARY: &str = "primary";
pub const ROLE_REPLICA: &str = "replica";
/// `fs-…@region` of the source a replica was promoted from.
pub const FAILOVER_SOURCE: &str = "efs-dr:failover-source";
/// LastReplicatedTimestamp read before promotion (epoch seconds).
pub const RECOVERY_POINT: &str = "efs-dr:recovery-point";
/// When the promotion was requested (epoch seconds).
pub const PROMOTED_AT: &str = "efs-dr:promoted-at";
pub const FAILOVER_COMPLETED_AT: &str = "efs-dr:failover-completed-at";
pub const FAILBACK_COMPLETED_AT: &str = "efs-dr:failback-completed-at";
/// Set when a failover deleted only the destination side (LOCAL_CONFIGURATION_ONLY):
/// the configuration left in the source Region must be deleted before failback.
pub const SOURCE_CLEANUP_NEEDED: &str = "efs-dr:source-cleanup-needed";
/// `FAILURE_START SENT_AT`: when the failure an automatic failover was
/// requested for began (the alarm's StateChangeTime, or the region
/// detector's first failed probe) and when the request went out. A repeated
/// or older delivery of the same failure is ignored, and a request not yet
/// answered by a failover blocks a second one.
pub const FAILOVER_REQUESTED_AT: &str = "efs-dr:failover-requested-at";
/// Written on the original before the reverse replication is deleted: the
/// cutover has begun (value: the cutover mark), or `none` once failback is done.
pub const FAILBACK_CUTOVER_AT: &str = "efs-dr:failback-cutover-at";
/// The value of a tag that records "nothing": no recovery point, no cutover under way.
pub const NONE: &str = "none";
/// The AWS Backup recovery point that holds what a file system alone held
/// before efs-dr let replication overwrite it.
pub const PRESERVED_RECOVERY_POINT: &str = "efs-dr:preserved-recovery-point";
/// `ALARM_NAME STATE_CHANGE_TIME DECISION` of the last alarm notification sent
/// about a pair: the same state change and decision is not announced twice.
pub const LAST_NOTIFIED: &str = "efs-dr:last-notified";
/// When failback opened a file system for overwrite (epoch seconds): the
/// overwrite itself waits until CloudWatch covers that minute.
pub const OPENED_FOR_OVERWRITE_AT: &str = "efs-dr:opened-for-overwrite-at";
/// `SINCE COUNT`: the first failed probe of the source Region since it last
/// answered (epoch seconds) and how many probes have failed in a row, or
/// `none` while it answers. The detector's memory between probe runs.
pub const SOURCE_UNREACHABLE_SINCE: &str = "efs-dr:source-unreachable-since";
/// Present on a replica: a maintenance window, no automatic failover (a
/// person is still told).
pub const MAINTENANCE: &str = "efs-dr:maintenance";
/// `SOURCE_REGION SINCE DECISION` of the region detector's last page about a
/// pair (apart from the alarm path's `LAST_NOTIFIED`, so that neither
/// overwrites the other's memory and pages again).
pub const DETECTOR_NOTIFIED: &str = "efs-dr:detector-notified";
