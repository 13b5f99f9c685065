//! The README's main command, run as a user runs it.

use std::process::Command;

#[test]
fn the_drill_passes_and_accounts_for_every_write() {
    drill_passes(&["drill", "--json"]);
}

/// The same disaster with the source in a production account: failover from
/// the DR account, failback through the production role.
#[test]
fn the_cross_account_drill_passes_and_accounts_for_every_write() {
    let result = drill_passes(&["drill", "--json", "--cross-account"]);
    let details: Vec<&str> = result["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["step"] == "accounts")
        .filter_map(|s| s["detail"].as_str())
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("111111111111") && d.contains("role/")),
        "{details:?}"
    );
    let policy_set = result["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["detail"].as_str())
        .any(|d| d.starts_with("file system policy"));
    assert!(policy_set, "failback grants replication into the original");
}

fn drill_passes(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_efs-dr"))
        .args(args)
        .output()
        .expect("run efs-dr drill");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(&stdout).expect("JSON result");
    assert_eq!(result["verdict"], "pass", "{result:#}");
    assert!(result["summary"]
        .as_str()
        .is_some_and(|s| s.contains("0 beyond it")));
    assert!(result["recovery_point_seconds"]
        .as_f64()
        .is_some_and(|s| s > 0.0));
    // How long it took is reported (benchmarks judge speed, not this test).
    assert!(
        result["real_seconds"].as_f64().is_some_and(|s| s > 0.0),
        "real_seconds reported: {}",
        result["real_seconds"]
    );
    let steps: Vec<&str> = result["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["step"].as_str())
        .collect();
    // The original took writes after its last replication: they are preserved,
    // with the command that restores them, and judged by content.
    let writes = result["writes"].as_array().expect("writes judged");
    assert!(
        writes
            .iter()
            .all(|w| w["class"] != "LOST" && w["class"] != "STALE"),
        "{writes:#?}"
    );
    let preserved: Vec<&serde_json::Value> = writes
        .iter()
        .filter(|w| w["class"] == "preserved")
        .collect();
    assert!(
        !preserved.is_empty(),
        "the original's last write is preserved: {writes:#?}"
    );
    let rp = result["preserved"][0]["recovery_point_arn"]
        .as_str()
        .expect("recovery point");
    assert!(preserved.iter().all(|w| w["where"] == rp));
    assert!(result["preserved"][0]["restore_command"]
        .as_str()
        .is_some_and(|c| c.contains(rp)));
    for wanted in ["DISASTER", "failover", "failback", "verdict"] {
        assert!(steps.contains(&wanted), "{wanted} in {steps:?}");
    }
    result
}

#[test]
fn status_without_configuration_says_what_to_set() {
    let out = Command::new(env!("CARGO_BIN_EXE_efs-dr"))
        .arg("status")
        .env_remove("EFS_DR_PAIRS")
        .env_remove("EFS_DR_SOURCE_FILE_SYSTEM_ID")
        .env("AWS_REGION", "us-west-2")
        .output()
        .expect("run efs-dr status");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("EFS_DR_PAIRS"));
}
