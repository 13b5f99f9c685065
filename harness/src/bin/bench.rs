//! efs-dr-bench: cold start, memory, package size, failover timing and fleet
//! failover under throttling, against the emulator, side by side with the
//! seeds' Python failover Lambda. Writes results.json, results.md and plot.svg.

use efs_dr_aws::{AwsContext, AwsSettings};
use efs_dr_harness::error::{HarnessError, HarnessResult};
use efs_dr_harness::{scaled_emulator, FunctionRuntime};
use efs_dr_shared::domain::config::Config;
use efs_dr_shared::domain::ids::RegionName;
use efs_dr_shared::domain::time::Backoff;
use efs_dr_shared::run::report::Status;
use efs_dr_shared::workflows::failover::{self, FailoverRequest};
use efs_dr_testkit::Kit;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use efs_dr_shared::workflows::functions::FUNCTIONS;

struct Args {
    out: PathBuf,
    bin_dir: PathBuf,
    python: Option<PathBuf>,
    baseline: PathBuf,
    runs: usize,
    fleet: Vec<usize>,
    probe_pairs: Vec<usize>,
    only: Option<Vec<String>>,
}

const SECTIONS: [&str; 6] = [
    "cold-start",
    "package-size",
    "failover",
    "fleet",
    "baseline-outage",
    "probe",
];

impl Args {
    fn wants(&self, section: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|s| s == section))
    }
}

fn args() -> HarnessResult<Args> {
    let mut a = Args {
        out: PathBuf::from("bench/out"),
        bin_dir: efs_dr_harness::target_bin_dir(),
        python: None,
        baseline: PathBuf::from("bench/baseline"),
        runs: 5,
        fleet: vec![1, 10, 100, 500],
        probe_pairs: vec![1, 50, 500],
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--out" => a.out = PathBuf::from(value()?),
            "--bin-dir" => a.bin_dir = PathBuf::from(value()?),
            "--python" => a.python = Some(PathBuf::from(value()?)),
            "--baseline" => a.baseline = PathBuf::from(value()?),
            "--runs" => a.runs = value()?.parse().map_err(|_| "--runs needs a number")?,
            "--only" => {
                let sections: Vec<String> = value()?.split(',').map(str::to_string).collect();
                if let Some(bad) = sections.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                    return Err(HarnessError::Usage(format!("--only: unknown section {bad}; choose from {}", SECTIONS.join(","))));
                }
                a.only = Some(sections);
            }
            "--fleet" => a.fleet = value()?.split(',').map(|n| n.parse().map_err(|_| "--fleet needs numbers like 1,10,100")).collect::<Result<_, _>>()?,
            other => return Err(HarnessError::Usage(format!("unknown argument {other}; usage: efs-dr-bench [--out DIR] [--bin-dir DIR] [--python PATH] [--baseline DIR] [--runs N] [--fleet 1,10,100,500] [--only SECTION,...]"))),
        }
    }
    Ok(a)
}

async fn emulator(scale: f64) -> Kit {
    scaled_emulator(scale).await.expect("emulator starts")
}

/// Replicated pairs, past their initial sync.
async fn replicated_pairs(emu: &Kit, n: usize, tag: &str) -> Vec<(String, String)> {
    emu.replicated_pairs(n, tag)
        .await
        .expect("replicated pairs")
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// One cold start: spawn, wait for the first event request, answer one event.
async fn cold_start(
    name: &str,
    program: &Path,
    args: &[&str],
    env: &[(String, String)],
    event: Value,
) -> HarnessResult<(f64, f64, f64, Value)> {
    let f = FunctionRuntime::start(name, program, args, env)
        .await
        .map_err(|e| format!("{name}: {e}"))?;
    let outcome = f.invoke(event).await;
    let t = f.timings();
    let rss = f.peak_rss_kib().unwrap_or(0) as f64 / 1024.0;
    f.stop().await;
    let (spawned, next, response) = (
        t.spawned.ok_or("no spawn")?,
        t.first_next.ok_or("no init")?,
        t.first_response.ok_or("no response")?,
    );
    let answer = outcome.unwrap_or_else(|e| json!({"error": e}));
    Ok((
        ms(next - spawned),
        ms(response - spawned),
        (rss * 10.0).round() / 10.0,
        answer,
    ))
}

async fn bench_cold_starts(a: &Args) -> HarnessResult<Value> {
    let emu = emulator(600.0).await;
    let pairs = replicated_pairs(&emu, 1, "cold").await;
    let (src, dst) = pairs[0].clone();
    let pair_json = json!([{"source_file_system_id": src, "source_region": "us-east-1", "destination_file_system_id": dst}]).to_string();
    let env = emu.function_env(&[
        ("EFS_DR_PAIRS", pair_json),
        ("EFS_DR_SOURCE_REGION", "us-east-1".into()),
    ]);
    let events = [
        (
            "failover",
            json!({"source_file_system_id": src, "source_region": "us-east-1", "destination_file_system_id": dst, "destination_region": "us-west-2", "mode": "plan"}),
        ),
        (
            "failback",
            json!({"original_file_system_id": src, "original_region": "us-east-1", "replica_file_system_id": dst, "replica_region": "us-west-2", "mode": "plan"}),
        ),
        (
            "mount-target-ensure",
            json!({"file_system_id": dst, "region": "us-west-2", "mode": "plan"}),
        ),
        (
            "lag-alarm-handler",
            json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}),
        ),
    ];
    let mut rows = Vec::new();
    for (name, event) in events {
        let program = a.bin_dir.join(name);
        let (mut init, mut first, mut rss) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..a.runs {
            let (i, f, r, _) = cold_start(name, &program, &[], &env, event.clone()).await?;
            init.push(i);
            first.push(f);
            rss.push(r);
        }
        rows.push(json!({"function": name, "runtime": "rust (provided.al2023)", "init_ms": median(init), "first_response_ms": median(first), "peak_rss_mib": rss.iter().cloned().fold(0.0, f64::max)}));
    }
    if let Some(python) = &a.python {
        // The seeds' Python failover Lambda, under awslambdaric and boto3; it changes state, so a fresh pair each run.
        let baseline = a
            .baseline
            .canonicalize()
            .map_err(|e| format!("baseline dir: {e}"))?;
        let (mut init, mut first, mut rss) = (Vec::new(), Vec::new(), Vec::new());
        let mut last = Value::Null;
        for run in 0..a.runs {
            let pair = replicated_pairs(&emu, 1, &format!("py-{run}")).await;
            let subnets: Vec<String> = emu
                .emu
                .shared
                .world()
                .region("us-west-2")
                .map(|r| r.subnets.iter().map(|s| s.id.clone()).collect())
                .unwrap_or_default();
            let sg = emu
                .emu
                .shared
                .world()
                .region("us-west-2")
                .map(|r| r.security_groups[0].id.clone())
                .unwrap_or_default();
            let event = json!({"source_file_system_id": pair[0].0, "source_region": "us-east-1", "dest_region": "us-west-2", "dest_subnets": subnets[..2], "dest_security_group": sg});
            let penv = [
                env.clone(),
                vec![("PYTHONPATH".to_string(), baseline.display().to_string())],
            ]
            .concat();
            let (i, f, r, answer) = cold_start(
                "seed-failover",
                python,
                &["-m", "awslambdaric", "seed_failover.failover_efs"],
                &penv,
                event,
            )
            .await?;
            init.push(i);
            first.push(f);
            rss.push(r);
            last = answer;
        }
        rows.push(json!({"function": "seed failover (Python 3.11, boto3)", "runtime": "python (awslambdaric)", "init_ms": median(init), "first_response_ms": median(first), "peak_rss_mib": rss.iter().cloned().fold(0.0, f64::max), "answer": last}));
    }
    Ok(Value::Array(rows))
}

fn package_sizes(a: &Args) -> Value {
    let mut rows = Vec::new();
    for name in FUNCTIONS {
        let path = a.bin_dir.join(name);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let _ = enc.write_all(&bytes);
        let compressed = enc.finish().map(|v| v.len()).unwrap_or(0);
        rows.push(json!({"function": name, "binary_mib": (bytes.len() as f64 / 1048576.0 * 100.0).round() / 100.0, "deflated_mib": (compressed as f64 / 1048576.0 * 100.0).round() / 100.0}));
    }
    Value::Array(rows)
}

/// One failover through the release binary: run-to-completion, then step mode.
async fn bench_failover(a: &Args) -> HarnessResult<Value> {
    // Low enough that a millisecond of real call latency is not magnified into seconds.
    let scale = 20.0;
    let poll_emulated = 5.0;
    let emu = emulator(scale).await;
    let subnets: Vec<String> = emu
        .emu
        .shared
        .world()
        .region("us-west-2")
        .map(|r| r.subnets.iter().map(|s| s.id.clone()).collect())
        .unwrap_or_default();
    let mts = json!([{"subnet_id": subnets[0]}, {"subnet_id": subnets[1]}]);
    let poll_ms = (poll_emulated / scale * 1000.0).round().to_string();
    let env = emu.function_env(&[("EFS_DR_POLL_MS", poll_ms)]);
    let step_env = emu.function_env(&[("EFS_DR_POLL_MS", (poll_emulated * 1000.0).to_string())]);
    let program = a.bin_dir.join("failover");
    let durations = efs_dr_emulator::Durations::default();
    // Mount targets are created while the promotion runs: AWS's part is the longer of the two.
    let aws_part = durations
        .replication_delete
        .max(durations.mount_target_create);
    let runs = a.runs.max(1);
    let (mut to_done, mut overhead, mut step_overhead, mut billed_step) =
        (vec![], vec![], vec![], vec![]);
    let (mut calls, mut passes, mut step_calls) = (vec![], vec![], vec![]);
    for run in 0..runs {
        let pairs = replicated_pairs(&emu, 2, &format!("timing{run}")).await;
        let event = |pair: &(String, String), step: bool| {
            let mut e = json!({"source_file_system_id": pair.0, "source_region": "us-east-1", "destination_file_system_id": pair.1, "destination_region": "us-west-2", "mode": "execute", "mount_targets": mts});
            if step {
                e["run_mode"] = json!("step");
            }
            e
        };

        // Run to completion: the Lambda waits (and is billed) for the whole promotion.
        let f = FunctionRuntime::start("failover", &program, &[], &env).await?;
        let calls_before = emu.emu.shared.calls().len();
        let t0 = emu.emu.shared.now();
        let out = f.invoke(event(&pairs[0], false)).await?;
        let emulated_run = emu.emu.shared.now() - t0;
        calls.push((emu.emu.shared.calls().len() - calls_before) as f64);
        f.stop().await;
        if out["status"] != "completed" {
            return Err(HarnessError::Run(format!(
                "failover did not complete: {out}"
            )));
        }
        to_done.push(emulated_run);
        overhead.push(emulated_run - aws_part);

        // Step mode: Step Functions waits what each pass asks; only the passes are billed.
        // The function does not sleep here, so its poll interval stays in emulated seconds.
        let f = FunctionRuntime::start("failover", &program, &[], &step_env).await?;
        let mut billed = Duration::ZERO;
        let mut n = 0;
        let step_start = emu.emu.shared.now();
        let step_calls_before = emu.emu.shared.calls().len();
        loop {
            let t = Instant::now();
            let out = f.invoke(event(&pairs[1], true)).await?;
            billed += t.elapsed();
            n += 1;
            if out["done"] == true || n > 500 {
                break;
            }
            // As the state machine does: the whole seconds asked for, 10 s if absent.
            let wait = out["wait_seconds"].as_f64().unwrap_or(10.0);
            tokio::time::sleep(Duration::from_secs_f64(wait / scale)).await;
        }
        step_overhead.push(emu.emu.shared.now() - step_start - aws_part);
        billed_step.push(billed.as_secs_f64());
        passes.push(n as f64);
        step_calls.push((emu.emu.shared.calls().len() - step_calls_before) as f64);
        f.stop().await;
    }
    let max = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max);
    let r1 = |x: f64| (x * 10.0).round() / 10.0;
    let backoff = efs_dr_shared::domain::time::Backoff::default();
    Ok(json!({
        "time_scale": scale,
        "runs": runs,
        "poll_interval_seconds": poll_emulated,
        "poll_interval_max_seconds": poll_emulated * backoff.max.as_secs_f64() / backoff.initial.as_secs_f64(),
        "trigger_to_writable_and_mounted_seconds": r1(median(to_done.clone())),
        "aws_transition_seconds": aws_part,
        "overhead_seconds": r1(median(overhead.clone())),
        "overhead_seconds_max": r1(max(&overhead)),
        "step_mode_overhead_seconds": r1(median(step_overhead.clone())),
        "step_mode_overhead_seconds_max": r1(max(&step_overhead)),
        "aws_api_calls": median(calls) as u64,
        "billed_run_to_completion_seconds": r1(median(to_done)),
        "billed_step_mode_seconds": (median(billed_step) * 1000.0).round() / 1000.0,
        "step_mode_passes": median(passes) as u64,
        "step_mode_aws_api_calls": median(step_calls) as u64,
    }))
}

/// Fleet failover against a throttled EFS in the DR Region.
async fn bench_fleet(a: &Args) -> HarnessResult<Value> {
    let rate = 200.0;
    let mut rows = Vec::new();
    for &n in &a.fleet {
        let emu = emulator(1000.0).await;
        let pairs = replicated_pairs(&emu, n, &format!("fleet{n}")).await;
        emu.emu.shared.set_faults(&serde_json::from_value(
            json!({"region": "us-west-2", "throttle": {"rate": rate, "burst": 20.0}}),
        )?)?;
        let ctx = AwsContext::from_sdk_config(
            emu.sdk.clone(),
            AwsSettings {
                attempt_timeout: Duration::from_secs(5),
                operation_timeout: Duration::from_secs(60),
                source_timeout: Duration::from_millis(500),
                max_attempts: 10,
                ..AwsSettings::default()
            },
        );
        let config = Config {
            destination_region: Some(RegionName::parse("us-west-2")?),
            concurrency: 50,
            backoff: Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_millis(600),
            },
            ..Config::default()
        };
        let request = FailoverRequest::from_json(json!({
            "mode": "execute", "source_region": "us-east-1", "destination_region": "us-west-2",
            "pairs": pairs.iter().map(|(s, d)| json!({"source_file_system_id": s, "destination_file_system_id": d})).collect::<Vec<_>>()
        }))?;
        let calls_before = emu.emu.shared.calls().len();
        let t = Instant::now();
        // As in Lambda: a 15-minute deadline, within which throttled calls are retried.
        let summary =
            failover::run(&ctx, &config, &request, Some(Duration::from_secs(900))).await?;
        let elapsed = t.elapsed().as_secs_f64();
        let calls: Vec<_> = emu
            .emu
            .shared
            .calls()
            .into_iter()
            .skip(calls_before)
            .filter(|c| c.region == "us-west-2")
            .collect();
        let served = calls
            .iter()
            .filter(|c| c.error_code.as_deref() != Some("ThrottlingException"))
            .count();
        let throttled = calls.len() - served;
        let optimum = served as f64 / rate;
        // Promotion alone takes this long however fast the calls go.
        let promotion = efs_dr_emulator::Durations::default().replication_delete / 1000.0;
        let lower_bound = optimum.max(promotion);
        let failed = summary
            .results
            .iter()
            .filter(|r| r.status != Status::Completed)
            .count();
        for r in summary
            .results
            .iter()
            .filter(|r| r.status != Status::Completed)
            .take(3)
        {
            eprintln!("  not completed: {:?} {:?}", r.status, r.error);
        }
        rows.push(json!({
            "file_systems": n, "rate_per_second": rate, "seconds": (elapsed * 100.0).round() / 100.0,
            "calls_served": served, "calls_throttled": throttled, "optimum_seconds": (optimum * 100.0).round() / 100.0,
            "ratio_to_optimum": ((elapsed / optimum.max(0.001)) * 100.0).round() / 100.0,
            "lower_bound_seconds": (lower_bound * 100.0).round() / 100.0,
            "ratio_to_lower_bound": ((elapsed / lower_bound.max(0.001)) * 100.0).round() / 100.0, "failed": failed,
        }));
        eprintln!("fleet {n}: {elapsed:.1} s, optimum {optimum:.1} s, {failed} failed");
    }
    Ok(Value::Array(rows))
}

/// The probe run's wall time with the source Region blackholed, at each fleet
/// size, against the lag-alarm-handler's 120 s timeout: the run that pages
/// every pair (plans attached to the first ten), then a steady one. Real
/// time, production timeouts (a call into the silent Region waits its 3 s);
/// the emulator's clock is moved by hand, so only the run's own waits and
/// calls count.
async fn bench_probe(a: &Args) -> HarnessResult<Value> {
    use efs_dr_shared::domain::config::{AlarmPolicy, PairConfig, WitnessAlarm};
    use efs_dr_shared::domain::ids::FileSystemRef;
    use efs_dr_shared::workflows::lag_alarm;
    const TIMEOUT: Duration = Duration::from_secs(120);
    let mut rows = Vec::new();
    for &n in &a.probe_pairs {
        let kit = Kit::start(efs_dr_emulator::EmulatorConfig::manual()).await?;
        let pairs = replicated_pairs(&kit, n, &format!("probe{n}")).await;
        let west = RegionName::parse("us-west-2")?;
        let topics = efs_dr_testkit::alarm_path::create_topics(&kit.sdk, &west).await?;
        let witness = kit.witness("us-east-1").await?;
        let config = Config {
            pairs: pairs
                .iter()
                .map(|(s, d)| {
                    Ok(PairConfig {
                        source_file_system_id: FileSystemRef::parse(s)?,
                        source_region: Some(RegionName::parse("us-east-1")?),
                        destination_file_system_id: Some(FileSystemRef::parse(d)?),
                        destination_region: None,
                        mount_targets: None,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?,
            destination_region: Some(west.clone()),
            source_region: Some(RegionName::parse("us-east-1")?),
            alerts_topic_arn: Some(topics.alerts_topic_arn.clone()),
            failover_topic_arn: Some(topics.failover_topic_arn.clone()),
            alarm_policy: AlarmPolicy::Notify,
            witness_alarm: Some(WitnessAlarm::parse(&witness)?),
            ..Config::default()
        };
        // The Region is gone and has been for 10 minutes: the witness says so,
        // and every replica's mark says silent since then.
        kit.emu.shared.set_faults(&serde_json::from_value(
            json!({"region": "us-east-1", "outage": true, "outage_mode": "blackhole"}),
        )?)?;
        kit.advance(600.0);
        let since = kit.emu.shared.now() - 600.0;
        for (_, d) in &pairs {
            kit.efs("us-west-2")
                .tag_resource()
                .resource_id(d)
                .tags(
                    aws_sdk_efs::types::Tag::builder()
                        .key("efs-dr:source-unreachable-since")
                        .value(format!("{since:.3} 4"))
                        .build()
                        .map_err(|e| HarnessError::Run(e.to_string()))?,
                )
                .send()
                .await
                .map_err(|e| HarnessError::Run(e.to_string()))?;
        }
        let ctx = AwsContext::from_sdk_config(kit.sdk.clone(), AwsSettings::default());
        let mut runs = Vec::new();
        for run in ["paging every pair", "steady"] {
            let before = kit.emu.shared.world().messages.len();
            let t = Instant::now();
            let out = lag_alarm::probe_within(&ctx, &config, Some(TIMEOUT)).await?;
            let seconds = t.elapsed().as_secs_f64();
            let pages = kit.emu.shared.world().messages.len() - before;
            eprintln!(
                "probe {n} pairs, {run}: {seconds:.1} s, status {}, {pages} messages",
                out["status"]
            );
            runs.push(json!({
                "run": run,
                "seconds": (seconds * 10.0).round() / 10.0,
                "status": out["status"],
                "skipped": out["skipped"].as_array().map(Vec::len).unwrap_or(0),
                "messages": pages,
            }));
        }
        rows.push(json!({"pairs": n, "timeout_seconds": TIMEOUT.as_secs(), "runs": runs}));
    }
    Ok(Value::Array(rows))
}

/// The seeds' Lambda with the source Region down: what it does and reports.
async fn baseline_outage(a: &Args) -> HarnessResult<Value> {
    let Some(python) = &a.python else {
        return Ok(Value::Null);
    };
    let emu = emulator(100.0).await;
    let pair = replicated_pairs(&emu, 1, "outage").await;
    emu.emu.shared.set_faults(&serde_json::from_value(
        json!({"region": "us-east-1", "outage": true}),
    )?)?;
    let baseline = a.baseline.canonicalize()?;
    let env = [
        emu.function_env(&[]),
        vec![("PYTHONPATH".to_string(), baseline.display().to_string())],
    ]
    .concat();
    let subnets: Vec<String> = emu
        .emu
        .shared
        .world()
        .region("us-west-2")
        .map(|r| r.subnets.iter().map(|s| s.id.clone()).collect())
        .unwrap_or_default();
    let f = FunctionRuntime::start(
        "seed-failover",
        python,
        &["-m", "awslambdaric", "seed_failover.failover_efs"],
        &env,
    )
    .await?;
    let t = Instant::now();
    let outcome = f.invoke(json!({"source_file_system_id": pair[0].0, "source_region": "us-east-1", "dest_region": "us-west-2", "dest_subnets": subnets[..1], "dest_security_group": "sg-05372000000000001"})).await;
    let seconds = t.elapsed().as_secs_f64();
    f.stop().await;
    let protection = emu
        .efs("us-west-2")
        .describe_file_systems()
        .file_system_id(&pair[0].1)
        .send()
        .await
        .ok()
        .and_then(|o| {
            o.file_systems()
                .first()?
                .file_system_protection()?
                .replication_overwrite_protection()
                .map(|p| p.as_str().to_string())
        });
    // And ours, in the same situation.
    let ours = FunctionRuntime::start(
        "failover",
        &a.bin_dir.join("failover"),
        &[],
        &emu.function_env(&[("EFS_DR_POLL_MS", "50".into())]),
    )
    .await?;
    let t = Instant::now();
    let our_outcome = ours.invoke(json!({"source_file_system_id": pair[0].0, "source_region": "us-east-1", "destination_file_system_id": pair[0].1, "destination_region": "us-west-2", "mode": "execute"})).await;
    let our_seconds = t.elapsed().as_secs_f64();
    ours.stop().await;
    Ok(json!({
        "seed": {"seconds": (seconds * 10.0).round() / 10.0, "outcome": outcome.unwrap_or_else(|e| e), "replica_protection_after": protection},
        "efs_dr": {"seconds": (our_seconds * 10.0).round() / 10.0, "status": our_outcome.as_ref().map(|v| v["status"].clone()).unwrap_or(Value::Null),
            "deletion_mode": our_outcome.as_ref().map(|v| v["results"][0]["deletion_mode"].clone()).unwrap_or(Value::Null)},
    }))
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
        c.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
    });
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines().next().map(|l| {
            l.split_whitespace()
                .nth(1)
                .unwrap_or("0")
                .parse::<f64>()
                .unwrap_or(0.0)
                / 1048576.0
        })
    });
    json!({"cpu": cpu, "cores": cores, "memory_gib": mem.map(|m| m.round()), "arch": std::env::consts::ARCH, "os": std::env::consts::OS})
}

fn bar_chart(title: &str, unit: &str, bars: &[(String, f64)], x: f64, y: f64) -> String {
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1e-9);
    let mut s = format!("<text x='{x}' y='{y}' font-size='15' font-weight='bold'>{title}</text>");
    for (i, (label, v)) in bars.iter().enumerate() {
        let by = y + 15.0 + i as f64 * 26.0;
        let w = 360.0 * v / max;
        s.push_str(&format!(
            "<text x='{x}' y='{}' font-size='12'>{label}</text><rect x='{}' y='{by}' width='{w:.1}' height='18' fill='{}'/><text x='{}' y='{}' font-size='12'>{v:.1} {unit}</text>",
            by + 13.0,
            x + 230.0,
            if label.contains("Python") || label.contains("seed") || label.contains("optimum") { "#c0504d" } else { "#4f81bd" },
            x + 236.0 + w,
            by + 13.0
        ));
    }
    s
}

fn render(results: &Value) -> (String, String) {
    let mut md = String::from(
        "| function | init (ms) | first response (ms) | peak RSS (MiB) |\n|---|---:|---:|---:|\n",
    );
    let mut cold = Vec::new();
    for r in results["cold_start"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r["function"].as_str().unwrap_or(""),
            r["init_ms"],
            r["first_response_ms"],
            r["peak_rss_mib"]
        ));
        cold.push((
            r["function"].as_str().unwrap_or("").to_string(),
            r["init_ms"].as_f64().unwrap_or(0.0),
        ));
    }
    md.push_str(
        "\n| function | release binary (MiB) | deflate-compressed (MiB) |\n|---|---:|---:|\n",
    );
    for r in results["package_size"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "| {} | {} | {} |\n",
            r["function"].as_str().unwrap_or(""),
            r["binary_mib"],
            r["deflated_mib"]
        ));
    }
    let f = &results["failover"];
    md.push_str(&format!(
        "\nOne failover (emulated AWS durations at x{} time, median of {} runs): trigger to writable and mounted {} s, of which AWS transitions {} s and efs-dr overhead {} s (max {} s) run-to-completion, polling every {} s growing x1.5 to {} s; in step mode (Step Functions waits the {} s each pass asks) overhead {} s (max {} s); {} AWS API calls run-to-completion, {} in step mode; billed {} s run-to-completion vs {} s in step mode ({} passes).\n",
        f["time_scale"], f["runs"], f["trigger_to_writable_and_mounted_seconds"], f["aws_transition_seconds"], f["overhead_seconds"], f["overhead_seconds_max"], f["poll_interval_seconds"], f["poll_interval_max_seconds"], f["poll_interval_seconds"], f["step_mode_overhead_seconds"], f["step_mode_overhead_seconds_max"], f["aws_api_calls"], f["step_mode_aws_api_calls"], f["billed_run_to_completion_seconds"], f["billed_step_mode_seconds"], f["step_mode_passes"]
    ));
    md.push_str("\n| file systems | seconds | throttle optimum (s) | ratio | lower bound incl. promotion (s) | ratio | calls served | throttled | failed |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let mut fleet = Vec::new();
    for r in results["fleet"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r["file_systems"],
            r["seconds"],
            r["optimum_seconds"],
            r["ratio_to_optimum"],
            r["lower_bound_seconds"],
            r["ratio_to_lower_bound"],
            r["calls_served"],
            r["calls_throttled"],
            r["failed"]
        ));
        fleet.push((
            format!("{} file systems", r["file_systems"]),
            r["ratio_to_lower_bound"].as_f64().unwrap_or(0.0),
        ));
    }
    md.push_str("\n| pairs | run | wall time (s) | of the timeout (s) | status | skipped | messages |\n|---:|---|---:|---:|---|---:|---:|\n");
    for r in results["probe"].as_array().into_iter().flatten() {
        for run in r["runs"].as_array().into_iter().flatten() {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                r["pairs"],
                run["run"].as_str().unwrap_or(""),
                run["seconds"],
                r["timeout_seconds"],
                run["status"].as_str().unwrap_or(""),
                run["skipped"],
                run["messages"]
            ));
        }
    }
    let height = 60.0 + 26.0 * (cold.len() + fleet.len()) as f64 + 80.0;
    let svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='760' height='{height}' font-family='sans-serif'><rect width='100%' height='100%' fill='white'/>{}{}</svg>\n",
        bar_chart("Cold start: init time", "ms", &cold, 10.0, 25.0),
        bar_chart("Fleet failover: time / lower bound (throttle or promotion)", "x", &fleet, 10.0, 70.0 + 26.0 * cold.len() as f64)
    );
    (md, svg)
}

/// A section's figures, or why there are none (the other sections still run).
fn record(results: &mut Value, key: &str, outcome: HarnessResult<Value>) {
    match outcome {
        Ok(v) => results[key] = v,
        Err(e) => eprintln!("{key}: {e}"),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // A partial run (--only) updates its sections of the results already there.
    let previous = a
        .only
        .as_ref()
        .and_then(|_| std::fs::read_to_string(a.out.join("results.json")).ok())
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .filter(Value::is_object);
    let mut results = previous.unwrap_or_else(|| json!({}));
    results["machine"] = machine();
    if a.wants("cold-start") {
        eprintln!("cold starts…");
        record(&mut results, "cold_start", bench_cold_starts(&a).await);
    }
    if a.wants("package-size") {
        results["package_size"] = package_sizes(&a);
    }
    if a.wants("failover") {
        eprintln!("one failover…");
        record(&mut results, "failover", bench_failover(&a).await);
    }
    if a.wants("fleet") {
        eprintln!("fleet failover…");
        record(&mut results, "fleet", bench_fleet(&a).await);
    }
    if a.wants("probe") {
        eprintln!("probe runs with the source Region blackholed…");
        record(&mut results, "probe", bench_probe(&a).await);
    }
    if a.wants("baseline-outage") {
        eprintln!("baseline with the source Region down…");
        record(
            &mut results,
            "source_region_down",
            baseline_outage(&a).await,
        );
    }
    let (md, svg) = render(&results);
    if let Err(e) = std::fs::create_dir_all(&a.out) {
        eprintln!("error: {}: {e}", a.out.display());
        return std::process::ExitCode::FAILURE;
    }
    let written = std::fs::write(
        a.out.join("results.json"),
        serde_json::to_string_pretty(&results).unwrap_or_default(),
    )
    .and_then(|_| std::fs::write(a.out.join("results.md"), &md))
    .and_then(|_| std::fs::write(a.out.join("plot.svg"), &svg));
    if let Err(e) = written {
        eprintln!("error: writing results: {e}");
        return std::process::ExitCode::FAILURE;
    }
    println!("{md}");
    std::process::ExitCode::SUCCESS
}
