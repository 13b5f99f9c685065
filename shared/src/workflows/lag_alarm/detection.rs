//! The region detector's memory and actions: the marks on the replica that
//! make one failure one request or one page, and what a lost Region leads to.
//! The judgement itself is pure and lives in `detector`.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

pub(super) fn parse_requested_mark(v: &str) -> Option<(f64, Option<f64>)> {
    let mut parts = v.split_whitespace();
    let since = parts.next()?.parse().ok()?;
    Some((since, parts.next().and_then(|t| t.parse().ok())))
}

pub(super) fn requested_mark_value(since: f64, sent_at: f64) -> String {
    format!("{since:.3} {sent_at:.3}")
}

pub(super) fn parse_unreachable_mark(v: &str) -> Option<(f64, u32)> {
    let (since, count) = v.split_once(' ')?;
    Some((since.parse().ok()?, count.parse().ok()?))
}

pub(super) fn unreachable_mark_value(s: &detector::SourceSignal) -> String {
    match s.unreachable_since {
        Some(since) => format!("{since:.3} {}", s.failed_probes),
        None => tags::NONE.to_string(),
    }
}

/// Folds this run's probes (in time order) into what earlier runs saw.
pub(super) fn fold_samples(
    previous: Option<(f64, u32)>,
    samples: &[(f64, bool)],
) -> detector::SourceSignal {
    let (mut since, mut failed) = match previous {
        Some((s, n)) => (Some(s), n),
        None => (None, 0),
    };
    for (at, answered) in samples {
        if *answered {
            since = None;
            failed = 0;
        } else {
            since.get_or_insert(*at);
            failed += 1;
        }
    }
    detector::SourceSignal {
        unreachable_since: since,
        failed_probes: failed,
    }
}

/// What to write when another run wrote the mark after this one read it
/// (`read` then, `now_stored` now): two silences are one, from the earlier
/// start; an answer this run saw (at `last_answer`) after theirs began still
/// clears theirs.
pub(super) fn merge_overlapping(
    read: Option<(f64, u32)>,
    now_stored: Option<(f64, u32)>,
    ours: detector::SourceSignal,
    last_answer: Option<f64>,
) -> detector::SourceSignal {
    match (now_stored, ours.unreachable_since) {
        (Some((theirs, n)), Some(mine))
            if now_stored != read && last_answer.is_none_or(|a| theirs > a) =>
        {
            detector::SourceSignal {
                unreachable_since: Some(theirs.min(mine)),
                failed_probes: ours.failed_probes.max(n),
            }
        }
        _ => ours,
    }
}

/// One detector record: a pair, its verdict, the signals and what was done.
#[derive(Clone, Debug, Serialize)]
pub struct Detection {
    pub source_file_system_id: FileSystemId,
    pub source_region: RegionName,
    pub destination_file_system_id: Option<FileSystemId>,
    #[serde(flatten)]
    pub judgement: detector::Judgement,
    /// failover_requested | notify | suppressed | none
    pub decision: &'static str,
}

/// What the witness alarm says now. Read once per run: it is one alarm for
/// every pair of the source Region.
pub(super) async fn witness_signal<P: Platform>(
    platform: &P,
    config: &Config,
) -> detector::WitnessSignal {
    use detector::WitnessSignal;
    let Some(w) = &config.witness_alarm else {
        return WitnessSignal::NotConfigured;
    };
    let named = format!("witness alarm {} in {}", w.name, w.region);
    match platform.metrics(&w.region).alarm(&w.name).await {
        Err(e) => WitnessSignal::Unknown {
            detail: format!("the {named} cannot be read ({e})"),
        },
        Ok(None) => WitnessSignal::Unknown {
            detail: format!("there is no {named} (EFS_DR_WITNESS_ALARM_ARN)"),
        },
        // A witness that stops reporting would then read as a lost Region.
        Ok(Some(s)) if s.treat_missing_data.as_deref() == Some("breaching") => {
            WitnessSignal::Unknown {
                detail: format!("the {named} treats missing data as breaching, so a stopped witness looks like a lost Region: set TreatMissingData to missing"),
            }
        }
        Ok(Some(s)) => match s.state.as_str() {
            "ALARM" => WitnessSignal::Down {
                since: s.since,
                detail: format!("the {named} is in ALARM since {}", iso8601(s.since)),
            },
            "OK" => WitnessSignal::Serving {
                detail: format!("the {named} is OK since {}", iso8601(s.since)),
            },
            other => WitnessSignal::Unknown {
                detail: format!("the {named} is {other} since {}", iso8601(s.since)),
            },
        },
    }
}

/// A request still being worked on: for this failure (or a later one),
/// sent within the request timeout, and no failover or failback since. Past
/// the timeout an unpromoted replica is requested again.
pub(super) fn request_pending(
    h: &PairHealth,
    failure_start: f64,
    config: &Config,
    now: f64,
) -> bool {
    h.failover_requested_at.is_some_and(|t| t >= failure_start)
        && outstanding_request(h, config, now)
}

/// Pairs per failover request: 500 pairs of about 200 bytes stay well inside
/// SNS's 256 KB per message.
const PAIRS_PER_REQUEST: usize = 500;

/// What the pairs judged side by side in one run share: the failover
/// requests to send together, and how many pages may still carry a plan.
pub(super) struct RunActs<'a> {
    pub wanted: std::sync::Mutex<Vec<Wanted<'a>>>,
    pub plans_left: AtomicUsize,
}

/// One pair a failover is requested for in this run.
pub(super) struct Wanted<'a> {
    pub health: &'a PairHealth,
    pub failure_start: f64,
    pub reason: String,
    /// Requested before for this failure and not done in time.
    pub again: bool,
}

/// Publishes one failover request for every pair in `wanted` (the `pairs`
/// form past one, so that a lost Region is one message the queue cannot
/// expire pair by pair). Each replica's mark is read again just before:
/// another probe run, or the alarm path, may have sent one since this run
/// read it. Returns the pairs requested; the caller pages, then marks them
/// (`mark_requested`): a run that dies before the mark leaves none, and the
/// next run requests and pages again (the failover is idempotent) instead of
/// going silent.
pub(super) async fn request_failovers<'a, P: Platform>(
    platform: &P,
    config: &Config,
    wanted: Vec<Wanted<'a>>,
) -> Result<Vec<Wanted<'a>>> {
    let topic = config.failover_topic_arn.clone().ok_or_else(|| {
        Error::InvalidInput(
            "policy auto_failover needs EFS_DR_FAILOVER_TOPIC_ARN (the failover-requests topic)"
                .into(),
        )
    })?;
    let now = platform.clock().now();
    // Read side by side: a Region's worth of replicas is one request.
    let fresh: Vec<Result<Option<Wanted<'a>>>> = futures_util::stream::iter(
        wanted
            .into_iter()
            .map(|w| async move {
                let Some(dest) = &w.health.destination_file_system_id else {
                    return Ok(None);
                };
                let mark = platform
                    .efs(&w.health.destination_region, CallBudget::Normal)
                    .describe_file_system(dest)
                    .await?
                    .and_then(|f| {
                        f.tag(tags::FAILOVER_REQUESTED_AT)
                            .and_then(parse_requested_mark)
                    });
                let fresh = PairHealth {
                    failover_requested_at: mark.map(|(since, _)| since),
                    failover_request_sent_at: mark.map(|(since, sent)| sent.unwrap_or(since)),
                    ..w.health.clone()
                };
                Ok((!request_pending(&fresh, w.failure_start, config, now)).then_some(w))
            })
            .collect::<Vec<_>>(),
    )
    .buffered(config.concurrency.max(1))
    .collect()
    .await;
    let mut still = Vec::new();
    for w in fresh {
        still.extend(w?);
    }
    if still.is_empty() {
        return Ok(still);
    }
    let one = |w: &Wanted| {
        json!({
            "source_file_system_id": w.health.source_file_system_id,
            "source_region": w.health.source_region,
            "destination_file_system_id": w.health.destination_file_system_id,
            "destination_region": w.health.destination_region,
        })
    };
    // One message for the whole failure, split only where SNS's 256 KB
    // limit would refuse it (a pair takes about 200 bytes).
    for chunk in still.chunks(PAIRS_PER_REQUEST) {
        let mut request = if chunk.len() == 1 {
            one(&chunk[0])
        } else {
            json!({"pairs": chunk.iter().map(one).collect::<Vec<_>>()})
        };
        request["mode"] = json!("execute");
        request["reason"] = json!(chunk[0].reason);
        // The region detector has confirmed the source silent: a full delete
        // would fail, or (as AWS may do) be accepted and hang until the Region
        // returns, and end in a local-only delete either way, minutes later.
        // Ask for the local-only delete at once; the failover still refuses it
        // (SourceReachable) if the source answers by then, and failback cleans
        // up the side left behind.
        if config.detector.enabled {
            request["deletion_mode"] = json!("LOCAL_CONFIGURATION_ONLY");
        }
        publish(
            platform,
            &Some(topic.clone()),
            "efs-dr failover request",
            &request.to_string(),
        )
        .await?;
    }
    Ok(still)
}

/// The mark that makes one failure one request: written last.
pub(super) async fn mark_requested<P: Platform>(
    platform: &P,
    config: &Config,
    sent: &[Wanted<'_>],
    now: f64,
) {
    futures_util::stream::iter(
        sent.iter()
            .filter_map(|w| w.health.destination_file_system_id.as_ref().map(|d| (w, d)))
            .map(|(w, dest)| async move {
                let mark = requested_mark_value(w.failure_start, now);
                if let Err(e) = platform
                    .efs(&w.health.destination_region, CallBudget::Normal)
                    .tag_file_system(dest, &[(tags::FAILOVER_REQUESTED_AT.to_string(), mark)])
                    .await
                {
                    // The request is out; without the mark the next run sends it again.
                    tracing::warn!(error = %e, file_system_id = %dest, "failover requested, but the mark was not written");
                }
            })
            .collect::<Vec<_>>(),
    )
    .buffer_unordered(config.concurrency.max(1))
    .collect::<Vec<()>>()
    .await;
}

/// The alarm path's single-pair request (see `request_failovers`).
pub(super) async fn request_failover<P: Platform>(
    platform: &P,
    config: &Config,
    h: &PairHealth,
    failure_start: f64,
    reason: &str,
) -> Result<bool> {
    let wanted = vec![Wanted {
        health: h,
        failure_start,
        reason: reason.to_string(),
        again: false,
    }];
    let sent = request_failovers(platform, config, wanted).await?;
    mark_requested(platform, config, &sent, platform.clock().now()).await;
    Ok(!sent.is_empty())
}

/// Judges every observed pair from this run's probes, and acts on a verdict
/// of a lost Region once per failure: one failover request for every pair
/// that gets one, pages for the rest.
pub(super) async fn detect<P: Platform>(
    platform: &P,
    config: &Config,
    results: &[PairHealth],
    samples: &BTreeMap<String, Vec<(f64, bool)>>,
    dr_region: &RegionName,
    run: &RunClock<'_, P::Clock>,
    skipped: &mut Vec<Value>,
) -> Result<Vec<Detection>> {
    let dr = dr_health(platform, dr_region).await;
    let now = platform.clock().now();
    let acts = RunActs {
        wanted: std::sync::Mutex::new(Vec::new()),
        plans_left: AtomicUsize::new(MAX_PLANS_PER_RUN),
    };
    // The cadence of every pair whose source is silent, in one metric request.
    let silent: Vec<(&PairHealth, f64)> = results
        .iter()
        .filter_map(|h| {
            let seen = samples
                .get(h.source_region.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            fold_samples(h.unreachable_mark, seen)
                .unreachable_since
                .map(|since| (h, since))
        })
        .collect();
    let mut histories: BTreeMap<&FileSystemId, std::result::Result<Option<f64>, String>> = silent
        .iter()
        .map(|(h, _)| &h.source_file_system_id)
        .zip(learned_sync_gaps(platform, dr_region, &silent).await)
        .collect();
    let work: Vec<(&PairHealth, std::result::Result<Option<f64>, String>)> = results
        .iter()
        .map(|h| {
            let history = histories
                .remove(&h.source_file_system_id)
                .unwrap_or(Ok(None));
            (h, history)
        })
        .collect();
    // Pairs side by side (their calls are independent), in order.
    let judged: Vec<std::result::Result<Detection, Value>> = futures_util::stream::iter(
        work.into_iter().map(|(h, history)| {
            let (dr, acts) = (dr.clone(), &acts);
            async move {
                // Past the deadline's reserve a pair is left for the next
                // run, which judges it from the same marks.
                if !run.has(std::time::Duration::from_secs(5)) {
                    return Err(json!({
                        "source_file_system_id": h.source_file_system_id,
                        "skipped": "not judged: the run's time was running out (the next run judges it)",
                    }));
                }
                let seen = samples
                    .get(h.source_region.as_str())
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let last_answer = seen
                    .iter()
                    .filter(|(_, answered)| *answered)
                    .map(|(t, _)| *t)
                    .reduce(f64::max);
                let mut source = fold_samples(h.unreachable_mark, seen);
                // Past the confirmation count, more failures change nothing:
                // the mark stops changing, so an outage does not cost a tag
                // write per pair per minute.
                source.failed_probes = source.failed_probes.min(config.detector.min_failed_probes);
                let (judgement, decision) = match judge_and_act(
                    platform,
                    config,
                    h,
                    &mut source,
                    dr,
                    now,
                    acts,
                    last_answer,
                    run,
                    history,
                )
                .await
                {
                    Ok(done) => done,
                    // One pair that cannot be judged must not stop the others.
                    Err(e) => {
                        tracing::error!(source_file_system_id = %h.source_file_system_id, error = %e, "region detector: one pair failed");
                        (
                            detector::Judgement {
                                verdict: detector::Verdict::Suspected,
                                signals: Vec::new(),
                                reason: format!("could not be judged this run: {e}"),
                                since: source.unreachable_since,
                            },
                            "error",
                        )
                    }
                };
                Ok(Detection {
                    source_file_system_id: h.source_file_system_id.clone(),
                    source_region: h.source_region.clone(),
                    destination_file_system_id: h.destination_file_system_id.clone(),
                    judgement,
                    decision,
                })
            }
        })
        .collect::<Vec<_>>(),
    )
        .buffered(config.concurrency.max(1))
        .collect()
        .await;
    let mut out = Vec::new();
    for j in judged {
        match j {
            Ok(d) => out.push(d),
            Err(left) => skipped.push(left),
        }
    }
    let wanted = acts.wanted.into_inner().unwrap_or_default();
    if !wanted.is_empty() {
        let sent = request_failovers(platform, config, wanted).await?;
        let sent_ids: Vec<&FileSystemId> = sent
            .iter()
            .map(|w| &w.health.source_file_system_id)
            .collect();
        for d in out.iter_mut() {
            if d.decision == "failover_requested" && !sent_ids.contains(&&d.source_file_system_id) {
                d.decision = "none";
            }
        }
        if !sent.is_empty() {
            page_requested(platform, config, &sent, &out, now).await?;
            mark_requested(platform, config, &sent, now).await;
        }
    }
    for d in &out {
        if d.judgement.verdict != detector::Verdict::Healthy {
            tracing::info!(record = %serde_json::to_string(d).unwrap_or_default(), "region detector");
        }
    }
    Ok(out)
}

/// One page for the failover requests of a run, however many pairs.
async fn page_requested<P: Platform>(
    platform: &P,
    config: &Config,
    sent: &[Wanted<'_>],
    detections: &[Detection],
    now: f64,
) -> Result<()> {
    let first = sent[0].health;
    let again = sent.iter().filter(|w| w.again).count();
    let mut body = format!(
        "The source Region {} looks lost, as seen from {} at {}.\n",
        first.source_region,
        first.destination_region,
        iso8601(now)
    );
    if let Some(d) = detections
        .iter()
        .find(|d| d.source_file_system_id == first.source_file_system_id)
    {
        body.push_str(&format!(
            "{}\n\nSignals:\n{}\n",
            d.judgement.reason,
            signals_text(&d.judgement)
        ));
    }
    body.push_str(&format!(
        "\nPolicy auto_failover: one failover request for {} pair(s) was published; the failover function is running it.\n",
        sent.len()
    ));
    if again > 0 {
        body.push_str(&format!(
            "{again} of them were requested before for this failure and are still not promoted after {:.0} s: requested again. If this repeats, fail over by hand (commands below).\n",
            config.request_timeout_seconds
        ));
    }
    for w in sent {
        body.push_str(&format!(
            "  {} ({}) -> {} ({}); by hand: {}\n",
            w.health.source_file_system_id,
            w.health.source_region,
            w.health
                .destination_file_system_id
                .as_ref()
                .map(|d| d.to_string())
                .unwrap_or_default(),
            w.health.destination_region,
            failover_command(config, w.health, "execute")
        ));
    }
    let what = if sent.len() == 1 {
        first
            .destination_file_system_id
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or_default()
    } else {
        format!("{} pairs", sent.len())
    };
    let subject = if again > 0 {
        format!(
            "efs-dr: {} still looks lost, automatic failover of {what} requested again",
            first.source_region
        )
    } else {
        format!(
            "efs-dr: {} looks lost, automatic failover of {what} started",
            first.source_region
        )
    };
    publish(platform, &config.alerts_topic_arn, &subject, &body).await
}

/// A failover plan per page makes a probe run longer (it probes the silent
/// source): in a large fleet, the first pages carry one, the rest the commands.
pub(super) const MAX_PLANS_PER_RUN: usize = 10;

#[allow(clippy::too_many_arguments)]
pub(super) async fn judge_and_act<'a, P: Platform>(
    platform: &P,
    config: &Config,
    h: &'a PairHealth,
    source: &mut detector::SourceSignal,
    dr: std::result::Result<(), String>,
    now: f64,
    acts: &RunActs<'a>,
    last_answer: Option<f64>,
    run: &RunClock<'_, P::Clock>,
    history: std::result::Result<Option<f64>, String>,
) -> Result<(detector::Judgement, &'static str)> {
    let stored = h
        .unreachable_mark
        .map(|(s, n)| format!("{s:.3} {n}"))
        .unwrap_or_else(|| tags::NONE.to_string());
    // With our own side unhealthy, new failures are not counted (they may be
    // ours), but a source that answered is always remembered.
    if dr.is_err() && source.unreachable_since.is_some() {
        *source = match h.unreachable_mark {
            Some((since, n)) => detector::SourceSignal {
                unreachable_since: Some(since),
                failed_probes: n,
            },
            None => detector::SourceSignal {
                unreachable_since: None,
                failed_probes: 0,
            },
        };
    }
    let value = unreachable_mark_value(source);
    if let Some(dest) = &h.destination_file_system_id {
        // Written when it changes only.
        if value != stored && (h.unreachable_mark.is_some() || source.unreachable_since.is_some()) {
            let efs = platform.efs(&h.destination_region, CallBudget::Normal);
            // An overlapping run (a retried one, say) may have written since
            // this one read: a silence both saw keeps its earlier start, so
            // neither run's memory erases the other's.
            let now_stored = efs.describe_file_system(dest).await?.and_then(|f| {
                f.tag(tags::SOURCE_UNREACHABLE_SINCE)
                    .and_then(parse_unreachable_mark)
            });
            *source =
                merge_overlapping(h.unreachable_mark, now_stored, source.clone(), last_answer);
            efs.tag_file_system(
                dest,
                &[(
                    tags::SOURCE_UNREACHABLE_SINCE.to_string(),
                    unreachable_mark_value(source),
                )],
            )
            .await?;
        }
    }
    let (learned, history_error) = match (source.unreachable_since, history) {
        (None, _) => (None, None),
        (Some(_), Ok(gap)) => (gap, None),
        (Some(_), Err(e)) => (None, Some(e)),
    };
    let pair = detector::PairSignal {
        status: h.status.clone(),
        last_replicated: h.last_replicated_epoch,
        learned_sync_gap: learned,
        history_error,
        maintenance: h.maintenance,
    };
    let judgement = detector::judge(now, dr, source, &pair, &h.witness, &config.detector);
    // A plan for a page only while there is time to build it.
    if !run.has(PLAN_TIME) {
        acts.plans_left.store(0, Ordering::SeqCst);
    }
    let window = crate::domain::ports::Window {
        working: h.source_region_reachable,
        answered: h.source_region_reachable,
    };
    let decision = act_on_detection(platform, config, h, &judgement, now, acts, window).await?;
    Ok((judgement, decision))
}

pub(super) fn signals_text(j: &detector::Judgement) -> String {
    j.signals
        .iter()
        .map(|s| {
            format!(
                "  [{}] {}{}: {}",
                if s.agrees { "x" } else { " " },
                s.name,
                s.since
                    .map(|t| format!(" (since {})", iso8601(t)))
                    .unwrap_or_default(),
                s.detail
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A lost Region: request the failover (auto_failover, collected into
/// `wanted` and sent as one request per run) or tell a person with the plan.
/// A refusal or a doubt (suppressed, vetoed, unconfirmed, cannot judge) is
/// told again every `repage_seconds` while it lasts and the replica stays
/// unpromoted; a request not done in `request_timeout_seconds` is sent again.
pub(super) async fn act_on_detection<'a, P: Platform>(
    platform: &P,
    config: &Config,
    h: &'a PairHealth,
    j: &detector::Judgement,
    now: f64,
    acts: &RunActs<'a>,
    source_window: crate::domain::ports::Window,
) -> Result<&'static str> {
    use detector::Verdict;
    // Our own side failing while the source was already silent: no verdict,
    // but a person hears that the detector is blind.
    let since = match j.verdict {
        Verdict::DrUnhealthy => h.unreachable_mark.map(|(since, _)| since),
        _ => j.since,
    };
    let (Some(dest), Some(since)) = (&h.destination_file_system_id, since) else {
        return Ok("none");
    };
    if !matches!(
        j.verdict,
        Verdict::RegionLost
            | Verdict::Suppressed
            | Verdict::Vetoed
            | Verdict::Unconfirmed
            | Verdict::DrUnhealthy
    ) {
        return Ok("none");
    }
    // Already failed over (or back) since this failure began: nothing to do.
    if h.last_dr_event.is_some_and(|e| e >= since) {
        return Ok("none");
    }
    let fs = dest.to_string();
    let efs = platform.efs(&h.destination_region, CallBudget::Normal);
    let mut body = format!(
        "The source Region {} of {} looks lost, as seen from {} at {}.\n{}\n\nSignals:\n{}\n",
        h.source_region,
        h.source_file_system_id,
        h.destination_region,
        iso8601(now),
        j.reason,
        signals_text(j)
    );
    let in_cooldown = h
        .last_dr_event
        .is_some_and(|e| now - e < config.cooldown_seconds);
    let lag = h.last_replicated_epoch.map(|t| now - t);
    let beyond_cap = config.auto_failover_max_rpo_seconds > 0
        && lag.is_some_and(|l| l > config.auto_failover_max_rpo_seconds as f64);
    let auto = config.alarm_policy == AlarmPolicy::AutoFailover
        && j.verdict == Verdict::RegionLost
        && !in_cooldown
        && !beyond_cap;
    if auto {
        if request_pending(h, since, config, now) {
            return Ok("none");
        }
        let w = Wanted {
            health: h,
            failure_start: since,
            reason: format!("region detector: {}", j.reason),
            again: h.failover_requested_at.is_some_and(|t| t >= since),
        };
        if let Ok(mut wanted) = acts.wanted.lock() {
            wanted.push(w);
        }
        return Ok("failover_requested");
    }
    let decision = match j.verdict {
        Verdict::Suppressed => "suppressed",
        Verdict::Vetoed => "vetoed",
        Verdict::DrUnhealthy => "cannot_judge",
        _ => "notify",
    };
    let key = format!("{} {since:.3} {decision}", h.source_region);
    let told_before = h
        .detector_notified
        .as_deref()
        .and_then(|v| v.strip_prefix(key.as_str()))
        .filter(|rest| rest.is_empty() || rest.starts_with(' '))
        .map(|rest| rest.trim().parse::<f64>().ok());
    match told_before {
        // A mark without a time (an older version's): told, once.
        Some(None) => return Ok("none"),
        Some(Some(at)) if now - at < config.repage_seconds => return Ok("none"),
        Some(Some(at)) => body.push_str(&format!(
            "\nA reminder: first told at {}; nothing has changed since and the replica is still not promoted.\n",
            iso8601(at)
        )),
        None => {}
    }
    if config.alarm_policy == AlarmPolicy::AutoFailover {
        if config.witness_alarm.is_none() {
            body.push_str("\nPolicy auto_failover runs as notify: no witness is configured (EFS_DR_WITNESS_ALARM_ARN, the WitnessAlarmArn parameter), and from this Region alone a lost Region cannot be told from a partition.\n");
        }
        if j.verdict == Verdict::RegionLost && in_cooldown {
            body.push_str(
                "\nNo automatic failover: a failover or failback happened within the cool-down.\n",
            );
        }
        if j.verdict == Verdict::RegionLost && beyond_cap {
            body.push_str(&format!(
                "\nNo automatic failover: the replica is {:.0} s behind, beyond the {} s an automatic failover may lose (AutoFailoverMaxRpoSeconds); a person decides.\n",
                lag.unwrap_or_default(),
                config.auto_failover_max_rpo_seconds
            ));
        }
        if h.failover_requested_at.is_some_and(|t| t >= since) {
            body.push_str("\nA failover was requested for this failure and has not happened: the failover function refused or failed it (its own page says why).\n");
        }
    }
    if j.verdict == Verdict::DrUnhealthy {
        body.push_str("\nThe region detector cannot judge the source while this Region's own API fails: it is blind until that passes. Check the source Region yourself.\n");
    }
    // The plan, as a person would get it by running the first command below.
    let plan_wanted = matches!(decision, "notify" | "suppressed");
    let with_plan = plan_wanted
        && acts
            .plans_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    let plan_request = crate::workflows::failover::FailoverRequest {
        source_file_system_id: Some(crate::domain::ids::FileSystemRef {
            arn_account: None,
            id: h.source_file_system_id.clone(),
            arn_region: None,
        }),
        source_region: Some(h.source_region.clone()),
        destination_file_system_id: Some(crate::domain::ids::FileSystemRef {
            arn_account: None,
            id: dest.clone(),
            arn_region: None,
        }),
        destination_region: Some(h.destination_region.clone()),
        mode: Some(crate::domain::modes::Mode::Plan),
        reason: Some("region detector".into()),
        // This run has just probed the source: the plan does not wait on it again.
        known_source_window: Some(source_window),
        ..Default::default()
    };
    let plan = if with_plan {
        let quiet = Config {
            alerts_topic_arn: None,
            ..config.clone()
        };
        Some(crate::workflows::failover::run(platform, &quiet, &plan_request, None).await)
    } else {
        None
    };
    match plan {
        None if plan_wanted => body.push_str(
            "\nNo plan attached (many pairs paged in this run, or its time was short): run the plan command below.\n",
        ),
        None => {}
        Some(Ok(plan)) => {
            body.push_str(&format!("\nThe failover plan: {}\n", plan.summary));
            if let Some(rp) = plan.results.first().and_then(|r| r.recovery_point.as_ref()) {
                body.push_str(&format!(
                    "Recovery point: writes after {} ({:.0} s) are not on the replica.\n",
                    rp.last_replicated_timestamp, rp.recovery_point_seconds
                ));
            }
            for w in plan.results.iter().flat_map(|r| r.warnings.iter()) {
                body.push_str(&format!("  warning: {w}\n"));
            }
        }
        Some(Err(e)) => body.push_str(&format!("\nThe failover plan could not be made: {e}\n")),
    }
    body.push_str(&format!(
        "\nTo fail over, plan first:\n  {}\nthen execute:\n  {}\n",
        failover_command(config, h, "plan"),
        failover_command(config, h, "execute")
    ));
    let subject = match decision {
        "suppressed" => format!(
            "efs-dr: {} looks lost, no automatic failover of {fs} (a person decides)",
            h.source_region
        ),
        "vetoed" => format!(
            "efs-dr: {} unreachable from {}, but it serves (witness): no failover of {fs}",
            h.source_region, h.destination_region
        ),
        "cannot_judge" => format!(
            "efs-dr: {} cannot judge {} (its own API fails): check {fs} by hand",
            h.destination_region, h.source_region
        ),
        _ => format!(
            "efs-dr: {} looks lost, failover of {fs} needs a decision",
            h.source_region
        ),
    };
    publish(platform, &config.alerts_topic_arn, &subject, &body).await?;
    efs.tag_file_system(
        dest,
        &[(
            tags::DETECTOR_NOTIFIED.to_string(),
            format!("{key} {now:.3}"),
        )],
    )
    .await?;
    Ok(decision)
}
