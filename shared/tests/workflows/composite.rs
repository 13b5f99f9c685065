//! Composite faults: what the region detector must get right when more than
//! one thing is wrong at once, or when it is itself interrupted. Beside the
//! false-alarm suite (`detection`), under both emulator profiles. Each
//! scenario names the rule it holds:
//!
//! - never fail over a Region that may be alive (a witness outside both
//!   Regions vetoes; doubt leaves it to a person);
//! - never drop a real failover silently (a crash, a refusal, a queue).

use crate::common;
use crate::detection::{
    apply, collapsed, messages, minutes, minutes_on, outage, setup, verdicts, Setup, Step,
};

use common::*;
use efs_dr_shared::domain::config::PairConfig;
use efs_dr_shared::domain::error::AwsErrorKind;
use efs_dr_shared::domain::ids::FileSystemRef;
use efs_dr_shared::domain::ports::Clock as _;
use efs_dr_shared::testing::MutationBudget;
use efs_dr_shared::workflows::failover;
use efs_dr_testkit::THIRD;
use serde_json::{json, Value};

fn promoted(w: &World, s: &Setup) -> bool {
    w.emu
        .shared
        .world()
        .file_system(WEST, &s.dst)
        .is_some_and(|f| f.tags.iter().any(|(k, _)| k == "efs-dr:promoted-at"))
}

fn subjects(w: &World, s: &Setup, from: usize) -> Vec<String> {
    messages(w, &s.alerts, from)
        .into_iter()
        .map(|(subject, _)| subject)
        .collect()
}

fn no_failover(w: &World, s: &Setup, from: usize, runs: &[(f64, Value)]) {
    let requests = messages(w, &s.requests, from);
    assert!(
        requests.is_empty() && !promoted(w, s),
        "a Region that may be alive was failed over: {requests:?}; verdicts {}",
        collapsed(&verdicts(runs))
    );
}

async fn healthy_pair(token: &str) -> (World, Setup, usize) {
    let w = world().await;
    let s = setup(&w, token).await;
    minutes(&w, &s, 20).await;
    let from = w.emu.shared.world().messages.len();
    (w, s, from)
}

fn api_outage() -> Step {
    Step::Faults(json!({"region": EAST, "outage": true, "outage_services": ["elasticfilesystem"]}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_only_outage_during_a_long_sync_is_not_a_lost_region() {
    let (w, s, from) = healthy_pair("api-long-sync").await;
    // 2 GiB: a sync of about 17 emulated minutes, longer than the pair has ever taken.
    apply(&w, &s, &Step::Burst(2 << 30)).await;
    apply(&w, &s, &Step::Advance(90.0)).await;
    apply(&w, &s, &api_outage()).await;
    let before = w.kit.last_replicated(WEST, &s.dst).await;
    let runs = minutes(&w, &s, 25).await;
    no_failover(&w, &s, from, &runs);
    let told = subjects(&w, &s, from);
    let vetoed: Vec<&String> = told
        .iter()
        .filter(|t| t.contains("but it serves"))
        .collect();
    assert_eq!(
        vetoed.len(),
        1,
        "told once that the source serves: {told:?}"
    );
    // The data plane went on: the long sync completed during the API outage.
    let after = w.emu.shared.world().replications[0].last_replicated;
    assert!(
        after > before,
        "replication kept running: {before:?} -> {after:?}"
    );
    assert_eq!(w.protection(WEST, &s.dst).await, "REPLICATING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_between_the_regions_is_not_a_lost_region() {
    let (w, s, from) = healthy_pair("partition").await;
    w.faults(json!({"region": EAST, "partitioned_from": [WEST]}));
    let runs = minutes(&w, &s, 12).await;
    // The source serves its own clients all along.
    w.write(EAST, &s.src, "/during-partition.txt", "still serving");
    no_failover(&w, &s, from, &runs);
    let told = subjects(&w, &s, from);
    assert!(
        told.iter().any(|t| t.contains("but it serves")),
        "the person hears of the partition: {told:?}"
    );
    assert!(
        verdicts(&runs).iter().any(|v| v == "vetoed"),
        "{}",
        collapsed(&verdicts(&runs))
    );
}

/// The page a person gets when the loss cannot be confirmed: no request,
/// one page that says why and carries the commands.
fn paged_once_without_request(w: &World, s: &Setup, from: usize, runs: &[(f64, Value)], why: &str) {
    no_failover(w, s, from, runs);
    let pages: Vec<(String, String)> = messages(w, &s.alerts, from)
        .into_iter()
        .filter(|(subject, _)| subject.contains("needs a decision"))
        .collect();
    assert_eq!(
        pages.len(),
        1,
        "paged once: {pages:?}; verdicts {}",
        collapsed(&verdicts(runs))
    );
    let body = &pages[0].1;
    assert!(body.contains(why), "the page says why ({why}): {body}");
    assert!(body.contains("To fail over, plan first"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_lag_history_fails_closed() {
    let (w, s, from) = healthy_pair("no-history-read").await;
    // CloudWatch in the DR Region fails: the pair's cadence cannot be read.
    w.faults(json!({"region": WEST, "outage": true, "outage_services": ["monitoring"]}));
    apply(&w, &s, &outage()).await;
    let runs = minutes(&w, &s, 10).await;
    paged_once_without_request(&w, &s, from, &runs, "lag history cannot be read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_without_lag_history_fails_closed() {
    let w = world().await;
    let s = setup(&w, "no-history").await;
    let from = w.emu.shared.world().messages.len();
    apply(&w, &s, &outage()).await;
    let runs = minutes(&w, &s, 10).await;
    paged_once_without_request(&w, &s, from, &runs, "no lag history yet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_witness_auto_failover_runs_as_notify() {
    let w = world().await;
    let mut s = setup(&w, "no-witness").await;
    s.config.witness_alarm = None;
    minutes(&w, &s, 20).await;
    let from = w.emu.shared.world().messages.len();
    apply(&w, &s, &outage()).await;
    let runs = minutes(&w, &s, 8).await;
    paged_once_without_request(
        &w,
        &s,
        from,
        &runs,
        "runs as notify: no witness is configured",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_witness_leaves_it_to_a_person() {
    let (w, s, from) = healthy_pair("silent-witness").await;
    // The canary stops reporting (its own Region is fine): its alarm goes to
    // INSUFFICIENT_DATA, which confirms nothing.
    w.emu
        .shared
        .world()
        .set_witness(efs_dr_emulator::world::witness::WitnessRequest {
            name: format!("efs-dr-witness-{EAST}"),
            kind: Default::default(),
            region: Some(THIRD.into()),
            target_region: EAST.into(),
            watches: Default::default(),
            delay_seconds: None,
            stopped: true,
        })
        .expect("witness");
    minutes(&w, &s, 3).await;
    let from = from.max(w.emu.shared.world().messages.len());
    apply(&w, &s, &outage()).await;
    let runs = minutes(&w, &s, 8).await;
    paged_once_without_request(&w, &s, from, &runs, "INSUFFICIENT_DATA");
}

/// The minute (index into the runs after the failure) whose probe run
/// requests the failover, with nothing interrupted.
async fn deciding_minute() -> usize {
    let (w, s, from) = healthy_pair("crash-dry").await;
    apply(&w, &s, &outage()).await;
    for m in 0..10 {
        minutes(&w, &s, 1).await;
        if !messages(&w, &s.requests, from).is_empty() {
            return m;
        }
    }
    panic!("the failure was never decided");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_run_killed_at_any_call_of_its_act_step_still_leads_to_a_request() {
    let m = deciding_minute().await;
    let mut killed_at = Vec::new();
    for k in 1.. {
        let (w, s, from) = healthy_pair(&format!("crash-{k}")).await;
        apply(&w, &s, &outage()).await;
        minutes(&w, &s, m).await;
        let platform = w.platform(MutationBudget::crash_after_any(k));
        let deciding = minutes_on(&w, &s, 1, &platform).await;
        if platform.budget.count() < k {
            // The run did fewer than k mutating calls: every point was tried.
            assert!(k > 3, "the deciding run made only {} calls", k - 1);
            break;
        }
        let after = minutes(&w, &s, 3).await;
        let requests = messages(&w, &s.requests, from);
        let told = subjects(&w, &s, from);
        assert!(
            !requests.is_empty(),
            "killed at mutating call {k} of the deciding run: no failover request ever went out (told: {told:?}); the killed run: {}; after: {}",
            deciding[0].1,
            collapsed(&verdicts(&after))
        );
        assert!(
            told.iter().any(|t| t.contains("automatic failover")),
            "killed at call {k}: nobody was told: {told:?}"
        );
        killed_at.push((k, requests.len()));
    }
    println!("probe run killed at each mutating call of its deciding run (call, requests sent): {killed_at:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_then_a_real_loss_is_requested_and_paged_every_interval() {
    let (w, s, from) = healthy_pair("refused").await;
    apply(&w, &s, &outage()).await;
    for _ in 0..8 {
        minutes(&w, &s, 1).await;
        if !messages(&w, &s.requests, from).is_empty() {
            break;
        }
    }
    let first = messages(&w, &s.requests, from);
    assert_eq!(first.len(), 1, "the first failure is requested");
    // The source flaps back before the failover runs: it refuses (SourceReachable).
    w.faults(json!({"region": EAST, "outage": false}));
    let platform = w.platform(MutationBudget::default());
    let event = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": first[0].1}}]});
    let refused = failover::handle_event(&platform, &s.config, event, None).await;
    let refused_text = format!("{refused:?}");
    assert!(refused_text.contains("SourceReachable"), "{refused_text}");
    minutes(&w, &s, 2).await;
    // Then the Region is lost for good, and the failover function is not
    // running the requests (its queue is stuck): the detector must keep asking.
    let lost_from = w.emu.shared.world().messages.len();
    let lost_at = w.emu.shared.now();
    apply(&w, &s, &outage()).await;
    let runs = minutes(&w, &s, 40).await;
    let again = messages(&w, &s.requests, lost_from);
    assert!(
        again.len() >= 2,
        "the real loss is requested, and requested again while nothing happens: {again:?}; verdicts {}",
        collapsed(&verdicts(&runs))
    );
    let decided = runs
        .iter()
        .find(|(_, out)| out["detections"][0]["decision"] == "failover_requested")
        .map(|(t, _)| t - lost_at);
    assert!(
        decided.is_some_and(|d| d <= 240.0),
        "requested after {decided:?} s"
    );
    let reminders: Vec<f64> = runs
        .iter()
        .filter(|(_, out)| out["detections"][0]["decision"] == "failover_requested")
        .map(|(t, _)| *t)
        .collect();
    for pair in reminders.windows(2) {
        assert!(
            pair[1] - pair[0] >= s.config.request_timeout_seconds - 1.0,
            "asked again sooner than the interval: {reminders:?}"
        );
    }
    let told = subjects(&w, &s, lost_from);
    assert!(
        told.iter()
            .filter(|t| t.contains("requested again"))
            .count()
            >= 1,
        "each re-request is paged: {told:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_dr_side_probe_is_not_blindness() {
    let (w, s, from) = healthy_pair("dr-throttled").await;
    let failed_at = w.emu.shared.now();
    apply(&w, &s, &outage()).await;
    let platform = w.platform(MutationBudget::default());
    let mut runs = Vec::new();
    for _ in 0..6 {
        // Our own API throttles one call in each run's burst.
        platform.budget.throttle_next_probes(WEST, 1);
        runs.extend(minutes_on(&w, &s, 1, &platform).await);
        if !messages(&w, &s.requests, from).is_empty() {
            break;
        }
    }
    let decided = runs
        .iter()
        .find(|(_, out)| out["detections"][0]["decision"] == "failover_requested")
        .map(|(t, _)| t - failed_at);
    assert!(
        decided.is_some_and(|d| d <= 240.0),
        "decided after {decided:?} s; verdicts {}",
        collapsed(&verdicts(&runs))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detector_that_cannot_judge_pages_once() {
    let (w, s, from) = healthy_pair("dr-failing").await;
    apply(&w, &s, &outage()).await;
    minutes(&w, &s, 1).await;
    let platform = w.platform(MutationBudget::default());
    let mut runs = Vec::new();
    for _ in 0..8 {
        // Our own API answers 5xx to every health probe from now on.
        platform
            .budget
            .fail_next_probes(WEST, 100, AwsErrorKind::ServerError);
        runs.extend(minutes_on(&w, &s, 1, &platform).await);
    }
    no_failover(&w, &s, from, &runs);
    let told = subjects(&w, &s, from);
    assert_eq!(
        told.iter().filter(|t| t.contains("cannot judge")).count(),
        1,
        "told once that the detector is blind: {told:?}; verdicts {}",
        collapsed(&verdicts(&runs))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_overlapping_probe_runs_keep_the_earliest_silence() {
    let (w, s, from) = healthy_pair("overlap").await;
    let failed_at = w.emu.shared.now();
    apply(&w, &s, &outage()).await;
    let platform = w.platform(MutationBudget::default());
    let mut decided = None;
    for _ in 0..6 {
        let started = w.emu.shared.now();
        // Each minute's run, and a retried one that starts 30 s later and
        // overlaps it: both read the marks before either writes.
        let first = efs_dr_shared::workflows::lag_alarm::probe(&platform, &s.config);
        let second = async {
            platform
                .clock
                .sleep(std::time::Duration::from_secs(30))
                .await;
            efs_dr_shared::workflows::lag_alarm::probe(&platform, &s.config).await
        };
        let (a, b) = tokio::join!(first, second);
        for out in [a, b].into_iter().flatten() {
            if out["detections"][0]["decision"] == "failover_requested" && decided.is_none() {
                decided = Some(w.emu.shared.now() - failed_at);
            }
        }
        let next = started + 60.0 - w.emu.shared.now();
        if next > 0.0 {
            w.advance(next);
        }
    }
    let mark = w
        .tags(WEST, &s.dst)
        .await
        .into_iter()
        .find(|(k, _)| k == "efs-dr:source-unreachable-since")
        .map(|(_, v)| v);
    let since: Option<f64> = mark
        .as_deref()
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok());
    assert!(
        since.is_some_and(|t| t <= failed_at + 1.0),
        "the silence is remembered from the first run's first failed probe ({failed_at}), not the later run's: {mark:?}"
    );
    assert!(
        decided.is_some_and(|d| d <= 240.0),
        "decided after {decided:?} s"
    );
    let requests = messages(&w, &s.requests, from);
    assert!(
        (1..=2).contains(&requests.len()),
        "one request, or one per overlapping run: {requests:?}"
    );
}

/// `n` pairs of one source Region lost at once: one request (per message
/// size limit) names them all, and every replica is writable within the
/// bound. Writes the figures for the test command to print.
async fn pairs_lost_at_once(n: usize, history_minutes: usize) {
    let w = world().await;
    let token = format!("lost{n}");
    let mut s = setup(&w, &format!("{token}-main")).await;
    let pairs = w.kit.replicated_pairs(n - 1, &token).await.expect("pairs");
    for (src, dst) in &pairs {
        s.config.pairs.push(PairConfig {
            source_file_system_id: FileSystemRef::parse(src).expect("id"),
            source_region: Some(region(EAST)),
            destination_file_system_id: Some(FileSystemRef::parse(dst).expect("id")),
            destination_region: None,
            mount_targets: None,
        });
    }
    minutes(&w, &s, history_minutes).await;
    let from = w.emu.shared.world().messages.len();
    let failed_at = w.emu.shared.now();
    apply(&w, &s, &outage()).await;
    let mut decided_at = None;
    for _ in 0..8 {
        let run = minutes(&w, &s, 1).await;
        if !messages(&w, &s.requests, from).is_empty() {
            decided_at = run.last().map(|(t, _)| *t);
            break;
        }
    }
    let requests = messages(&w, &s.requests, from);
    let named: usize = requests
        .iter()
        .map(|(_, body)| {
            let request: Value = serde_json::from_str(body).expect("request JSON");
            request["pairs"].as_array().map(Vec::len).unwrap_or(1)
        })
        .sum();
    assert_eq!(
        named,
        n,
        "every pair requested once: {} messages",
        requests.len()
    );
    let most = requests.iter().map(|(_, b)| b.len()).max().unwrap_or(0);
    assert!(most <= 256 * 1024, "an SNS message of {most} bytes");
    let platform = w.platform(MutationBudget::default());
    for (_, request) in &requests {
        let event = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": request}}]});
        failover::handle_event(&platform, &s.config, event, None)
            .await
            .expect("failover");
    }
    let writable_at = w.emu.shared.now();
    let mut not_writable = Vec::new();
    for dst in std::iter::once(&s.dst).chain(pairs.iter().map(|(_, d)| d)) {
        if w.protection(WEST, dst).await != "ENABLED" {
            not_writable.push(dst.clone());
        }
    }
    assert!(
        not_writable.is_empty(),
        "not promoted: {} of {n}: {not_writable:?}",
        not_writable.len()
    );
    let decision = decided_at.map(|t| t - failed_at);
    let writable = writable_at - failed_at;
    let line = format!(
        "{n} pairs lost at once: decision after {} s, all {n} writable after {writable:.0} s, {} request message(s)\n",
        decision.map(|d| format!("{d:.0}")).unwrap_or_else(|| "NEVER".into()),
        requests.len()
    );
    let _ = std::fs::write(
        crate::detection::figures_path(&format!("detection-{n}-pairs.txt")),
        &line,
    );
    println!("{line}");
    assert!(decision.is_some_and(|d| d <= 240.0), "{line}");
    assert!(writable <= 480.0, "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_pairs_lost_at_once_are_one_request_and_all_promoted() {
    pairs_lost_at_once(20, 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_pairs_lost_at_once_are_all_promoted_within_eight_minutes() {
    pairs_lost_at_once(500, 12).await;
}

/// `n` pairs under policy notify, with their lag history, then the source
/// Region blackholed: every probe into it costs the client's timeout.
async fn silent_fleet(n: usize, token: &str) -> (World, Setup, Vec<String>, usize) {
    let w = world().await;
    let mut s = setup(&w, &format!("{token}-main")).await;
    s.config.alarm_policy = efs_dr_shared::domain::config::AlarmPolicy::Notify;
    let more = w.kit.replicated_pairs(n - 1, token).await.expect("pairs");
    for (src, dst) in &more {
        s.config.pairs.push(PairConfig {
            source_file_system_id: FileSystemRef::parse(src).expect("id"),
            source_region: Some(region(EAST)),
            destination_file_system_id: Some(FileSystemRef::parse(dst).expect("id")),
            destination_region: None,
            mount_targets: None,
        });
    }
    let replicas: Vec<String> = std::iter::once(s.dst.clone())
        .chain(more.into_iter().map(|(_, d)| d))
        .collect();
    minutes(&w, &s, 20).await;
    let from = w.emu.shared.world().messages.len();
    w.faults(json!({"region": EAST, "outage": true, "outage_mode": "blackhole"}));
    (w, s, replicas, from)
}

/// Runs the probe each minute with `timeout` as the Lambda's, each answered
/// call costing `call` seconds and each unanswered one 3 (the source
/// timeout). Returns the longest run and how many were cut short.
async fn minutes_within(w: &World, s: &Setup, n: usize, timeout: f64, call: f64) -> (f64, usize) {
    let platform = w.platform(MutationBudget::default());
    platform.clock.charge_calls(call, 3.0);
    let (mut longest, mut cut) = (0.0f64, 0);
    for _ in 0..n {
        let started = w.emu.shared.now();
        let out = efs_dr_shared::workflows::lag_alarm::probe_within(
            &platform,
            &s.config,
            Some(std::time::Duration::from_secs_f64(timeout)),
        )
        .await
        .expect("probe");
        longest = longest.max(w.emu.shared.now() - started);
        if out["status"] == "cut_short" {
            cut += 1;
        }
        let next = started + 60.0 - w.emu.shared.now();
        if next > 0.0 {
            w.advance(next);
        }
    }
    (longest, cut)
}

fn paged_once_each(w: &World, s: &Setup, from: usize, replicas: &[String]) {
    let subjects = subjects(w, s, from);
    let missing: Vec<&String> = replicas
        .iter()
        .filter(|d| subjects.iter().filter(|t| t.contains(d.as_str())).count() != 1)
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} replicas not paged exactly once: {missing:?}",
        missing.len(),
        replicas.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_run_keeps_its_deadline_with_the_source_silent_and_the_next_carries_on() {
    // The function's own timeout, calls as fast as AWS answers them (0.1 s):
    // 60 pairs paged with plans, within it.
    let (w, s, replicas, from) = silent_fleet(60, "deadline").await;
    let (longest, _) = minutes_within(&w, &s, 6, 120.0, 0.1).await;
    assert!(longest <= 120.0, "a run took {longest:.0} s of its 120");
    paged_once_each(&w, &s, from, &replicas);

    // An API so slow (3 s a call) that a run cannot do it all: runs stop in
    // time, say what they left, and the next ones carry on until every pair
    // is told.
    let (w, s, replicas, from) = silent_fleet(60, "tight").await;
    let (longest, cut) = minutes_within(&w, &s, 12, 120.0, 3.0).await;
    assert!(longest <= 120.0, "a run took {longest:.0} s of its 120");
    assert!(
        cut > 0,
        "no run had to cut short: the deadline was never tested"
    );
    paged_once_each(&w, &s, from, &replicas);
}
