//! The region detector's memory and actions: the marks on the replica that
//! make one failure one request or one page, and what a lost Region leads to.
//! The judgement itself is pure and lives in `detector`.

use super::*;

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

/// Publishes one failover request for the failure that began at
/// `failure_start`, unless one is already out for it: the replica's mark is
/// read again just before (another probe run, or the other path, may have
/// sent one since this run read it), set first, and restored if the publish
/// fails, so that a lost request never blocks the next attempt. Returns
/// whether a request went out.
pub(super) async fn request_failover<P: Platform>(
    platform: &P,
    config: &Config,
    h: &PairHealth,
    failure_start: f64,
    reason: &str,
) -> Result<bool> {
    let Some(dest) = &h.destination_file_system_id else {
        return Ok(false);
    };
    let topic = config.failover_topic_arn.clone().ok_or_else(|| {
        Error::InvalidInput(
            "policy auto_failover needs EFS_DR_FAILOVER_TOPIC_ARN (the failover-requests topic)"
                .into(),
        )
    })?;
    let efs = platform.efs(&h.destination_region, CallBudget::Normal);
    let now = platform.clock().now();
    let previous = efs
        .describe_file_system(dest)
        .await?
        .and_then(|f| f.tag(tags::FAILOVER_REQUESTED_AT).map(str::to_string));
    let fresh = PairHealth {
        failover_requested_at: previous
            .as_deref()
            .and_then(parse_requested_mark)
            .map(|(since, _)| since),
        failover_request_sent_at: previous
            .as_deref()
            .and_then(parse_requested_mark)
            .map(|(since, sent)| sent.unwrap_or(since)),
        ..h.clone()
    };
    if fresh
        .failover_requested_at
        .is_some_and(|t| failure_start <= t)
        || outstanding_request(&fresh, config, now)
    {
        return Ok(false);
    }
    efs.tag_file_system(
        dest,
        &[(
            tags::FAILOVER_REQUESTED_AT.to_string(),
            requested_mark_value(failure_start, now),
        )],
    )
    .await?;
    let mut request = json!({
        "source_file_system_id": h.source_file_system_id,
        "source_region": h.source_region,
        "destination_file_system_id": dest,
        "destination_region": h.destination_region,
        "mode": "execute",
        "reason": reason,
    });
    // The region detector has confirmed the source silent: a full delete
    // would fail, or (as AWS may do) be accepted and hang until the Region
    // returns, and end in a local-only delete either way, minutes later.
    // Ask for the local-only delete at once; the failover still refuses it
    // (SourceReachable) if the source answers by then, and failback cleans
    // up the side left behind.
    if config.detector.enabled {
        request["deletion_mode"] = json!("LOCAL_CONFIGURATION_ONLY");
    }
    if let Err(e) = publish(
        platform,
        &Some(topic),
        "efs-dr failover request",
        &request.to_string(),
    )
    .await
    {
        let restore = previous.unwrap_or_else(|| tags::NONE.to_string());
        if let Err(e2) = efs
            .tag_file_system(dest, &[(tags::FAILOVER_REQUESTED_AT.to_string(), restore)])
            .await
        {
            tracing::error!(error = %e2, "could not take back the failover-requested mark after a failed publish");
        }
        return Err(e);
    }
    Ok(true)
}

/// Judges every observed pair from this run's probes, and acts on a verdict
/// of a lost Region once per failure.
pub(super) async fn detect<P: Platform>(
    platform: &P,
    config: &Config,
    results: &[PairHealth],
    samples: &BTreeMap<String, Vec<(f64, bool)>>,
    dr_region: &RegionName,
) -> Result<Vec<Detection>> {
    let dr = dr_health(platform, dr_region).await;
    let now = platform.clock().now();
    let mut out = Vec::new();
    let mut plans_left = MAX_PLANS_PER_RUN;
    for h in results {
        let mut source = fold_samples(
            h.unreachable_mark,
            samples
                .get(h.source_region.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default(),
        );
        // Past the confirmation count, more failures change nothing: the
        // mark stops changing, so an outage does not cost a tag write per
        // pair per minute.
        source.failed_probes = source.failed_probes.min(config.detector.min_failed_probes);
        let (judgement, decision) = match judge_and_act(
            platform,
            config,
            h,
            &mut source,
            dr.clone(),
            dr_region,
            now,
            &mut plans_left,
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
        let d = Detection {
            source_file_system_id: h.source_file_system_id.clone(),
            source_region: h.source_region.clone(),
            destination_file_system_id: h.destination_file_system_id.clone(),
            judgement,
            decision,
        };
        if d.judgement.verdict != detector::Verdict::Healthy {
            tracing::info!(record = %serde_json::to_string(&d).unwrap_or_default(), "region detector");
        }
        out.push(d);
    }
    Ok(out)
}

/// A failover plan per page makes a probe run longer (it probes the silent
/// source): in a large fleet, the first pages carry one, the rest the commands.
pub(super) const MAX_PLANS_PER_RUN: usize = 10;

#[allow(clippy::too_many_arguments)]
pub(super) async fn judge_and_act<P: Platform>(
    platform: &P,
    config: &Config,
    h: &PairHealth,
    source: &mut detector::SourceSignal,
    dr: std::result::Result<(), String>,
    dr_region: &RegionName,
    now: f64,
    plans_left: &mut usize,
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
            platform
                .efs(&h.destination_region, CallBudget::Normal)
                .tag_file_system(dest, &[(tags::SOURCE_UNREACHABLE_SINCE.to_string(), value)])
                .await?;
        }
    }
    let learned = match source.unreachable_since {
        Some(since) => learned_sync_gap(platform, dr_region, h, since).await,
        None => None,
    };
    let pair = detector::PairSignal {
        status: h.status.clone(),
        last_replicated: h.last_replicated_epoch,
        learned_sync_gap: learned,
        maintenance: h.maintenance,
    };
    let judgement = detector::judge(now, dr, source, &pair, &config.detector);
    let decision = act_on_detection(platform, config, h, &judgement, now, plans_left).await?;
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

/// A lost Region: request the failover (auto_failover) or tell a person with
/// the plan (notify); a suppressed one is told once. Marks make each happen
/// once per failure, however many probe runs see it.
pub(super) async fn act_on_detection<P: Platform>(
    platform: &P,
    config: &Config,
    h: &PairHealth,
    j: &detector::Judgement,
    now: f64,
    plans_left: &mut usize,
) -> Result<&'static str> {
    use detector::Verdict;
    let (Some(dest), Some(since)) = (&h.destination_file_system_id, j.since) else {
        return Ok("none");
    };
    if !matches!(j.verdict, Verdict::RegionLost | Verdict::Suppressed) {
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
        if h.failover_requested_at.is_some_and(|t| t >= since)
            || outstanding_request(h, config, now)
        {
            return Ok("none");
        }
        let reason = format!("region detector: {}", j.reason);
        if !request_failover(platform, config, h, since, &reason).await? {
            return Ok("none");
        }
        body.push_str("\nPolicy auto_failover: a failover request was published; the failover function is running it.\n");
        publish(
            platform,
            &config.alerts_topic_arn,
            &format!(
                "efs-dr: {} looks lost, automatic failover of {fs} started",
                h.source_region
            ),
            &body,
        )
        .await?;
        return Ok("failover_requested");
    }
    let decision = if j.verdict == Verdict::Suppressed {
        "suppressed"
    } else {
        "notify"
    };
    let key = format!("{} {since:.3} {decision}", h.source_region);
    if h.detector_notified.as_deref() == Some(key.as_str()) {
        return Ok("none");
    }
    if j.verdict == Verdict::RegionLost && config.alarm_policy == AlarmPolicy::AutoFailover {
        if in_cooldown {
            body.push_str(
                "\nNo automatic failover: a failover or failback happened within the cool-down.\n",
            );
        }
        if beyond_cap {
            body.push_str(&format!(
                "\nNo automatic failover: the replica is {:.0} s behind, beyond the {} s an automatic failover may lose (AutoFailoverMaxRpoSeconds); a person decides.\n",
                lag.unwrap_or_default(),
                config.auto_failover_max_rpo_seconds
            ));
        }
    }
    // The plan, as a person would get it by running the first command below.
    let with_plan = *plans_left > 0;
    *plans_left = plans_left.saturating_sub(1);
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
        None => body.push_str(
            "\nNo plan attached (many pairs paged in this run): run the plan command below.\n",
        ),
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
    let subject = if decision == "suppressed" {
        format!(
            "efs-dr: {} looks lost, no automatic failover of {fs} (a person decides)",
            h.source_region
        )
    } else {
        format!(
            "efs-dr: {} looks lost, failover of {fs} needs a decision",
            h.source_region
        )
    };
    publish(platform, &config.alerts_topic_arn, &subject, &body).await?;
    efs.tag_file_system(dest, &[(tags::DETECTOR_NOTIFIED.to_string(), key)])
        .await?;
    Ok(decision)
}
