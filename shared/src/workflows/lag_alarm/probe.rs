//! The scheduled probe: each pair's replication read from the DR Region,
//! the source Region probed, the lag and health metrics published, then the
//! region detector and the alarm path run over what was seen.

use super::*;

/// One protected pair as seen from the DR Region.
#[derive(Clone, Debug, Serialize)]
pub struct PairHealth {
    pub source_file_system_id: FileSystemId,
    pub source_region: RegionName,
    pub destination_file_system_id: Option<FileSystemId>,
    pub destination_region: RegionName,
    /// Replication status as the DR Region reports it, or `NONE`.
    pub status: String,
    /// Why it is PAUSED or in ERROR, as EFS says it (a missing permission
    /// across accounts, a disabled key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// The source's account when it is not the replica's (the configuration's owners).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_account: Option<crate::domain::ids::AccountId>,
    pub lag_seconds: Option<f64>,
    pub last_replicated: Option<String>,
    pub healthy: bool,
    pub source_region_reachable: bool,
    /// Last failover or failback recorded in the replica's tags (epoch seconds).
    #[serde(skip)]
    pub last_dr_event: Option<f64>,
    #[serde(skip)]
    pub failover_requested_at: Option<f64>,
    /// The alarm state change and decision the alerts topic was last told about.
    #[serde(skip)]
    pub last_notified: Option<String>,
    /// The detector's memory, from the replica's tag: (since, failed probes).
    #[serde(skip)]
    pub unreachable_mark: Option<(f64, u32)>,
    /// `efs-dr:maintenance` on the replica.
    #[serde(skip)]
    pub maintenance: bool,
    /// LastReplicatedTimestamp as read (epoch seconds): the detector judges
    /// the stall from it, not from a lag measured earlier in the run.
    #[serde(skip)]
    pub last_replicated_epoch: Option<f64>,
    /// When a failover request was sent for the failure the mark names.
    #[serde(skip)]
    pub failover_request_sent_at: Option<f64>,
    /// The detector's last page: `SOURCE_REGION SINCE DECISION [SENT_AT]`.
    #[serde(skip)]
    pub detector_notified: Option<String>,
    /// What the witness outside both Regions says of the source (read once per run).
    #[serde(skip)]
    pub witness: detector::WitnessSignal,
}

pub(super) fn pair_regions(p: &PairConfig, config: &Config) -> Result<(RegionName, RegionName)> {
    let source = p
        .source_file_system_id
        .arn_region
        .clone()
        .or_else(|| p.source_region.clone())
        .or_else(|| config.source_region.clone())
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "the configured pair of {} has no source_region",
                p.source_file_system_id.id
            ))
        })?;
    let dest = p
        .destination_region
        .clone()
        .or_else(|| config.destination_region.clone())
        .ok_or_else(|| {
            Error::InvalidInput(
                "the DR Region is not configured (EFS_DR_DESTINATION_REGION or AWS_REGION)".into(),
            )
        })?;
    Ok((source, dest))
}

/// Reads one pair's replication from the DR Region and probes the source Region.
pub(super) async fn observe<P: Platform>(
    platform: &P,
    config: &Config,
    p: &PairConfig,
    reachability: &mut BTreeMap<String, bool>,
) -> Result<PairHealth> {
    let (source_region, _) = pair_regions(p, config)?;
    if !reachability.contains_key(source_region.as_str()) {
        let r =
            crate::domain::ports::reachable(&platform.efs(&source_region, CallBudget::Short)).await;
        reachability.insert(source_region.to_string(), r);
    }
    observe_pair(platform, config, p, reachability).await
}

/// `observe` with every source Region already probed once this run.
pub(super) async fn observe_pair<P: Platform>(
    platform: &P,
    config: &Config,
    p: &PairConfig,
    reachability: &BTreeMap<String, bool>,
) -> Result<PairHealth> {
    let (source_region, dest_region) = pair_regions(p, config)?;
    let efs = platform.efs(&dest_region, CallBudget::Normal);
    let now = platform.clock().now();
    let mut dest = p.destination_file_system_id.as_ref().map(|d| d.id.clone());
    if dest.is_none() {
        dest = efs
            .list_replications()
            .await?
            .into_iter()
            .find(|r| {
                r.source_file_system_id == p.source_file_system_id.id
                    && r.source_region == source_region
            })
            .map(|r| r.destination_file_system_id);
    }
    let (replication, fs) = match &dest {
        // Only a configuration into the replica: after a failback the replica
        // may be the source of one, which is not this pair's protection.
        Some(d) => (
            efs.describe_replication(d)
                .await?
                .filter(|r| &r.destination_file_system_id == d),
            efs.describe_file_system(d).await?,
        ),
        None => (None, None),
    };
    let reachable = reachability
        .get(source_region.as_str())
        .copied()
        .unwrap_or(false);
    let num = |k: &str| {
        fs.as_ref()
            .and_then(|f| f.tag(k))
            .and_then(|v| v.parse::<f64>().ok())
    };
    // `FAILURE_START [SENT_AT]`: which failure a request was for, and when it went out.
    let requested = fs
        .as_ref()
        .and_then(|f| f.tag(tags::FAILOVER_REQUESTED_AT))
        .and_then(parse_requested_mark);
    let last_dr_event = [
        tags::PROMOTED_AT,
        tags::FAILOVER_COMPLETED_AT,
        tags::FAILBACK_COMPLETED_AT,
    ]
    .iter()
    .filter_map(|k| num(k))
    .reduce(f64::max);
    let (status, lrt) = match &replication {
        Some(r) => (
            match &r.status {
                ReplicationStatus::Other(s) => s.clone(),
                s => serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            },
            r.last_replicated,
        ),
        None => ("NONE".to_string(), None),
    };
    let status_message = replication.as_ref().and_then(|r| r.status_message.clone());
    if let Some(m) = &status_message {
        tracing::warn!(status = %status, message = %m, "replication is not healthy");
    }
    let source_account = replication
        .as_ref()
        .filter(|r| r.owners.cross_account())
        .and_then(|r| r.owners.source.clone())
        .or_else(|| p.source_file_system_id.arn_account.clone());
    Ok(PairHealth {
        status_message,
        source_account,
        source_file_system_id: p.source_file_system_id.id.clone(),
        source_region,
        destination_file_system_id: dest,
        destination_region: dest_region,
        healthy: status == "ENABLED" && lrt.is_some(),
        lag_seconds: lrt.map(|t| ((now - t).max(0.0) * 10.0).round() / 10.0),
        last_replicated: lrt.map(iso8601),
        status,
        source_region_reachable: reachable,
        last_dr_event,
        failover_requested_at: requested.map(|(since, _)| since),
        failover_request_sent_at: requested.map(|(since, sent)| sent.unwrap_or(since)),
        last_replicated_epoch: lrt,
        detector_notified: fs
            .as_ref()
            .and_then(|f| f.tag(tags::DETECTOR_NOTIFIED))
            .map(str::to_string),
        last_notified: fs
            .as_ref()
            .and_then(|f| f.tag(tags::LAST_NOTIFIED))
            .map(str::to_string),
        unreachable_mark: fs
            .as_ref()
            .and_then(|f| f.tag(tags::SOURCE_UNREACHABLE_SINCE))
            .and_then(parse_unreachable_mark),
        maintenance: fs
            .as_ref()
            .is_some_and(|f| f.tag(tags::MAINTENANCE).is_some()),
        witness: detector::WitnessSignal::NotConfigured,
    })
}

pub(super) fn health_points(h: &PairHealth) -> Vec<MetricPoint> {
    let mut points = vec![MetricPoint {
        name: REACHABLE_METRIC,
        value: if h.source_region_reachable { 1.0 } else { 0.0 },
        unit: "None",
        dimensions: vec![("SourceRegion".to_string(), h.source_region.to_string())],
    }];
    // Without a replica there is no FileSystemId to publish under; an empty
    // dimension value would be a metric that no alarm watches, or worse.
    let Some(dest) = &h.destination_file_system_id else {
        return points;
    };
    let dims = vec![
        ("FileSystemId".to_string(), dest.to_string()),
        (
            "SourceFileSystemId".to_string(),
            h.source_file_system_id.to_string(),
        ),
    ];
    points.push(MetricPoint {
        name: HEALTHY_METRIC,
        value: if h.healthy { 1.0 } else { 0.0 },
        unit: "None",
        dimensions: dims.clone(),
    });
    if let Some(lag) = h.lag_seconds {
        points.push(MetricPoint {
            name: LAG_METRIC,
            value: lag,
            unit: "Seconds",
            dimensions: dims,
        });
    }
    points
}

/// Our own Region's EFS API must work: a failing DR side says nothing about
/// the source. Throttling is an answer (the API is there, only busy) and is
/// retried; only silence or 5xx through the whole window counts against it.
pub(super) async fn dr_health<P: Platform>(
    platform: &P,
    region: &RegionName,
) -> std::result::Result<(), String> {
    let efs = platform.efs(region, CallBudget::Short);
    let mut last = String::new();
    for attempt in 0..DR_HEALTH_ATTEMPTS {
        if attempt > 0 {
            platform.clock().sleep(DR_HEALTH_SPACING * attempt).await;
        }
        match efs.probe().await {
            Ok(()) => return Ok(()),
            Err(e) if !e.kind.is_transient() => return Ok(()),
            Err(e) => {
                if e.kind == crate::domain::error::AwsErrorKind::Throttled
                    && attempt + 1 == DR_HEALTH_ATTEMPTS
                {
                    return Ok(());
                }
                last = e.to_string();
            }
        }
    }
    Err(last)
}

const DR_HEALTH_ATTEMPTS: u32 = 3;
const DR_HEALTH_SPACING: std::time::Duration = std::time::Duration::from_secs(2);

/// How far back a pair's cadence is learned.
const HISTORY_SECONDS: f64 = 3.0 * 3600.0;
/// Lag measured while the source was silent, or this soon after, is the
/// failure's, not the pair's cadence (the first syncs after a return run long).
const AFTER_SILENCE_SECONDS: f64 = 300.0;

/// For each `(pair, until)`, the longest lag the pair showed in the 3 hours
/// before `until`: its own cadence of syncs, as this probe has been
/// publishing it. All pairs in one metric request (with the source Regions'
/// reachability, to leave out the minutes of earlier silences). `Ok(None)`:
/// no history yet; `Err`: it cannot be read.
pub(super) async fn learned_sync_gaps<P: Platform>(
    platform: &P,
    region: &RegionName,
    wanted: &[(&PairHealth, f64)],
) -> Vec<std::result::Result<Option<f64>, String>> {
    if wanted.is_empty() {
        return Vec::new();
    }
    let dims: Vec<Vec<(String, String)>> = wanted
        .iter()
        .map(|(h, _)| {
            vec![
                (
                    "FileSystemId".to_string(),
                    h.destination_file_system_id
                        .as_ref()
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                ),
                (
                    "SourceFileSystemId".to_string(),
                    h.source_file_system_id.to_string(),
                ),
            ]
        })
        .collect();
    let mut source_regions: Vec<&RegionName> =
        wanted.iter().map(|(h, _)| &h.source_region).collect();
    source_regions.sort();
    source_regions.dedup();
    let region_dims: Vec<Vec<(String, String)>> = source_regions
        .iter()
        .map(|r| vec![("SourceRegion".to_string(), r.to_string())])
        .collect();
    let earliest = wanted.iter().map(|(_, u)| *u).fold(f64::INFINITY, f64::min);
    let latest = wanted
        .iter()
        .map(|(_, u)| *u)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut queries: Vec<SeriesQuery<'_>> = wanted
        .iter()
        .zip(&dims)
        .map(|((_, until), d)| SeriesQuery {
            namespace: NAMESPACE,
            metric: LAG_METRIC,
            dimensions: d,
            start: until - HISTORY_SECONDS,
            end: until + 60.0,
            period_seconds: 60,
            statistic: Statistic::Maximum,
        })
        .collect();
    queries.extend(region_dims.iter().map(|d| SeriesQuery {
        namespace: NAMESPACE,
        metric: REACHABLE_METRIC,
        dimensions: d,
        start: earliest - HISTORY_SECONDS,
        end: latest + 60.0,
        period_seconds: 60,
        statistic: Statistic::Minimum,
    }));
    let series = match platform.metrics(region).series_many(&queries).await {
        Ok(s) => s,
        Err(e) => return wanted.iter().map(|_| Err(e.to_string())).collect(),
    };
    let silent_minutes = |source: &RegionName| -> Vec<f64> {
        source_regions
            .iter()
            .position(|r| *r == source)
            .and_then(|i| series.get(wanted.len() + i))
            .map(|s| {
                s.iter()
                    .filter(|(_, v)| *v < 1.0)
                    .map(|(t, _)| *t)
                    .collect()
            })
            .unwrap_or_default()
    };
    wanted
        .iter()
        .enumerate()
        .map(|(i, (h, until))| {
            let silent = silent_minutes(&h.source_region);
            Ok(series
                .get(i)
                .into_iter()
                .flatten()
                // Minutes that ended before the failure: a later one may hold lag taken after it.
                .filter(|(t, _)| *t + 60.0 <= *until)
                .filter(|(t, _)| {
                    !silent
                        .iter()
                        .any(|s| *t >= *s && *t <= s + AFTER_SILENCE_SECONDS)
                })
                .map(|(_, v)| *v)
                .reduce(f64::max))
        })
        .collect()
}

/// The scheduled probe without a deadline (tests, the drill's console).
pub async fn probe<P: Platform>(platform: &P, config: &Config) -> Result<Value> {
    probe_within(platform, config, None).await
}

/// What a probe run keeps back from its deadline to return in time.
const PROBE_MARGIN: Duration = Duration::from_secs(10);
/// Pairs are read while at least this share of the run's time is left;
/// the rest is for the source probes and the judgement.
const OBSERVE_SHARE: f64 = 0.5;
/// A page's plan is built only with this much time left.
pub(super) const PLAN_TIME: Duration = Duration::from_secs(20);

/// The time a probe run has: `None` without a deadline.
#[derive(Clone, Copy)]
pub(super) struct RunClock<'a, C: Clock> {
    clock: &'a C,
    deadline: Option<Duration>,
    total: Option<Duration>,
}

impl<'a, C: Clock> RunClock<'a, C> {
    fn new(clock: &'a C, remaining: Option<Duration>, margin: Duration) -> Self {
        let total = remaining.map(|r| r.saturating_sub(margin.max(PROBE_MARGIN)));
        RunClock {
            clock,
            deadline: total.map(|t| clock.monotonic() + t),
            total,
        }
    }

    pub(super) fn left(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_sub(self.clock.monotonic()))
    }

    /// Whether at least `d` is left (always, without a deadline).
    pub(super) fn has(&self, d: Duration) -> bool {
        self.left().is_none_or(|l| l >= d)
    }

    fn share_left(&self) -> f64 {
        match (self.left(), self.total) {
            (Some(l), Some(t)) if !t.is_zero() => l.as_secs_f64() / t.as_secs_f64(),
            (Some(_), Some(_)) => 0.0,
            _ => 1.0,
        }
    }
}

/// The scheduled probe: observe every configured pair, publish the metrics,
/// judge. With `remaining` (the Lambda's time left) the run stops in time:
/// what it had no time for is listed under `skipped`, and the next run
/// (which starts its round elsewhere in the list) carries on.
pub async fn probe_within<P: Platform>(
    platform: &P,
    config: &Config,
    remaining: Option<Duration>,
) -> Result<Value> {
    if config.pairs.is_empty() {
        return Err(Error::InvalidInput(
            "no protected pairs configured (EFS_DR_PAIRS): nothing to probe".into(),
        ));
    }
    let run = RunClock::new(platform.clock(), remaining, config.margin);
    let started = platform.clock().now();
    // Each source Region once, side by side, before any pair: a silent
    // Region costs one timeout per run, not one per pair.
    let mut source_regions: Vec<RegionName> = config
        .pairs
        .iter()
        .filter_map(|p| pair_regions(p, config).ok().map(|(s, _)| s))
        .collect();
    source_regions.sort();
    source_regions.dedup();
    let reachability: BTreeMap<String, bool> =
        futures_util::future::join_all(source_regions.iter().map(|r| async move {
            let ok = crate::domain::ports::reachable(&platform.efs(r, CallBudget::Short)).await;
            (r.to_string(), ok)
        }))
        .await
        .into_iter()
        .collect();
    // The round starts elsewhere each minute, so that a run cut short by its
    // deadline does not leave the same pairs behind every time.
    let n = config.pairs.len();
    // A stride near n/phi: successive minutes start far apart and soon cover the list.
    let stride = ((n as f64 * 0.618) as usize).max(1);
    let offset = (((started / 60.0).max(0.0) as usize) % n).wrapping_mul(stride) % n;
    let order: Vec<&PairConfig> = config.pairs[offset..]
        .iter()
        .chain(&config.pairs[..offset])
        .collect();
    let observed: Vec<(usize, &PairConfig, Option<Result<PairHealth>>)> =
        futures_util::stream::iter(
            order
                .into_iter()
                .enumerate()
                .map(|(i, p)| {
                    let reachability = &reachability;
                    let run = &run;
                    async move {
                        if run.share_left() < OBSERVE_SHARE {
                            return (i, p, None);
                        }
                        (
                            i,
                            p,
                            Some(observe_pair(platform, config, p, reachability).await),
                        )
                    }
                })
                .collect::<Vec<_>>(),
        )
        .buffer_unordered(config.concurrency.max(1))
        .collect()
        .await;
    let mut observed = observed;
    observed.sort_by_key(|(i, _, _)| *i);
    let mut results = Vec::new();
    let mut errors = Vec::new();
    let mut skipped = Vec::new();
    let mut first_error = None;
    for (_, p, outcome) in observed {
        match outcome {
            None => skipped.push(json!({
                "source_file_system_id": p.source_file_system_id.id,
                "skipped": "not read: the run's time was running out (the next run reads it)",
            })),
            Some(Ok(h)) => results.push(h),
            // One pair that cannot be read must not silence the others: their
            // alarms treat missing data as breaching.
            Some(Err(e)) => {
                tracing::error!(source_file_system_id = %p.source_file_system_id.id, error = %e, "probe of one pair failed");
                errors.push(json!({
                    "source_file_system_id": p.source_file_system_id.id,
                    "error": e.error_type(),
                    "message": e.to_string(),
                }));
                first_error.get_or_insert(e);
            }
        }
    }
    if results.is_empty() && skipped.is_empty() {
        if let Some(e) = first_error {
            // Nothing could be read at all (this Region's own API failing?): an
            // error, so that the invocation is retried and its failure counted.
            return Err(e);
        }
    }
    let region = config
        .destination_region
        .clone()
        .or_else(|| results.first().map(|r| r.destination_region.clone()));
    let mut points: Vec<MetricPoint> = results
        .iter()
        .flat_map(health_points)
        .filter(|p| p.name != REACHABLE_METRIC)
        .collect();
    if let Some(region) = &region {
        if let Err(e) = platform.metrics(region).put(&points).await {
            tracing::error!(error = %e, "replication metrics not published");
        }
    }
    // Several probes a minute: the schedule runs once a minute, so the run
    // itself probes the source Regions again, spaced, before judging.
    let mut samples: BTreeMap<String, Vec<(f64, bool)>> = reachability
        .iter()
        .map(|(r, ok)| (r.clone(), vec![(started, *ok)]))
        .collect();
    let mut probes_skipped = 0;
    for _ in 1..config.detector.probes_per_run.max(1) {
        // A later probe only while the judgement keeps its time.
        if !run.has(config.detector.probe_spacing + PLAN_TIME + PLAN_TIME) {
            probes_skipped += 1;
            continue;
        }
        platform.clock().sleep(config.detector.probe_spacing).await;
        for (source_region, seen) in samples.iter_mut() {
            let Ok(r) = RegionName::parse(source_region) else {
                continue;
            };
            let ok = crate::domain::ports::reachable(&platform.efs(&r, CallBudget::Short)).await;
            seen.push((platform.clock().now(), ok));
        }
    }
    // One SourceRegionReachable datapoint per Region and run: 1 when any probe answered.
    points = samples
        .iter()
        .map(|(r, seen)| MetricPoint {
            name: REACHABLE_METRIC,
            value: if seen.iter().any(|(_, ok)| *ok) {
                1.0
            } else {
                0.0
            },
            unit: "None",
            dimensions: vec![("SourceRegion".to_string(), r.clone())],
        })
        .collect();
    let witness = super::detection::witness_signal(platform, config).await;
    for h in results.iter_mut() {
        h.witness = witness.clone();
        h.source_region_reachable = samples
            .get(h.source_region.as_str())
            .is_some_and(|seen| seen.iter().any(|(_, ok)| *ok));
    }
    let detections = match &region {
        Some(region) => {
            // A metric that cannot be published must not stop the judgement.
            if let Err(e) = platform.metrics(region).put(&points).await {
                tracing::error!(error = %e, "SourceRegionReachable not published");
            }
            if config.detector.enabled {
                detect(
                    platform,
                    config,
                    &results,
                    &samples,
                    region,
                    &run,
                    &mut skipped,
                )
                .await?
            } else {
                Vec::new()
            }
        }
        None => Vec::new(),
    };
    let rechecked = match &config.destination_region {
        Some(region) if run.has(PLAN_TIME) => {
            recheck_watched_alarms(platform, config, region, &witness).await?
        }
        Some(_) => {
            skipped.push(json!({"skipped": "the watched alarms were not re-read: the run's time was running out"}));
            Vec::new()
        }
        None => Vec::new(),
    };
    let status = if !errors.is_empty() {
        "partial"
    } else if !skipped.is_empty() {
        "cut_short"
    } else {
        "ok"
    };
    let mut out = json!({"trigger": "probe", "status": status, "pairs": results, "errors": errors,
                     "detections": detections, "decisions": rechecked, "skipped": skipped});
    if probes_skipped > 0 {
        out["source_probes_skipped"] = json!(probes_skipped);
    }
    if let Some(left) = run.left() {
        out["seconds_left"] = json!((left.as_secs_f64() * 10.0).round() / 10.0);
    }
    tracing::info!(record = %out, "replication probe");
    Ok(out)
}
