//! `efs-dr drill`: a whole disaster and recovery against the embedded
//! emulator, through the same code, SDK calls and SNS wiring as in AWS.

use crate::error::{CliError, CliResult};
use crate::invoke::{self, Invocation, Log};
use efs_dr_aws::{AwsContext, AwsSettings};
use efs_dr_emulator::{ClockMode, EmulatorConfig, FaultUpdate, ReplicationFault};
use efs_dr_shared::domain::config::{AlarmPolicy, Config, PairConfig, WitnessAlarm};
use efs_dr_shared::domain::ids::{FileSystemRef, RegionName};
use efs_dr_shared::domain::time::iso8601;
use efs_dr_shared::domain::time::Backoff;
use efs_dr_shared::workflows::failback::{self, FailbackRequest};
use efs_dr_shared::workflows::lag_alarm as lag;
use efs_dr_testkit::alarm_path;
use efs_dr_testkit::{FileCopy, Kit};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SOURCE: &str = "us-east-1";
const DR: &str = "us-west-2";

pub struct DrillOptions {
    pub time_scale: f64,
    pub json: bool,
    /// The source in a production account, the replica and the functions in
    /// the DR account (the emulator's home account).
    pub cross_account: bool,
}

struct Drill {
    kit: Kit,
    started: Instant,
    json: bool,
    timeline: Vec<Value>,
}

impl Drill {
    fn say(&mut self, step: &str, detail: impl Into<String>) {
        let detail = detail.into();
        let now = self.kit.emu.shared.now();
        let elapsed = self.started.elapsed().as_secs_f64();
        if !self.json {
            println!(
                "[{elapsed:6.1} s | {}] {step}: {detail}",
                &iso8601(now)[11..19]
            );
        }
        self.timeline.push(json!({"real_seconds": (elapsed * 10.0).round() / 10.0, "emulated_time": iso8601(now), "step": step, "detail": detail}));
    }

    fn faults(&self, v: Value) -> CliResult<()> {
        let update: FaultUpdate =
            serde_json::from_value(v).map_err(|e| CliError::Drill(e.to_string()))?;
        self.kit
            .emu
            .shared
            .set_faults(&update)
            .map_err(CliError::Drill)
    }

    fn write(&self, region: &str, fs: &str, path: &str) -> CliResult<f64> {
        Ok(self
            .kit
            .write(region, fs, path, &format!("content of {path}"))?)
    }
}

async fn until<F, Fut>(what: &str, timeout: Duration, mut check: F) -> CliResult<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(CliError::TimedOut(what.to_string()))
}

fn invocations(log: &Log, function: &str) -> Vec<Invocation> {
    log.lock()
        .map(|l| {
            l.iter()
                .filter(|i| i.function == function)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

pub async fn run(opts: DrillOptions) -> CliResult<bool> {
    let kit = Kit::start(EmulatorConfig {
        clock: ClockMode::Scaled {
            scale: opts.time_scale,
        },
        ..Default::default()
    })
    .await?;
    let sdk = kit.sdk.clone();
    let mut d = Drill {
        kit,
        started: Instant::now(),
        json: opts.json,
        timeline: Vec::new(),
    };
    let scale = opts.time_scale;
    // Poll about every 20 emulated seconds.
    let poll = Duration::from_secs(20);
    // The workflows' waits and the SDK's back-offs run on the emulator's
    // clock, so that each costs the emulated time it would cost in AWS.
    let settings = AwsSettings {
        attempt_timeout: Duration::from_secs(2),
        operation_timeout: Duration::from_secs(10),
        source_timeout: Duration::from_millis(600),
        max_attempts: 4,
        time_scale: scale,
    };
    let aws = AwsContext::from_sdk_config(sdk.clone(), settings);
    d.say(
        "emulator",
        format!(
            "{} serving us-east-1 and us-west-2, time x{scale}",
            d.kit.emu.url()
        ),
    );

    // The protected pair: in one account, or across two as
    // deploy/source-account.yaml and the EFS guide set them up.
    let (src, dst, source_ref) = if opts.cross_account {
        use efs_dr_testkit::accounts as xa;
        let pair = d
            .kit
            .cross_account_pair("drill-primary", &xa::Setup::default())
            .await?;
        d.say(
            "accounts",
            format!(
                "the primary in production ({}), the replica and efs-dr in the DR account ({}); failback assumes {} with its external ID",
                xa::PRODUCTION,
                xa::DR_ACCOUNT,
                xa::PRODUCTION_ROLE
            ),
        );
        (pair.source, pair.replica, pair.source_arn)
    } else {
        let east = d.kit.efs(SOURCE);
        let src = efs_dr_testkit::create_file_system(&east, "drill-primary").await?;
        until("the primary", Duration::from_secs(30), || async {
            d.kit.protection(SOURCE, &src).await.is_some()
                && d.kit
                    .emu
                    .shared
                    .world()
                    .file_system(SOURCE, &src)
                    .is_some_and(|f| f.life_cycle == efs_dr_emulator::model::LifeCycle::Available)
        })
        .await?;
        let dst = efs_dr_testkit::replicate_to_new(&east, &src, DR).await?;
        (src.clone(), dst, src)
    };
    for i in 1..=5 {
        d.write(SOURCE, &src, &format!("/orders/{i:03}.json"))?;
    }
    d.say(
        "setup",
        format!("primary {src} ({SOURCE}) replicating to {dst} ({DR}); 5 files written"),
    );
    until("the initial sync", Duration::from_secs(60), || async {
        d.kit.last_replicated(DR, &dst).await.is_some()
    })
    .await?;
    d.say("setup", "initial sync complete: the replica is a full copy");
    // Steady state before the probe starts: the initial sync's recovery
    // point is old by the time it completes, and a probe that saw that lag
    // would learn it as the pair's cadence.
    let initial = d.kit.last_replicated(DR, &dst).await;
    until(
        "the first sync after the initial one",
        Duration::from_secs(60),
        || async { d.kit.last_replicated(DR, &dst).await > initial },
    )
    .await?;

    // DR-side wiring, as the SAM template creates it.
    let dr = RegionName::parse(DR).map_err(CliError::Id)?;
    let topics = alarm_path::create_topics(&sdk, &dr).await?;
    let (alerts, requests) = (
        topics.alerts_topic_arn.clone(),
        topics.failover_topic_arn.clone(),
    );
    let alarm_name = alarm_path::lag_alarm_name(&dst);
    // The witness: a canary in a third Region on the application using the source.
    let witness = d.kit.witness(SOURCE).await?;
    let config = Config {
        pairs: vec![PairConfig {
            source_file_system_id: FileSystemRef::parse(&source_ref).map_err(CliError::Id)?,
            source_region: Some(RegionName::parse(SOURCE).map_err(CliError::Id)?),
            destination_file_system_id: Some(FileSystemRef::parse(&dst).map_err(CliError::Id)?),
            destination_region: None,
            mount_targets: None,
        }],
        destination_region: Some(RegionName::parse(DR).map_err(CliError::Id)?),
        source_region: Some(RegionName::parse(SOURCE).map_err(CliError::Id)?),
        alerts_topic_arn: Some(alerts.clone()),
        failover_topic_arn: Some(requests.clone()),
        alarm_policy: AlarmPolicy::AutoFailover,
        witness_alarm: Some(WitnessAlarm::parse(&witness).map_err(CliError::Id)?),
        alarm_min_seconds: 120.0,
        watched_alarms: vec![alarm_name.clone()],
        backoff: Backoff {
            initial: poll,
            max: poll * 3,
        },
        margin: poll,
        backup_role_arn: Some(efs_dr_testkit::BACKUP_ROLE.into()),
        // The template's detector: 3 source probes a minute, confirmed after 2 minutes.
        detector: Default::default(),
        ..Config::default()
    };
    let config = if opts.cross_account {
        use efs_dr_testkit::accounts as xa;
        Config {
            source_account_role: Some(efs_dr_shared::domain::config::AssumedRole {
                arn: xa::PRODUCTION_ROLE.into(),
                account: efs_dr_shared::domain::ids::AccountId::parse(xa::PRODUCTION)
                    .map_err(CliError::Id)?,
                external_id: Some(xa::EXTERNAL_ID.into()),
            }),
            replication_role_arn: Some(xa::DR_REPLICATION_ROLE.into()),
            source_replication_role_arn: Some(xa::SOURCE_REPLICATION_ROLE.into()),
            source_backup_role_arn: Some(xa::SOURCE_BACKUP_ROLE.into()),
            ..config
        }
    } else {
        config
    };
    // As the failback function starts: with the production role when one is configured.
    let aws = aws.for_config(Some(&config)).await;
    let log: Log = Default::default();
    let endpoint = invoke::serve(aws.clone(), config.clone(), log.clone()).await?;
    d.kit.emu.shared.set_lambda_endpoint(Some(endpoint));
    let account_id = d.kit.emu.shared.world().account_id.clone();
    alarm_path::connect(&sdk, &dr, &account_id, &topics, &src, &dst).await?;
    d.say(
        "wiring",
        format!("region detector in the probe (3 source probes a minute, confirmed after 120 s, witness {witness}) and alarm {alarm_name} (lag > 900 s for 3 min) -> {alerts}; policy auto_failover"),
    );

    // The probe runs every emulated minute from the DR Region (the run itself
    // takes 40 s of it: three source probes 20 s apart).
    let probe = {
        let (aws, config) = (aws.clone(), config.clone());
        tokio::spawn(async move {
            loop {
                let started = Instant::now();
                let _ = lag::probe(&aws, &config).await;
                let minute = Duration::from_secs_f64(60.0 / scale);
                tokio::time::sleep(minute.saturating_sub(started.elapsed())).await;
            }
        })
    };

    // Business as usual, then the Region fails mid-stream.
    for i in 6..=8 {
        d.write(SOURCE, &src, &format!("/orders/{i:03}.json"))?;
    }
    tokio::time::sleep(Duration::from_secs_f64(150.0 / scale)).await;
    let last_write = d.write(SOURCE, &src, "/orders/009.json")?;
    d.kit
        .emu
        .shared
        .set_replication_fault(&src, ReplicationFault::Stalled)
        .map_err(CliError::Drill)?;
    d.faults(json!({"region": SOURCE, "outage": true}))?;
    let failed_at = d.kit.emu.shared.now();
    d.say(
        "DISASTER",
        format!(
            "{SOURCE} is unreachable; replication stalled; the last write was at {}",
            iso8601(last_write)
        ),
    );

    until(
        "the automatic failover",
        Duration::from_secs_f64((3600.0 / scale).max(20.0)),
        || async {
            d.kit.protection(DR, &dst).await.as_deref() == Some("ENABLED")
                && invocations(&log, "failover")
                    .iter()
                    .any(|i| i.result.as_ref().is_ok_and(|v| v["status"] == "completed"))
        },
    )
    .await?;
    let writable_at = d.kit.emu.shared.now();
    probe.abort();
    for i in invocations(&log, "lag-alarm-handler") {
        if let Ok(v) = &i.result {
            for dec in v["decisions"].as_array().into_iter().flatten() {
                let line = format!(
                    "{} - {}",
                    dec["decision"].as_str().unwrap_or("?"),
                    dec["reason"].as_str().unwrap_or("")
                );
                d.say("lag-alarm-handler", line);
            }
        }
    }
    let failover_result = invocations(&log, "failover")
        .into_iter()
        .filter_map(|i| i.result.ok())
        .find(|v| v["status"] == "completed")
        .unwrap_or(Value::Null);
    let report = &failover_result["results"][0];
    let rp = &report["recovery_point"];
    let lrt = rp["last_replicated_epoch"].as_f64().unwrap_or(0.0);
    d.say(
        "failover",
        format!(
            "{} promoted ({}); recovery point {} s (last replicated {})",
            dst,
            report["deletion_mode"].as_str().unwrap_or("?"),
            rp["recovery_point_seconds"],
            rp["last_replicated_timestamp"].as_str().unwrap_or("?")
        ),
    );
    let rto = writable_at - failed_at;
    let decided_at = d
        .kit
        .emu
        .shared
        .world()
        .messages
        .iter()
        .find(|m| m.topic_arn == requests)
        .map(|m| m.time);
    let detection = decided_at.map(|t| t - failed_at);
    d.say(
        "recovery",
        format!(
            "the failure was detected {} s and the replica took writes {rto:.0} s (emulated) after the Region failed (targets: 240 s and 480 s)",
            detection.map(|t| format!("{t:.0}")).unwrap_or_else(|| "?".into())
        ),
    );

    // Work goes on in the DR Region.
    for i in 1..=4 {
        d.write(DR, &dst, &format!("/orders/dr-{i:03}.json"))?;
    }
    d.say("outage", "4 files written on the promoted replica");

    // The Region comes back; fail back keeping those writes.
    d.faults(json!({"region": SOURCE, "outage": false}))?;
    d.say("recovery", format!("{SOURCE} is back"));
    // As an operator would: look before failing back. CloudWatch needs a few
    // minutes of the original's metrics (client connections, writes) to judge.
    tokio::time::sleep(Duration::from_secs_f64(180.0 / scale)).await;
    let request = FailbackRequest::from_json(json!({
        "original_file_system_id": source_ref, "original_region": SOURCE, "replica_file_system_id": dst, "replica_region": DR,
        "mode": "execute", "strategy": "keep_changes", "cutover": true, "reason": "drill"
    }))?;
    let fb = failback::run(&aws, &config, &request, None).await?;
    let fb_report = &fb.results[0];
    for s in &fb_report.timeline {
        d.say(
            "failback",
            format!(
                "{} ({:?}, {} ms): {}",
                s.name, s.outcome, s.duration_ms, s.detail
            ),
        );
    }
    d.say(
        "failback",
        format!(
            "{:?} in {:.0} s (emulated)",
            fb_report.status, fb_report.duration_seconds
        ),
    );

    // Every acknowledged write, judged by its content (sequence number): on the
    // primary, preserved in a recovery point, or lost.
    let preserved = &fb_report.preserved;
    let mut copies = Vec::new();
    for p in preserved {
        copies.push((
            p.recovery_point_arn.clone(),
            d.kit.recovery_point_files(&p.recovery_point_arn).await?,
        ));
    }
    let home = d.kit.file_system_files(SOURCE, &src).await?;
    let world = d.kit.emu.shared.world();
    let writes = world.writes.clone();
    let replica_ok = world
        .replications
        .iter()
        .any(|r| r.source_file_system_id == src && r.destination_file_system_id == dst);
    drop(world);
    let recovery_point_known = rp["last_replicated_epoch"].is_number();
    let judged: Vec<JudgedWrite> = writes
        .iter()
        .map(|w| judge(w, &writes, &home, &copies, &src, lrt, failed_at))
        .collect();
    let count = |c: Class| judged.iter().filter(|j| j.class == c).count();
    for j in judged.iter().filter(|j| j.class == Class::Preserved) {
        d.say(
            "verdict",
            format!("preserved: {} (write {}) in {}", j.path, j.seq, j.place),
        );
    }
    for j in judged
        .iter()
        .filter(|j| matches!(j.class, Class::LostWithin | Class::Lost | Class::Stale))
    {
        d.say(
            "verdict",
            format!(
                "{}: {} (write {}, {})",
                j.class.as_str(),
                j.path,
                j.seq,
                j.place
            ),
        );
    }
    for p in preserved {
        d.say(
            "verdict",
            format!(
                "restore the preserved writes of {} beside the live data: {}",
                p.file_system_id, p.restore_command
            ),
        );
    }
    let ok = count(Class::Lost) == 0
        && count(Class::Stale) == 0
        && recovery_point_known
        && replica_ok
        && fb.status == efs_dr_shared::run::report::Status::Completed;
    let verdict = if ok {
        format!(
            "PASS: {} writes on the original, {} superseded there by newer ones, {} preserved in a recovery point, {} lost within the stated recovery point, 0 beyond it; {src} -> {dst} replicating again",
            count(Class::OnPrimary),
            count(Class::Superseded),
            count(Class::Preserved),
            count(Class::LostWithin)
        )
    } else {
        format!(
            "FAIL: {} lost beyond the recovery point, {} stale versions on the primary, recovery point known: {recovery_point_known}; topology restored: {replica_ok}; failback {:?}",
            count(Class::Lost),
            count(Class::Stale),
            fb.status
        )
    };
    d.say("verdict", verdict.clone());
    if opts.json {
        let out = json!({
            "verdict": if ok { "pass" } else { "fail" },
            "summary": verdict,
            "recovery_point_seconds": rp["recovery_point_seconds"],
            "recovery_time_seconds": rto,
            "detection_seconds": detection,
            "writes": judged.iter().map(|j| json!({"path": j.path, "seq": j.seq, "class": j.class.as_str(), "where": j.place})).collect::<Vec<_>>(),
            "preserved": preserved,
            "real_seconds": d.started.elapsed().as_secs_f64(),
            "timeline": d.timeline,
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        println!(
            "\nFailure to writable: {rto:.0} s (emulated; detected after {} s)   Recovery point: {} s   Drill took {:.1} s",
            detection.map(|t| format!("{t:.0}")).unwrap_or_else(|| "?".into()),
            rp["recovery_point_seconds"],
            d.started.elapsed().as_secs_f64()
        );
    }
    Ok(ok)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    OnPrimary,
    /// A later acknowledged write to the same path is what the primary holds.
    Superseded,
    Preserved,
    LostWithin,
    Lost,
    /// The primary holds an older version than this acknowledged write.
    Stale,
}

impl Class {
    fn as_str(self) -> &'static str {
        match self {
            Class::OnPrimary => "on the primary",
            Class::Superseded => "superseded on the primary",
            Class::Preserved => "preserved",
            Class::LostWithin => "lost within the stated recovery point",
            Class::Lost => "LOST",
            Class::Stale => "STALE",
        }
    }
}

struct JudgedWrite {
    path: String,
    seq: u64,
    class: Class,
    place: String,
}

fn judge(
    w: &efs_dr_emulator::model::WriteRecord,
    all: &[efs_dr_emulator::model::WriteRecord],
    primary: &[FileCopy],
    copies: &[(String, Vec<FileCopy>)],
    original: &str,
    last_replicated: f64,
    failed_at: f64,
) -> JudgedWrite {
    let on_primary = primary.iter().find(|f| f.path == w.path);
    let newer_acknowledged = |seq: u64| {
        all.iter()
            .any(|o| o.path == w.path && o.seq == seq && o.seq > w.seq)
    };
    let (class, place) = match on_primary {
        Some(f) if f.seq == w.seq => (Class::OnPrimary, "the original".to_string()),
        Some(f) if newer_acknowledged(f.seq) => (Class::Superseded, format!("by write {}", f.seq)),
        Some(f) if f.seq < w.seq => (Class::Stale, format!("the original holds write {}", f.seq)),
        _ => match copies
            .iter()
            .find(|(_, files)| files.iter().any(|f| f.path == w.path && f.seq == w.seq))
        {
            Some((arn, _)) => (Class::Preserved, arn.clone()),
            None if w.file_system_id == original
                && w.time >= last_replicated
                && w.time <= failed_at =>
            {
                (Class::LostWithin, format!("written at {}", iso8601(w.time)))
            }
            None => (
                Class::Lost,
                format!("written to {} at {}", w.file_system_id, iso8601(w.time)),
            ),
        },
    };
    JudgedWrite {
        path: w.path.clone(),
        seq: w.seq,
        class,
        place,
    }
}
