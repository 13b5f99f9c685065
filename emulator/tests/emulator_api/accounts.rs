//! Several accounts in one world, through the real SDK: who may reach
//! whose file system, file system policies, the replication role checked at
//! every sync, and roles assumed through STS.

use aws_sdk_efs::error::ProvideErrorMetadata;
use aws_sdk_efs::types::{DestinationToCreate, ReplicationOverwriteProtection};
use efs_dr_emulator::EmulatorConfig;
use efs_dr_testkit::accounts::*;
use efs_dr_testkit::{create_file_system, Kit, EAST, WEST};
use serde_json::json;

async fn kit() -> Kit {
    Kit::start(EmulatorConfig::manual())
        .await
        .expect("emulator")
}

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or_default().to_string()
}

fn status(kit: &Kit, region: &str, fs: &str) -> (String, Option<String>) {
    let w = kit.emu.shared.world();
    let i = w.replication_of(region, fs).expect("configured");
    let (s, m) = w.replications[i].status_in(region, w.now);
    (s.to_string(), m)
}

/// A source in production and an empty, unprotected file system in the DR
/// account, with the accounts and roles but no policies yet.
async fn two_file_systems(kit: &Kit, setup: &Setup) -> (String, String) {
    kit.add_accounts(setup);
    let source = create_file_system(&kit.production_efs(EAST), "xa-src")
        .await
        .expect("source");
    let dest = create_file_system(&kit.efs(WEST), "xa-dst")
        .await
        .expect("dest");
    kit.advance(15.0);
    kit.efs(WEST)
        .update_file_system_protection()
        .file_system_id(&dest)
        .replication_overwrite_protection(ReplicationOverwriteProtection::Disabled)
        .send()
        .await
        .expect("unprotect");
    (source, dest)
}

fn grant(account: &str, actions: &[&str]) -> String {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": actions,
        "Resource": "*"
    }]})
    .to_string()
}

#[tokio::test]
async fn a_file_system_policy_is_put_read_and_deleted_and_a_bad_one_refused() {
    let kit = kit().await;
    let efs = kit.efs(EAST);
    let fs = create_file_system(&efs, "policy").await.expect("fs");
    kit.advance(15.0);
    let missing = efs
        .describe_file_system_policy()
        .file_system_id(&fs)
        .send()
        .await;
    assert_eq!(
        missing.err().map(|e| code(&e)).as_deref(),
        Some("PolicyNotFound")
    );
    let policy = grant(PRODUCTION, &["elasticfilesystem:DescribeFileSystems"]);
    let put = efs
        .put_file_system_policy()
        .file_system_id(&fs)
        .policy(&policy)
        .send()
        .await
        .expect("put");
    assert_eq!(put.policy(), Some(policy.as_str()));
    let read = efs
        .describe_file_system_policy()
        .file_system_id(&fs)
        .send()
        .await
        .expect("read");
    assert_eq!(read.policy(), Some(policy.as_str()));
    for bad in [
        "{not json",
        r#"{"Statement": [{"Effect": "Allow", "Action": "x"}]}"#,
    ] {
        let e = efs
            .put_file_system_policy()
            .file_system_id(&fs)
            .policy(bad)
            .send()
            .await
            .expect_err("refused");
        assert_eq!(code(&e), "InvalidPolicyException", "{bad}");
    }
    let lockout = json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "elasticfilesystem:PutFileSystemPolicy"}]}).to_string();
    let e = efs
        .put_file_system_policy()
        .file_system_id(&fs)
        .policy(&lockout)
        .send()
        .await
        .expect_err("the lockout check");
    assert_eq!(code(&e), "InvalidPolicyException");
    let read = efs
        .describe_file_system_policy()
        .file_system_id(&fs)
        .send()
        .await
        .expect("read");
    assert_eq!(
        read.policy(),
        Some(policy.as_str()),
        "a refused policy changes nothing"
    );
    efs.delete_file_system_policy()
        .file_system_id(&fs)
        .send()
        .await
        .expect("delete");
    let gone = efs
        .describe_file_system_policy()
        .file_system_id(&fs)
        .send()
        .await;
    assert_eq!(
        gone.err().map(|e| code(&e)).as_deref(),
        Some("PolicyNotFound")
    );
}

#[tokio::test]
async fn another_account_reaches_a_file_system_only_by_arn_and_only_as_its_policy_allows() {
    let kit = kit().await;
    let (source, _) = two_file_systems(&kit, &Setup::default()).await;
    let arn = fs_arn(EAST, PRODUCTION, &source);
    let dr = kit.efs(EAST);
    let listed = dr.describe_file_systems().send().await.expect("list");
    assert!(
        listed.file_systems().is_empty(),
        "another account's are not listed"
    );
    let by_id = dr
        .describe_file_systems()
        .file_system_id(&source)
        .send()
        .await;
    assert_eq!(
        by_id.err().map(|e| code(&e)).as_deref(),
        Some("FileSystemNotFound")
    );
    let by_arn = dr.describe_file_systems().file_system_id(&arn).send().await;
    assert_eq!(
        by_arn.err().map(|e| code(&e)).as_deref(),
        Some("AccessDeniedException")
    );
    kit.production_efs(EAST)
        .put_file_system_policy()
        .file_system_id(&source)
        .policy(grant(
            DR_ACCOUNT,
            &["elasticfilesystem:DescribeFileSystems"],
        ))
        .send()
        .await
        .expect("grant");
    let seen = dr
        .describe_file_systems()
        .file_system_id(&arn)
        .send()
        .await
        .expect("granted");
    assert_eq!(seen.file_systems()[0].owner_id(), PRODUCTION);
    let protect = dr
        .update_file_system_protection()
        .file_system_id(&arn)
        .replication_overwrite_protection(ReplicationOverwriteProtection::Disabled)
        .send()
        .await;
    assert_eq!(
        protect.err().map(|e| code(&e)).as_deref(),
        Some("AccessDeniedException"),
        "the grant names one action"
    );
}

#[tokio::test]
async fn creating_across_accounts_needs_the_arn_a_role_of_the_source_and_the_destination_grant() {
    let kit = kit().await;
    let (source, dest) = two_file_systems(&kit, &Setup::default()).await;
    let prod = kit.production_efs(EAST);
    let dest_arn = fs_arn(WEST, DR_ACCOUNT, &dest);
    let create = |fs: String, role: Option<&str>| {
        prod.create_replication_configuration()
            .source_file_system_id(&source)
            .destinations(
                DestinationToCreate::builder()
                    .region(WEST)
                    .file_system_id(fs)
                    .set_role_arn(role.map(str::to_string))
                    .build(),
            )
            .send()
    };
    let e = create(dest.clone(), Some(SOURCE_REPLICATION_ROLE))
        .await
        .expect_err("by ID");
    assert_eq!(code(&e), "FileSystemNotFound");
    let e = create(dest_arn.clone(), None).await.expect_err("no role");
    assert_eq!(code(&e), "BadRequest");
    assert!(
        e.message()
            .unwrap_or_default()
            .contains("RoleArn is required"),
        "{e:?}"
    );
    let e = create(dest_arn.clone(), Some(DR_REPLICATION_ROLE))
        .await
        .expect_err("a role of the wrong account");
    assert_eq!(code(&e), "ValidationException");
    let e = create(dest_arn.clone(), Some(SOURCE_REPLICATION_ROLE))
        .await
        .expect_err("no grant");
    assert_eq!(code(&e), "AccessDeniedException");
    assert!(
        kit.emu.shared.world().replications.is_empty(),
        "nothing was created"
    );
    kit.efs(WEST)
        .put_file_system_policy()
        .file_system_id(&dest)
        .policy(grant(PRODUCTION, &DESTINATION_GRANTS))
        .send()
        .await
        .expect("grant");
    create(dest_arn, Some(SOURCE_REPLICATION_ROLE))
        .await
        .expect("created");
    kit.advance(700.0);
    assert_eq!(status(&kit, WEST, &dest).0, "ENABLED");
}

#[tokio::test]
async fn a_missing_permission_pauses_the_sync_and_a_mended_one_resumes_it() {
    let kit = kit().await;
    let setup = Setup {
        replication_write: false,
        ..Setup::default()
    };
    let p = kit
        .cross_account_pair("xa-pause", &setup)
        .await
        .expect("pair");
    let (s, message) = status(&kit, WEST, &p.replica);
    assert_eq!(s, "PAUSED");
    let message = message.unwrap_or_default();
    assert!(message.starts_with("Authorization error."), "{message}");
    // The kind reading names the permission; the unkind one only AWS's documented words.
    let names = kit.emu.shared.world().variants.paused_names_the_permission;
    assert_eq!(message.contains("ReplicationWrite"), names, "{message}");
    let files = kit
        .file_system_files(WEST, &p.replica)
        .await
        .expect("files");
    assert!(files.is_empty(), "nothing was replicated: {files:?}");
    // The destination's grant taken away pauses it the same way.
    kit.add_accounts(&Setup::default());
    kit.advance(700.0);
    assert_eq!(status(&kit, WEST, &p.replica).0, "ENABLED");
    kit.efs(WEST)
        .delete_file_system_policy()
        .file_system_id(&p.replica)
        .send()
        .await
        .expect("revoke");
    kit.advance(700.0);
    let (s, message) = status(&kit, WEST, &p.replica);
    assert_eq!(s, "PAUSED", "{message:?}");
}

#[tokio::test]
async fn the_dr_account_deletes_both_sides_only_with_the_source_grant() {
    let kit = kit().await;
    let setup = Setup {
        source_policy: false,
        ..Setup::default()
    };
    let p = kit
        .cross_account_pair("xa-delete", &setup)
        .await
        .expect("pair");
    let dr = kit.efs(WEST);
    let e = dr
        .delete_replication_configuration()
        .source_file_system_id(&p.source)
        .send()
        .await
        .expect_err("no grant");
    assert_eq!(code(&e), "AccessDeniedException");
    assert!(e
        .message()
        .unwrap_or_default()
        .contains("LOCAL_CONFIGURATION_ONLY"));
    assert_eq!(status(&kit, EAST, &p.source).0, "ENABLED");
    assert_eq!(status(&kit, WEST, &p.replica).0, "ENABLED");
    // The production account cannot delete the DR account's side by the DR Region either.
    let e = kit
        .production_efs(WEST)
        .delete_replication_configuration()
        .source_file_system_id(&p.source)
        .send()
        .await
        .expect_err("not its side");
    assert_eq!(code(&e), "ReplicationNotFound");
    dr.delete_replication_configuration()
        .source_file_system_id(&p.source)
        .deletion_mode(aws_sdk_efs::types::DeletionMode::LocalConfigurationOnly)
        .send()
        .await
        .expect("its own side needs no grant");
    assert_eq!(status(&kit, WEST, &p.replica).0, "DELETING");
    kit.advance(300.0);
    assert_eq!(
        status(&kit, EAST, &p.source).0,
        "ERROR",
        "production's side is left behind"
    );
}

#[tokio::test]
async fn an_assumed_role_acts_in_its_account_within_its_actions_and_only_with_the_external_id() {
    use efs_dr_aws::{AwsContext, AwsSettings};
    use efs_dr_shared::domain::config::AssumedRole;
    use efs_dr_shared::domain::ids::{AccountId, Location, RegionName};
    use efs_dr_shared::domain::ports::{CallBudget, Efs};
    let kit = kit().await;
    let (source, _) = two_file_systems(&kit, &Setup::default()).await;
    let production = AccountId::parse(PRODUCTION).expect("account");
    let at = Location::new(
        Some(production.clone()),
        RegionName::parse(EAST).expect("region"),
    );
    let role = |external_id: &str| AssumedRole {
        arn: PRODUCTION_ROLE.into(),
        account: production.clone(),
        external_id: Some(external_id.into()),
    };
    let id = efs_dr_shared::domain::ids::FileSystemId::parse(&source).expect("id");
    let wrong = AwsContext::from_sdk_config(kit.sdk.clone(), AwsSettings::default())
        .assuming(&role("not-it"))
        .await;
    assert!(wrong
        .efs(at.clone(), CallBudget::Normal)
        .describe_file_system(&id)
        .await
        .is_err());
    let right = AwsContext::from_sdk_config(kit.sdk.clone(), AwsSettings::default())
        .assuming(&role(EXTERNAL_ID))
        .await;
    let efs = right.efs(at, CallBudget::Normal);
    let fs = efs
        .describe_file_system(&id)
        .await
        .expect("as the role")
        .expect("found");
    assert_eq!(fs.id, id);
    let calls = kit.emu.shared.calls();
    let last = calls.last().expect("a call");
    assert_eq!(
        (last.account.as_str(), last.role.as_deref()),
        (PRODUCTION, Some(PRODUCTION_ROLE))
    );
    // DeleteFileSystem is not among the role's actions.
    let e = efs
        .sdk()
        .delete_file_system()
        .file_system_id(&source)
        .send()
        .await
        .expect_err("outside the role");
    assert_eq!(code(&e), "AccessDeniedException");
    assert!(kit.emu.shared.world().file_system(EAST, &source).is_some());
}

#[tokio::test]
async fn under_the_unkind_reading_a_pause_says_only_what_aws_documents() {
    let mut config = EmulatorConfig::manual();
    config.seed.profile = Some(efs_dr_emulator::config::Profile::Unkind);
    let kit = Kit::start(config).await.expect("emulator");
    let setup = Setup {
        replication_write: false,
        ..Setup::default()
    };
    let p = kit
        .cross_account_pair("xa-unkind", &setup)
        .await
        .expect("pair");
    let (s, message) = status(&kit, WEST, &p.replica);
    assert_eq!(s, "PAUSED");
    assert_eq!(
        message.as_deref(),
        Some("Authorization error. Permissions issues prevent Amazon EFS from performing replication.")
    );
}
