//! Across accounts: the source in production, the replica and the functions
//! in the DR account. Every refusal is checked against the call log: what it
//! refuses, it did not start.

use crate::common;

use common::*;
use efs_dr_shared::domain::config::{Config, PairConfig};
use efs_dr_shared::domain::ids::FileSystemRef;
use efs_dr_shared::run::report::Status;
use efs_dr_shared::testing::MutationBudget;
use efs_dr_shared::workflows::failback::{self, FailbackRequest};
use efs_dr_shared::workflows::failover::{self, FailoverRequest};
use efs_dr_shared::workflows::lag_alarm as lag;
use efs_dr_testkit::accounts::*;
use serde_json::{json, Value};

async fn pair(w: &World, token: &str, setup: &Setup) -> CrossAccountPair {
    w.cross_account_pair(token, setup)
        .await
        .expect("a pair across accounts")
}

/// The pair as a deployment across accounts configures it: the source by ARN.
fn configured(p: &CrossAccountPair) -> Vec<PairConfig> {
    vec![PairConfig {
        source_file_system_id: FileSystemRef::parse(&p.source_arn).expect("arn"),
        source_region: None,
        destination_file_system_id: Some(FileSystemRef::parse(&p.replica).expect("id")),
        destination_region: Some(region(WEST)),
        mount_targets: None,
    }]
}

fn failover_request(p: &CrossAccountPair) -> FailoverRequest {
    FailoverRequest::from_json(json!({
        "source_file_system_id": p.source_arn,
        "destination_file_system_id": p.replica,
        "destination_region": WEST,
        "mode": "execute"
    }))
    .expect("request")
}

fn failback_request(p: &CrossAccountPair, extra: Value) -> FailbackRequest {
    let mut v = json!({
        "original_file_system_id": p.source_arn,
        "replica_file_system_id": p.replica,
        "replica_region": WEST,
        "mode": "execute"
    });
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    FailbackRequest::from_json(v).expect("request")
}

/// The refusal a run ended with: its error type, and everything the report
/// says (message, next steps) as text.
fn refusal(s: &efs_dr_shared::run::summary::RunSummary) -> (String, String) {
    let r = &s.results[0];
    (
        r.error
            .as_ref()
            .map(|e| e.error_type.clone())
            .unwrap_or_default(),
        serde_json::to_string(r).unwrap_or_default(),
    )
}

/// Calls from `seq` on that changed something (answered 2xx), as
/// `REGION OPERATION ACCOUNT ROLE`.
fn changes_since(w: &World, seq: usize) -> Vec<String> {
    w.emu
        .shared
        .calls()
        .into_iter()
        .skip(seq)
        .filter(|c| c.mutating && (200..300).contains(&c.status))
        .map(|c| {
            format!(
                "{} {} {} {}",
                c.region,
                c.operation,
                c.account,
                c.role.unwrap_or_default()
            )
        })
        .collect()
}

fn status_in(w: &World, region: &str, fs: &str) -> Option<(String, Option<String>)> {
    let world = w.emu.shared.world();
    let i = world.replication_of(region, fs)?;
    let (s, m) = world.replications[i].status_in(region, world.now);
    Some((s.to_string(), m))
}

async fn failed_over_with_the_source_down(w: &World, p: &CrossAccountPair) {
    w.write(EAST, &p.source, "/period1.txt", "written on the original");
    w.advance(120.0);
    w.faults(json!({"region": EAST, "outage": true}));
    let s = failover::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &failover_request(p),
        None,
    )
    .await
    .expect("failover");
    assert_eq!(s.status, Status::Completed, "{:#?}", s.results[0]);
    w.write(
        WEST,
        &p.replica,
        "/outage.txt",
        "written on the promoted replica",
    );
    w.faults(json!({"region": EAST, "outage": false}));
    w.advance(180.0);
}

#[tokio::test]
async fn each_account_describes_its_own_side_with_the_owners_and_the_role() {
    let w = world().await;
    let p = pair(&w, "xa-describe", &Setup::default()).await;
    let dr_side = w
        .efs(WEST)
        .describe_replication_configurations()
        .file_system_id(&p.replica)
        .send()
        .await
        .expect("the DR account sees its side");
    let r = &dr_side.replications()[0];
    assert_eq!(r.source_file_system_owner_id(), Some(PRODUCTION));
    let d = &r.destinations()[0];
    assert_eq!(d.owner_id(), Some(DR_ACCOUNT));
    assert_eq!(d.role_arn(), Some(SOURCE_REPLICATION_ROLE));
    assert_eq!(d.status().as_str(), "ENABLED");
    // Each account sees its own Region only.
    let listed = w
        .production_efs(WEST)
        .describe_replication_configurations()
        .send()
        .await
        .expect("list");
    assert!(listed.replications().is_empty(), "{listed:?}");
    let listed = w
        .efs(EAST)
        .describe_replication_configurations()
        .send()
        .await
        .expect("list");
    assert!(listed.replications().is_empty(), "{listed:?}");
    // Another account's file system is not reached by its ID, and by its
    // ARN only as far as its policy goes.
    let by_id = w
        .efs(EAST)
        .describe_file_systems()
        .file_system_id(&p.source)
        .send()
        .await;
    assert!(by_id.is_err());
    let by_arn = w
        .efs(EAST)
        .describe_file_systems()
        .file_system_id(&p.source_arn)
        .send()
        .await;
    let code = by_arn.err().and_then(|e| {
        use aws_sdk_efs::error::ProvideErrorMetadata;
        e.code().map(str::to_string)
    });
    assert_eq!(code.as_deref(), Some("AccessDeniedException"));
}

#[tokio::test]
async fn failover_from_the_dr_account_deletes_both_sides_where_the_source_allows_it() {
    let w = world().await;
    let p = pair(&w, "xa-failover", &Setup::default()).await;
    let seq = w.call_count();
    let s = failover::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &failover_request(&p),
        None,
    )
    .await
    .expect("failover");
    assert_eq!(s.status, Status::Completed, "{:#?}", s.results[0]);
    assert_eq!(w.protection(WEST, &p.replica).await, "ENABLED");
    assert!(
        status_in(&w, EAST, &p.source).is_none(),
        "the source's side is deleted too"
    );
    assert!(
        changes_since(&w, seq)
            .iter()
            .all(|c| c.ends_with(&format!("{DR_ACCOUNT} "))),
        "everything with the DR account's own credentials: {:?}",
        changes_since(&w, seq)
    );
}

#[tokio::test]
async fn a_source_policy_without_the_delete_is_refused_and_nothing_is_deleted() {
    let w = world().await;
    let setup = Setup {
        source_policy: false,
        ..Setup::default()
    };
    let p = pair(&w, "xa-no-policy", &setup).await;
    let seq = w.call_count();
    let s = failover::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &failover_request(&p),
        None,
    )
    .await
    .expect("a report");
    let (error_type, text) = refusal(&s);
    assert_eq!(error_type, "Refused.SourcePolicyDeniesDelete", "{text}");
    assert!(
        text.contains("put-file-system-policy") && text.contains(DR_ACCOUNT),
        "{text}"
    );
    assert!(text.contains("LOCAL_CONFIGURATION_ONLY"), "{text}");
    for (region, fs) in [(EAST, &p.source), (WEST, &p.replica)] {
        let (status, _) = status_in(&w, region, fs).expect("still configured");
        assert_eq!(status, "ENABLED", "{region}");
    }
    let changed = changes_since(&w, seq);
    assert!(
        changed.iter().all(|c| c.contains(" TagResource ")),
        "only the recovery point is recorded on the replica: {changed:?}"
    );
    let promoted = w
        .tags(WEST, &p.replica)
        .await
        .into_iter()
        .find(|(k, _)| k == "efs-dr:promoted-at")
        .map(|(_, v)| v);
    assert_eq!(
        promoted.as_deref(),
        Some("none"),
        "a refused failover is not a promotion"
    );
}

#[tokio::test]
async fn with_the_source_region_down_the_dr_account_deletes_its_own_side_without_a_grant() {
    let w = world().await;
    let setup = Setup {
        source_policy: false,
        ..Setup::default()
    };
    let p = pair(&w, "xa-outage", &setup).await;
    failed_over_with_the_source_down(&w, &p).await;
    assert_eq!(w.protection(WEST, &p.replica).await, "ENABLED");
    let (status, _) = status_in(&w, EAST, &p.source).expect("left behind in production");
    assert_eq!(status, "ERROR");
}

#[tokio::test]
async fn failback_without_the_production_role_says_what_to_deploy_and_changes_nothing() {
    let w = world().await;
    let p = pair(&w, "xa-no-role", &Setup::default()).await;
    failed_over_with_the_source_down(&w, &p).await;
    let seq = w.call_count();
    let s = failback::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &failback_request(&p, json!({})),
        None,
    )
    .await
    .expect("a report");
    let (error_type, text) = refusal(&s);
    assert_eq!(error_type, "Refused.SourceAccountRoleMissing", "{text}");
    assert!(
        text.contains("deploy/source-account.yaml") && text.contains(PRODUCTION),
        "{text}"
    );
    assert_eq!(changes_since(&w, seq), Vec::<String>::new());
    let touched_production = w.emu.shared.calls().into_iter().skip(seq).any(|c| {
        c.region == EAST && c.service == "elasticfilesystem" && c.operation != "DescribeFileSystems"
    });
    assert!(
        !touched_production,
        "no call into the original before the refusal"
    );
}

#[tokio::test]
async fn failback_without_a_replication_role_is_refused_before_any_change() {
    let w = world().await;
    let p = pair(&w, "xa-no-replication-role", &Setup::default()).await;
    failed_over_with_the_source_down(&w, &p).await;
    let seq = w.call_count();
    let config = Config {
        replication_role_arn: None,
        ..w.config_across_accounts()
    };
    let s = failback::run(
        &w.platform_across_accounts(MutationBudget::default()).await,
        &config,
        &failback_request(&p, json!({})),
        None,
    )
    .await
    .expect("a report");
    let (error_type, text) = refusal(&s);
    assert_eq!(error_type, "Refused.ReplicationRoleMissing", "{text}");
    assert!(text.contains("EFS_DR_REPLICATION_ROLE_ARN"), "{text}");
    assert_eq!(changes_since(&w, seq), Vec::<String>::new());
}

#[tokio::test]
async fn a_wrong_external_id_reaches_nothing_in_production() {
    let w = world().await;
    let p = pair(&w, "xa-external-id", &Setup::default()).await;
    failed_over_with_the_source_down(&w, &p).await;
    let seq = w.call_count();
    let mut platform = w.platform(MutationBudget::default());
    let mut role = production_role();
    role.external_id = Some("not-the-secret".into());
    platform.inner = platform.inner.assuming(&role).await;
    let result = failback::run(
        &platform,
        &w.config_across_accounts(),
        &failback_request(&p, json!({})),
        None,
    )
    .await;
    let failed = match &result {
        Err(_) => true,
        Ok(s) => s.results[0].error.is_some() && s.status != Status::Completed,
    };
    assert!(failed, "{result:?}");
    assert_eq!(changes_since(&w, seq), Vec::<String>::new());
    let denied = w
        .emu
        .shared
        .calls()
        .into_iter()
        .skip(seq)
        .any(|c| c.service == "sts" && c.error_code.as_deref() == Some("AccessDenied"));
    assert!(denied, "STS refused the role");
}

#[tokio::test]
async fn failback_through_the_production_role_restores_the_original_direction() {
    let w = world().await;
    let p = pair(&w, "xa-failback", &Setup::default()).await;
    failed_over_with_the_source_down(&w, &p).await;
    let seq = w.call_count();
    let platform = w.platform_across_accounts(MutationBudget::default()).await;
    let config = w.config_across_accounts();
    let s = failback::run(
        &platform,
        &config,
        &failback_request(&p, json!({"cutover": true})),
        None,
    )
    .await
    .expect("failback");
    assert_eq!(s.status, Status::Completed, "{:#?}", s.results[0]);
    // The outage's writes are on the original; what only it held is in a backup.
    let files: Vec<String> = w
        .emu
        .shared
        .world()
        .file_system(EAST, &p.source)
        .map(|f| f.files.keys().cloned().collect())
        .unwrap_or_default();
    assert!(files.contains(&"/outage.txt".to_string()), "{files:?}");
    assert!(!s.results[0].preserved.is_empty(), "{:#?}", s.results[0]);
    // original -> replica again, with production's replication role, seen by both accounts.
    let forward = w
        .production_efs(EAST)
        .describe_replication_configurations()
        .file_system_id(&p.source)
        .send()
        .await
        .expect("forward replication");
    let d = &forward.replications()[0].destinations()[0];
    assert_eq!(d.file_system_id(), p.replica);
    assert_eq!(d.role_arn(), Some(SOURCE_REPLICATION_ROLE));
    w.advance(700.0);
    let (status, message) = status_in(&w, WEST, &p.replica).expect("DR side");
    assert_eq!(status, "ENABLED", "{message:?}");
    // In production, only the assumed role changed anything.
    let changed = changes_since(&w, seq);
    let in_production: Vec<&String> = changed.iter().filter(|c| c.starts_with(EAST)).collect();
    assert!(!in_production.is_empty());
    assert!(
        in_production.iter().all(|c| c.ends_with(PRODUCTION_ROLE)),
        "{in_production:?}"
    );
    // A second run finds it done and changes nothing.
    let seq = w.call_count();
    let again = failback::run(
        &platform,
        &config,
        &failback_request(&p, json!({"cutover": true})),
        None,
    )
    .await
    .expect("again");
    assert_eq!(again.status, Status::Completed);
    assert_eq!(changes_since(&w, seq), Vec::<String>::new());
}

#[tokio::test]
async fn a_replication_role_without_replication_write_pauses_and_the_probe_says_why() {
    let w = world().await;
    let setup = Setup {
        replication_write: false,
        ..Setup::default()
    };
    let p = pair(&w, "xa-paused", &setup).await;
    let (status, message) = status_in(&w, WEST, &p.replica).expect("configured");
    assert_eq!(status, "PAUSED");
    // Under either reading of AWS: at least its documented start.
    let message = message.unwrap_or_default();
    assert!(message.starts_with("Authorization error."), "{message}");
    let config = Config {
        pairs: configured(&p),
        ..w.config()
    };
    let seq = w.call_count();
    let out = lag::probe(&w.platform(MutationBudget::default()), &config)
        .await
        .expect("probe");
    let seen = &out["pairs"][0];
    assert_eq!(seen["status"], "PAUSED", "{out:#}");
    assert_eq!(seen["healthy"], false);
    assert_eq!(seen["status_message"].as_str(), Some(message.as_str()));
    assert_eq!(seen["source_account"], PRODUCTION);
    let efs_changes: Vec<String> = changes_since(&w, seq)
        .into_iter()
        .filter(|c| !c.contains(" PutMetricData ") && !c.contains(" TagResource "))
        .collect();
    assert_eq!(efs_changes, Vec::<String>::new(), "the probe only reports");
    // Mended, the syncs resume on their own.
    w.add_accounts(&Setup::default());
    w.advance(700.0);
    let (status, _) = status_in(&w, WEST, &p.replica).expect("configured");
    assert_eq!(status, "ENABLED");
}

/// The failover across accounts, crashed after each of its changes in turn,
/// then run again: it always ends promoted, with both sides' configuration gone.
#[tokio::test]
async fn failover_across_accounts_converges_after_a_crash_at_every_change() {
    let mut k = 1;
    loop {
        let w = world().await;
        let p = pair(&w, &format!("xa-crash-fo-{k}"), &Setup::default()).await;
        let budget = MutationBudget::crash_after(k);
        let probe = budget.clone();
        let first = failover::run(
            &w.platform(budget),
            &w.config(),
            &failover_request(&p),
            None,
        )
        .await;
        let reached_the_end = probe.count() < k;
        let last = if reached_the_end {
            first.expect("an uncrashed run")
        } else {
            failover::run(
                &w.platform(MutationBudget::default()),
                &w.config(),
                &failover_request(&p),
                None,
            )
            .await
            .unwrap_or_else(|e| panic!("k={k}: the re-run: {e}"))
        };
        assert_eq!(
            last.status,
            Status::Completed,
            "k={k}: {:#?}",
            last.results[0]
        );
        assert_eq!(w.protection(WEST, &p.replica).await, "ENABLED", "k={k}");
        assert!(status_in(&w, EAST, &p.source).is_none(), "k={k}");
        if reached_the_end {
            break;
        }
        k += 1;
    }
    assert!(k > 2, "the failover makes changes to crash after ({k})");
}

/// The failback across accounts, crashed after each change (in either
/// account) in turn, then run again: it always ends with the original
/// direction restored and the outage's writes on the original.
#[tokio::test]
async fn failback_across_accounts_converges_after_a_crash_at_every_change() {
    let mut k = 1;
    loop {
        let w = world().await;
        let p = pair(&w, &format!("xa-crash-fb-{k}"), &Setup::default()).await;
        failed_over_with_the_source_down(&w, &p).await;
        let config = w.config_across_accounts();
        let request = failback_request(&p, json!({"cutover": true}));
        let budget = MutationBudget::crash_after(k);
        let probe = budget.clone();
        let first = failback::run(
            &w.platform_across_accounts(budget).await,
            &config,
            &request,
            None,
        )
        .await;
        let reached_the_end = probe.count() < k;
        let last = if reached_the_end {
            first.expect("an uncrashed run")
        } else {
            failback::run(
                &w.platform_across_accounts(MutationBudget::default()).await,
                &config,
                &request,
                None,
            )
            .await
            .unwrap_or_else(|e| panic!("k={k}: the re-run: {e}"))
        };
        assert_eq!(
            last.status,
            Status::Completed,
            "k={k}: {:#?}",
            last.results[0]
        );
        let has_outage_write = w
            .emu
            .shared
            .world()
            .file_system(EAST, &p.source)
            .is_some_and(|f| f.files.contains_key("/outage.txt"));
        assert!(has_outage_write, "k={k}");
        let world = w.emu.shared.world();
        let i = world
            .replication_of(EAST, &p.source)
            .expect("forward configuration");
        let r = &world.replications[i];
        assert_eq!(
            (
                r.source_file_system_id.as_str(),
                r.destination_file_system_id.as_str()
            ),
            (p.source.as_str(), p.replica.as_str()),
            "k={k}"
        );
        drop(world);
        if reached_the_end {
            break;
        }
        k += 1;
    }
    assert!(k > 5, "the failback makes changes to crash after ({k})");
}

/// The actions of a resource of a CloudFormation template, read as text:
/// every `service:Action` between its name and the next resource.
fn template_actions(path: &str, resource: &str) -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR")))
        .expect("the template");
    let start = text
        .find(&format!("\n  {resource}:\n"))
        .unwrap_or_else(|| panic!("{resource} in {path}"));
    let rest = &text[start + resource.len() + 4..];
    // Up to the next resource (two spaces, a name) or the next section.
    let end = rest
        .match_indices('\n')
        .map(|(i, _)| i)
        .find(|&i| {
            let line = &rest[i + 1..];
            let next_resource =
                line.starts_with("  ") && !line.starts_with("   ") && !line.starts_with("  #");
            let next_section = !line.is_empty() && !line.starts_with(' ') && !line.starts_with('#');
            next_resource || next_section
        })
        .unwrap_or(rest.len());
    rest[..end]
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
        .filter(|w| {
            [
                "elasticfilesystem:",
                "backup:",
                "cloudwatch:",
                "iam:",
                "ec2:",
            ]
            .iter()
            .any(|p| w.starts_with(p) && w.len() > p.len())
                && !w.ends_with(':')
        })
        .map(str::to_string)
        .collect()
}

/// The roles the tests give the emulator are the roles the templates create:
/// a grant the templates lack would fail here, not in production.
#[test]
fn the_test_roles_are_the_templates_roles() {
    let set = |a: &[&str]| {
        a.iter()
            .map(|s| s.to_string())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(
        template_actions("deploy/source-account.yaml", "SourceAccessRole"),
        set(&PRODUCTION_ROLE_ACTIONS)
    );
    assert_eq!(
        template_actions("deploy/source-account.yaml", "SourceReplicationRole"),
        set(&REPLICATION_ROLE_ACTIONS)
    );
    assert_eq!(
        template_actions("template.yaml", "ReplicationRole"),
        set(&REPLICATION_ROLE_ACTIONS)
    );
}

/// Readiness copies the source's access points across accounts as far as
/// the source's policy lets it see them; without the grant it says so and
/// still converges the replica's mount targets.
#[tokio::test]
async fn readiness_copies_access_points_across_accounts_only_with_the_grant() {
    use efs_dr_shared::workflows::mount_target_ensure::{self as readiness, ReadinessRequest};
    let w = world().await;
    let p = pair(&w, "xa-readiness", &Setup::default()).await;
    w.production_efs(EAST)
        .create_access_point()
        .client_token("xa-app")
        .file_system_id(&p.source)
        .send()
        .await
        .expect("an access point in production");
    w.advance(10.0);
    let request = || {
        ReadinessRequest::from_json(json!({
            "file_system_id": p.replica,
            "region": WEST,
            "mode": "execute",
            "access_points_from": {"file_system_id": p.source_arn, "region": EAST},
        }))
        .expect("request")
    };
    let platform = w.platform(MutationBudget::default());
    let config = w.config();
    let s = readiness::run(&platform, &config, &request(), None)
        .await
        .expect("runs");
    let text = serde_json::to_string(&s.results[0]).unwrap_or_default();
    assert!(text.contains("DescribeAccessPoints"), "{text}");
    // The grant deploy/source-account.yaml's SourceFileSystemPolicyCommand adds.
    w.production_efs(EAST)
        .put_file_system_policy()
        .file_system_id(&p.source)
        .policy(
            json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{DR_ACCOUNT}:root")},
                "Action": ["elasticfilesystem:DeleteReplicationConfiguration", "elasticfilesystem:DescribeAccessPoints"]}]})
            .to_string(),
        )
        .send()
        .await
        .expect("grant");
    let s = readiness::run(&platform, &config, &request(), None)
        .await
        .expect("runs");
    assert_eq!(s.status, Status::Completed, "{:#?}", s.results[0]);
    // Under eventual consistency a new access point shows in Describe a little later.
    w.advance(10.0);
    let copied = w
        .efs(WEST)
        .describe_access_points()
        .file_system_id(&p.replica)
        .send()
        .await
        .expect("replica's access points");
    assert_eq!(copied.access_points().len(), 1, "{copied:?}");
}

/// Named by its bare ID (as the state machine passes it), the original
/// keeps the account of the configured pair: still refused without the role.
#[tokio::test]
async fn a_bare_original_id_keeps_the_configured_pairs_account() {
    let w = world().await;
    let p = pair(&w, "xa-bare-id", &Setup::default()).await;
    failed_over_with_the_source_down(&w, &p).await;
    let config = Config {
        pairs: configured(&p),
        ..w.config()
    };
    let seq = w.call_count();
    let request = FailbackRequest::from_json(json!({
        "original_file_system_id": p.source,
        "original_region": EAST,
        "replica_file_system_id": p.replica,
        "replica_region": WEST,
        "mode": "execute",
        "strategy": "new_file_system"
    }))
    .expect("request");
    let s = failback::run(
        &w.platform(MutationBudget::default()),
        &config,
        &request,
        None,
    )
    .await
    .expect("a report");
    let (error_type, text) = refusal(&s);
    assert_eq!(error_type, "Refused.SourceAccountRoleMissing", "{text}");
    assert_eq!(changes_since(&w, seq), Vec::<String>::new());
}

/// The region detector across accounts: 20 minutes of a production that
/// answers (its EFS refusing the DR account's reads is an answer) lead to no
/// failover; production's Region lost, one request, and the replica writable
/// within the single-account bounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_detector_fails_over_a_lost_production_region_and_never_a_live_one() {
    use crate::detection;
    use efs_dr_shared::domain::config::{AlarmPolicy, WitnessAlarm};
    use efs_dr_testkit::alarm_path;
    let w = world().await;
    let p = pair(&w, "xa-detect", &Setup::default()).await;
    let topics = alarm_path::create_topics(&w.sdk, &region(WEST))
        .await
        .expect("topics");
    let witness = w.witness(EAST).await.expect("witness");
    let config = Config {
        pairs: configured(&p),
        source_region: Some(region(EAST)),
        alerts_topic_arn: Some(topics.alerts_topic_arn.clone()),
        failover_topic_arn: Some(topics.failover_topic_arn.clone()),
        alarm_policy: AlarmPolicy::AutoFailover,
        detector: Default::default(),
        witness_alarm: Some(WitnessAlarm::parse(&witness).expect("witness ARN")),
        ..w.config()
    };
    let s = detection::Setup {
        config,
        src: p.source.clone(),
        dst: p.replica.clone(),
        alerts: topics.alerts_topic_arn,
        requests: topics.failover_topic_arn,
    };
    let runs = detection::minutes(&w, &s, 20).await;
    assert!(
        detection::messages(&w, &s.requests, 0).is_empty(),
        "no failover of a live production: {}",
        detection::collapsed(&detection::verdicts(&runs))
    );
    assert_eq!(
        runs.last()
            .map(|(_, out)| out["pairs"][0]["source_account"].clone()),
        Some(json!(PRODUCTION))
    );
    let from = w.emu.shared.world().messages.len();
    let failed_at = w.emu.shared.now();
    w.faults(json!({"region": EAST, "outage": true}));
    let mut decided_at = None;
    for _ in 0..10 {
        detection::minutes(&w, &s, 1).await;
        if !detection::messages(&w, &s.requests, from).is_empty() {
            decided_at = Some(w.emu.shared.now());
            break;
        }
    }
    let decision = decided_at.map(|t| t - failed_at);
    assert!(
        decision.is_some_and(|d| d <= 240.0),
        "decision after {decision:?} s"
    );
    let requests = detection::messages(&w, &s.requests, from);
    assert_eq!(requests.len(), 1, "{requests:?}");
    let event = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": requests[0].1}}]});
    let out = failover::handle_event(
        &w.platform(MutationBudget::default()),
        &s.config,
        event,
        None,
    )
    .await
    .expect("failover");
    assert_eq!(out["status"], "completed", "{out:#}");
    assert_eq!(w.protection(WEST, &p.replica).await, "ENABLED");
    let writable = w.emu.shared.now() - failed_at;
    assert!(writable <= 480.0, "writable after {writable} s");
}
