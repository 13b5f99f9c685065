//! The Backup subset against a world in memory: idempotency, validation,
//! the job lifecycle through the agenda, recovery points, and the
//! DataWriteIOBytes writes feed (dense and sparse).

use super::jobs::{describe_backup_job, start_backup_job};
use super::vaults::create_backup_vault;
use crate::config::Seed;
use crate::error::ApiError;
use crate::world::backup::{ForcedOutcome, JobState, RecoveryPointState};
use crate::world::metrics::MetricId;
use crate::world::model::{FileSystem, LifeCycle, Protection, World};
use serde_json::{json, Value};

const REGION: &str = "us-east-1";
const FS: &str = "fs-0123456789abcdef0";
const START: f64 = 1_795_276_800.0;

fn world() -> World {
    let mut w = World::new(&Seed::default_topology(), START, 7);
    let fs = FileSystem {
        id: FS.into(),
        arn: w.fs_arn(REGION, &w.account_id, FS),
        owner: w.account_id.clone(),
        policy: None,
        creation_token: "t".into(),
        creation_time: START,
        life_cycle: LifeCycle::Available,
        transition_at: None,
        performance_mode: "generalPurpose".into(),
        throughput_mode: "bursting".into(),
        provisioned_throughput: None,
        encrypted: true,
        kms_key_id: None,
        availability_zone: None,
        tags: vec![("Name".into(), "data".into())],
        protection: Protection::Enabled,
        protection_enable_at: None,
        files: Default::default(),
        connected_clients: 0,
        write_io: Default::default(),
    };
    w.region_mut(REGION).file_systems.insert(FS.into(), fs);
    w
}

fn request(token: &str) -> Value {
    json!({
        "BackupVaultName": "Default",
        "ResourceArn": format!("arn:aws:elasticfilesystem:{REGION}:123456789012:file-system/{FS}"),
        "IamRoleArn": "arn:aws:iam::123456789012:role/backup",
        "IdempotencyToken": token,
    })
}

fn body(reply: &crate::http::Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap_or(Value::Null)
}

fn start(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    start_backup_job(w, REGION, req).map(|r| body(&r))
}

fn describe(w: &mut World, id: &str) -> Value {
    describe_backup_job(w, REGION, id)
        .map(|r| body(&r))
        .unwrap_or(Value::Null)
}

fn code(e: ApiError) -> (String, u16) {
    (e.code, e.status)
}

#[test]
fn the_same_token_and_parameters_give_the_same_job() {
    let mut w = world();
    let first = start(&mut w, &request("tok-1")).unwrap();
    w.advance_to(START + 30.0);
    let again = start(&mut w, &request("tok-1")).unwrap();
    assert_eq!(first, again);
    assert_eq!(w.region_mut(REGION).backup.jobs.len(), 1);
    // The same token with other parameters is refused, not a second job.
    let mut other = request("tok-1");
    other["StartWindowMinutes"] = json!(120);
    let e = start(&mut w, &other).unwrap_err();
    assert_eq!(code(e), ("InvalidRequestException".into(), 400));
    // Another token is another job.
    let second = start(&mut w, &request("tok-2")).unwrap();
    assert_ne!(first["BackupJobId"], second["BackupJobId"]);
    assert_eq!(w.region_mut(REGION).backup.jobs.len(), 2);
}

#[test]
fn start_backup_job_validates_like_the_model() {
    let mut w = world();
    let with = |k: &str, v: Value| {
        let mut r = request("t");
        r[k] = v;
        r
    };
    let cases = [
        (
            with("BackupVaultName", json!("nope-vault")),
            "ResourceNotFoundException",
        ),
        (
            with("BackupVaultName", json!("x")),
            "InvalidParameterValueException",
        ),
        (
            with(
                "ResourceArn",
                json!(format!(
                    "arn:aws:elasticfilesystem:{REGION}:123456789012:file-system/fs-00000000"
                )),
            ),
            "ResourceNotFoundException",
        ),
        (
            with(
                "ResourceArn",
                json!(format!(
                    "arn:aws:elasticfilesystem:us-west-2:123456789012:file-system/{FS}"
                )),
            ),
            "InvalidParameterValueException",
        ),
        (
            with(
                "ResourceArn",
                json!(format!(
                    "arn:aws-cn:elasticfilesystem:{REGION}:123456789012:file-system/{FS}"
                )),
            ),
            "InvalidParameterValueException",
        ),
        (
            with("ResourceArn", json!("fs-1")),
            "InvalidParameterValueException",
        ),
        (
            with("IamRoleArn", json!("role")),
            "InvalidParameterValueException",
        ),
        (
            with("IamRoleArn", json!("")),
            "MissingParameterValueException",
        ),
        (
            with("StartWindowMinutes", json!(59)),
            "InvalidParameterValueException",
        ),
        (
            with("StartWindowMinutes", json!("60")),
            "InvalidRequestException",
        ),
        (
            with("CompleteWindowMinutes", json!(0)),
            "InvalidParameterValueException",
        ),
        (
            with("RecoveryPointTags", json!({"aws:x": "y"})),
            "InvalidParameterValueException",
        ),
    ];
    for (req, want) in cases {
        let e = start(&mut w, &req).unwrap_err();
        assert_eq!(code(e), (want.to_string(), 400), "{req}");
    }
    let mut no_vault = request("t");
    no_vault
        .as_object_mut()
        .map(|o| o.remove("BackupVaultName"));
    assert_eq!(
        start(&mut w, &no_vault).unwrap_err().code,
        "MissingParameterValueException"
    );
    assert!(w.region_mut(REGION).backup.jobs.is_empty());
}

#[test]
fn a_job_completes_with_the_files_as_of_completion() {
    let mut w = world();
    w.write(REGION, FS, "/a", "one", None).unwrap();
    let started = start(&mut w, &request("t")).unwrap();
    let id = started["BackupJobId"].as_str().unwrap_or("").to_string();
    let rp = started["RecoveryPointArn"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(rp.starts_with("arn:aws:backup:us-east-1:123456789012:recovery-point:"));
    assert_eq!(describe(&mut w, &id)["State"], "CREATED");
    w.advance_to(START + 150.0);
    let running = describe(&mut w, &id);
    assert_eq!(
        (running["State"].as_str(), running["PercentDone"].as_str()),
        (Some("RUNNING"), Some("37.5"))
    );
    // Written while the job runs: in the recovery point, which is taken at completion.
    w.write(REGION, FS, "/b", "two!", None).unwrap();
    w.advance_to(START + 300.0);
    let done = describe(&mut w, &id);
    assert_eq!(done["State"], "COMPLETED");
    assert_eq!(done["PercentDone"], "100.0");
    assert_eq!(done["BackupSizeInBytes"], 7);
    assert_eq!(done["CompletionDate"], START + 300.0);
    assert_eq!(done["ResourceType"], "EFS");
    assert_eq!(done["ResourceName"], "data");
    w.write(REGION, FS, "/c", "after", None).unwrap();
    let point = &w.region_mut(REGION).backup.recovery_points[&rp];
    assert_eq!(point.state, RecoveryPointState::Done);
    let paths: Vec<&String> = point.files.keys().collect();
    assert_eq!(paths, ["/a", "/b"]);
    // The next backup transfers only what changed.
    let next = start(&mut w, &request("t2")).unwrap();
    w.advance_to(START + 700.0);
    let next = describe(&mut w, next["BackupJobId"].as_str().unwrap_or(""));
    assert_eq!(
        (next["State"].as_str(), next["BackupSizeInBytes"].as_i64()),
        (Some("COMPLETED"), Some(5))
    );
}

#[test]
fn forced_outcomes_and_outages_end_jobs_without_a_recovery_point() {
    let mut w = world();
    let (_, pending) = w
        .force_backup_outcomes(None, FS, ForcedOutcome::Failed, 1)
        .unwrap();
    assert_eq!(pending, [ForcedOutcome::Failed]);
    let failed = start(&mut w, &request("f")).unwrap();
    w.advance_to(START + 300.0);
    let j = describe(&mut w, failed["BackupJobId"].as_str().unwrap_or(""));
    assert_eq!(j["State"], "FAILED");
    assert!(j["StatusMessage"]
        .as_str()
        .is_some_and(|m| m.contains("backup-fault")));
    let rp = failed["RecoveryPointArn"].as_str().unwrap_or("");
    assert!(!w.region_mut(REGION).backup.recovery_points.contains_key(rp));
    // The queue is used up: the next job completes.
    let ok = start(&mut w, &request("ok")).unwrap();
    w.advance_to(START + 600.0);
    assert_eq!(
        describe(&mut w, ok["BackupJobId"].as_str().unwrap_or(""))["State"],
        "COMPLETED"
    );
    // An outage while a job runs fails it at once.
    let doomed = start(&mut w, &request("down")).unwrap();
    w.advance_to(START + 700.0);
    w.region_mut(REGION).faults.outage = true;
    w.fail_backup_jobs_for_outage(REGION);
    w.region_mut(REGION).faults.outage = false;
    let j = describe(&mut w, doomed["BackupJobId"].as_str().unwrap_or(""));
    assert_eq!(
        (j["State"].as_str(), j["CompletionDate"].as_f64()),
        (Some("FAILED"), Some(START + 700.0))
    );
    // An outage at completion time fails it too.
    let late = start(&mut w, &request("late")).unwrap();
    w.region_mut(REGION).faults.outage = true;
    w.advance_to(START + 1100.0);
    w.region_mut(REGION).faults.outage = false;
    let late = &w.region_mut(REGION).backup.jobs[late["BackupJobId"].as_str().unwrap_or("")];
    assert_eq!(late.state, JobState::Failed);
    assert!(w
        .force_backup_outcomes(None, "fs-99999999", ForcedOutcome::Aborted, 1)
        .is_err());
}

#[test]
fn vaults_are_created_once_and_default_exists() {
    let mut w = world();
    let dup = create_backup_vault(&mut w, REGION, "Default", &json!({})).unwrap_err();
    assert_eq!(code(dup.clone()), ("AlreadyExistsException".into(), 400));
    assert!(dup
        .extra
        .iter()
        .any(|(k, v)| k == "Arn" && v.ends_with(":backup-vault:Default")));
    let made =
        create_backup_vault(&mut w, REGION, "v1", &json!({"CreatorRequestId": "r1"})).unwrap();
    let retry =
        create_backup_vault(&mut w, REGION, "v1", &json!({"CreatorRequestId": "r1"})).unwrap();
    assert_eq!(body(&made), body(&retry));
    assert_eq!(
        create_backup_vault(&mut w, REGION, "v1", &json!({}))
            .unwrap_err()
            .code,
        "AlreadyExistsException"
    );
    let cn = create_backup_vault(&mut w, "cn-north-1", "v1", &json!({})).unwrap();
    assert_eq!(
        body(&cn)["BackupVaultArn"],
        "arn:aws-cn:backup:cn-north-1:123456789012:backup-vault:v1"
    );
}

fn write_bytes(w: &World) -> Vec<(f64, f64)> {
    let id = MetricId {
        namespace: "AWS/EFS".into(),
        metric_name: "DataWriteIOBytes".into(),
        dimensions: vec![("FileSystemId".into(), FS.into())],
    };
    w.region(REGION)
        .map(|r| r.metrics.buckets(&id, START, START + 600.0, 60.0))
        .unwrap_or_default()
        .into_iter()
        .map(|(t, a)| (t - START, a.sum))
        .collect()
}

#[test]
fn data_write_io_bytes_is_published_every_minute_or_sparsely() {
    for sparse in [false, true] {
        let mut w = world();
        w.variants.sparse_io_metrics = sparse;
        w.advance_to(START + 65.0);
        w.write(REGION, FS, "/a", "12345", None).unwrap();
        w.write(REGION, FS, "/b", "", None).unwrap();
        w.advance_to(START + 190.0);
        let want = if sparse {
            vec![(60.0, 6.0)]
        } else {
            vec![(0.0, 0.0), (60.0, 6.0), (120.0, 0.0)]
        };
        assert_eq!(write_bytes(&w), want, "sparse={sparse}");
    }
}
