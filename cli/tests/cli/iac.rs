//! `efs-dr iac --terraform` against the emulator: the printed Terraform
//! parses, and its IDs are the emulator's, before and after a promotion.

use efs_dr_emulator::EmulatorConfig;
use efs_dr_shared::domain::ids::{FileSystemId, RegionName};
use efs_dr_shared::workflows::discovery::failover_source_tag;
use efs_dr_testkit::hcl::{attr, imports};
use efs_dr_testkit::{Kit, EAST, WEST};
use std::process::Command;

fn iac(kit: &Kit, pairs: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_efs-dr"))
        .args(["iac", "--terraform"])
        .env("AWS_ENDPOINT_URL", kit.emu.url())
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", WEST)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("EFS_DR_PAIRS", pairs)
        .env_remove("EFS_DR_SOURCE_FILE_SYSTEM_ID")
        .output()
        .expect("run efs-dr iac");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_follows_the_promotion() {
    let kit = Kit::start(EmulatorConfig::manual())
        .await
        .expect("emulator");
    let (src, dst) = kit.replicated_pair("cli-iac").await.expect("pair");
    // Only the source is configured: the replica is found as AWS shows it.
    let pairs = format!(r#"[{{"source_file_system_id": "{src}", "source_region": "{EAST}"}}]"#);

    let (ok, out, err) = iac(&kit, &pairs);
    assert!(ok, "{out}{err}");
    let body = hcl::parse(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(attr(&body, "efs_source_file_system_id"), Some(src.clone()));
    assert_eq!(
        attr(&body, "efs_destination_file_system_id"),
        Some(dst.clone())
    );
    assert!(imports(&body).contains(&(
        "aws_efs_replication_configuration.replica".into(),
        src.clone()
    )));

    // Promoted, and tagged as a failover tags it.
    kit.efs(WEST)
        .delete_replication_configuration()
        .source_file_system_id(&src)
        .send()
        .await
        .expect("delete");
    kit.emu.shared.advance(600.0);
    kit.efs(WEST)
        .tag_resource()
        .resource_id(&dst)
        .tags(
            aws_sdk_efs::types::Tag::builder()
                .key(efs_dr_shared::domain::tags::FAILOVER_SOURCE)
                .value(failover_source_tag(
                    &FileSystemId::parse(&src).expect("id"),
                    &RegionName::parse(EAST).expect("region"),
                ))
                .build()
                .expect("tag"),
        )
        .send()
        .await
        .expect("tag");
    let (ok, out, err) = iac(&kit, &pairs);
    assert!(ok, "{out}{err}");
    let body = hcl::parse(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(attr(&body, "efs_source_file_system_id"), Some(dst.clone()));
    assert_eq!(attr(&body, "efs_replication_enabled"), Some("false".into()));
    assert_eq!(
        imports(&body),
        vec![
            ("aws_efs_file_system.primary".to_string(), src.clone()),
            ("aws_efs_file_system.replica".to_string(), dst.clone()),
        ]
    );
    assert_eq!(
        body.blocks()
            .filter(|b| b.identifier() == "removed")
            .count(),
        1,
        "{out}"
    );
}
