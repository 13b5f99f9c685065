//! Faults as the SDK experiences them, the call log, and requests without a
//! SigV4 credential scope.

use crate::common;

use aws_sdk_efs::error::ProvideErrorMetadata;
use common::*;
use std::time::{Duration, Instant};

fn faults(emu: &efs_dr_emulator::EmulatorHandle, update: serde_json::Value) {
    emu.shared
        .set_faults(&serde_json::from_value(update).expect("fault update"))
        .expect("faults applied");
}

#[tokio::test]
async fn throttling_is_a_400_throttling_exception_that_retries_absorb() {
    let emu = emulator().await;
    faults(
        &emu,
        serde_json::json!({"region": EAST, "throttle": {"rate": 20.0, "burst": 2.0}}),
    );
    let once = efs(&emu, EAST);
    let mut throttled = None;
    for _ in 0..5 {
        if let Err(e) = once.describe_file_systems().send().await {
            throttled = Some(e);
            break;
        }
    }
    let err = throttled.expect("a burst of 5 exceeds a bucket of 2");
    assert_eq!(code_and_status(&err), ("ThrottlingException".into(), 400));
    assert_eq!(err.message(), Some("Rate exceeded"));

    // The SDK's standard retry treats it as throttling and gets through.
    let patient = efs_with(&emu, EAST, 10, None);
    for _ in 0..10 {
        patient
            .describe_file_systems()
            .send()
            .await
            .expect("retries absorb throttling");
    }
    let calls = emu.shared.calls();
    assert!(calls
        .iter()
        .any(|c| c.error_code.as_deref() == Some("ThrottlingException")));
    // Another Region is not affected.
    for _ in 0..5 {
        efs(&emu, WEST)
            .describe_file_systems()
            .send()
            .await
            .expect("west unthrottled");
    }
    faults(&emu, serde_json::json!({"region": EAST, "throttle": null}));
    for _ in 0..5 {
        once.describe_file_systems()
            .send()
            .await
            .expect("throttle off");
    }
}

#[tokio::test]
async fn server_errors_latency_and_outage_modes() {
    let emu = emulator().await;
    faults(&emu, serde_json::json!({"region": EAST, "error_rate": 1.0}));
    let err = efs(&emu, EAST)
        .describe_file_systems()
        .send()
        .await
        .expect_err("always 500");
    assert_eq!(code_and_status(&err), ("InternalServerError".into(), 500));
    let err = cloudwatch(&emu, EAST)
        .describe_alarms()
        .send()
        .await
        .expect_err("cloudwatch 500 too");
    assert_eq!(err.code(), Some("InternalServiceError"));

    // A 30 % error rate is absorbed by retries, and the same RNG seed gives the same run.
    faults(&emu, serde_json::json!({"region": EAST, "error_rate": 0.3}));
    let patient = efs_with(&emu, EAST, 8, None);
    for _ in 0..20 {
        patient
            .describe_file_systems()
            .send()
            .await
            .expect("retried through 500s");
    }
    faults(
        &emu,
        serde_json::json!({"region": EAST, "error_rate": 0.0, "latency_ms": 150}),
    );
    let started = Instant::now();
    efs(&emu, EAST)
        .describe_file_systems()
        .send()
        .await
        .expect("slow but fine");
    assert!(started.elapsed() >= Duration::from_millis(150));
    faults(&emu, serde_json::json!({"region": EAST, "latency_ms": 0}));

    faults(&emu, serde_json::json!({"region": EAST, "outage": true}));
    let err = efs(&emu, EAST)
        .describe_file_systems()
        .send()
        .await
        .expect_err("refused");
    assert!(
        matches!(err, aws_sdk_efs::error::SdkError::DispatchFailure(_)),
        "{err:?}"
    );
    let err = sns(&emu, EAST)
        .list_topics()
        .send()
        .await
        .expect_err("every service of the Region");
    assert!(
        matches!(err, aws_sdk_sns::error::SdkError::DispatchFailure(_)),
        "{err:?}"
    );

    faults(
        &emu,
        serde_json::json!({"region": EAST, "outage_mode": "blackhole"}),
    );
    let started = Instant::now();
    let err = efs_with(&emu, EAST, 1, Some(Duration::from_millis(300)))
        .describe_file_systems()
        .send()
        .await
        .expect_err("times out");
    assert!(
        matches!(err, aws_sdk_efs::error::SdkError::TimeoutError(_)),
        "{err:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    // The other Region keeps answering.
    efs(&emu, WEST)
        .describe_file_systems()
        .send()
        .await
        .expect("west is fine");
    faults(&emu, serde_json::json!({"region": EAST, "outage": false}));
    efs(&emu, EAST)
        .describe_file_systems()
        .send()
        .await
        .expect("back");
}

#[tokio::test]
async fn call_log_records_region_service_operation_status_and_mutation() {
    let emu = emulator().await;
    let fs = available_fs(&emu, EAST, "log").await;
    let _ = efs(&emu, EAST)
        .describe_file_systems()
        .file_system_id("fs-0123456789abcdef0")
        .send()
        .await;
    efs(&emu, EAST)
        .describe_mount_targets()
        .file_system_id(&fs)
        .send()
        .await
        .expect("list");
    sns(&emu, WEST)
        .create_topic()
        .name("alerts")
        .send()
        .await
        .expect("topic");
    let calls = emu.shared.calls();
    let ops: Vec<(&str, &str, &str, u16, bool)> = calls
        .iter()
        .map(|c| {
            (
                c.region.as_str(),
                c.service.as_str(),
                c.operation.as_str(),
                c.status,
                c.mutating,
            )
        })
        .collect();
    assert_eq!(
        ops,
        vec![
            (EAST, "elasticfilesystem", "CreateFileSystem", 201, true),
            (EAST, "elasticfilesystem", "DescribeFileSystems", 404, false),
            (
                EAST,
                "elasticfilesystem",
                "DescribeMountTargets",
                200,
                false
            ),
            (WEST, "sns", "CreateTopic", 200, true),
        ]
    );
    assert_eq!(calls[1].error_code.as_deref(), Some("FileSystemNotFound"));
    let seqs: Vec<u64> = calls.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
}

/// A raw HTTP request, to send what no SDK would.
async fn raw(emu: &efs_dr_emulator::EmulatorHandle, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(emu.addr)
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn unsigned_requests_get_missing_authentication_token() {
    let emu = emulator().await;
    let reply = raw(
        &emu,
        "GET /2015-02-01/file-systems HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 403"), "{reply}");
    assert!(
        reply
            .to_ascii_lowercase()
            .contains("x-amzn-errortype: missingauthenticationtokenexception"),
        "{reply}"
    );
    assert!(reply.contains("Missing Authentication Token"), "{reply}");
    assert!(emu.shared.calls().is_empty(), "nothing reached a service");
}

#[tokio::test]
async fn control_api_over_http() {
    let emu = emulator().await;
    let fs = available_fs(&emu, EAST, "ctl").await;
    let post = |path: &str, body: String| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let w = raw(
        &emu,
        &post(
            "/_emulator/writes",
            format!(
                r#"{{"region":"{EAST}","file_system_id":"{fs}","path":"/f","content":"hello"}}"#
            ),
        ),
    )
    .await;
    assert!(w.starts_with("HTTP/1.1 200"), "{w}");
    let files = raw(
        &emu,
        &get(&format!(
            "/_emulator/files?region={EAST}&file_system_id={fs}"
        )),
    )
    .await;
    assert!(files.contains("\"content\":\"hello\""), "{files}");
    let before = emu.shared.now();
    let c = raw(
        &emu,
        &post("/_emulator/clock", r#"{"advance_seconds":120}"#.into()),
    )
    .await;
    assert!(c.contains("\"mode\":\"manual\""), "{c}");
    assert!((emu.shared.now() - before - 120.0).abs() < 1e-6);
    let f = raw(
        &emu,
        &post(
            "/_emulator/faults",
            format!(r#"{{"region":"{WEST}","latency_ms":5}}"#),
        ),
    )
    .await;
    assert!(f.contains("\"latency_ms\":5"), "{f}");
    let bad = raw(
        &emu,
        &post(
            "/_emulator/faults",
            r#"{"region":"us-east-1","outage":"yes"}"#.into(),
        ),
    )
    .await;
    assert!(
        bad.starts_with("HTTP/1.1 400") && bad.contains("Expected"),
        "{bad}"
    );
    let state = raw(&emu, &get("/_emulator/state")).await;
    assert!(state.contains(&fs), "{state}");
    let calls = raw(&emu, &get("/_emulator/calls?mutating=true")).await;
    assert!(
        calls.contains("CreateFileSystem") && !calls.contains("DescribeFileSystems"),
        "{calls}"
    );
    // A partial durations update changes only what it names.
    let set = raw(
        &emu,
        &post(
            "/_emulator/config",
            r#"{"durations":{"replication_delete":30}}"#.into(),
        ),
    )
    .await;
    assert!(set.starts_with("HTTP/1.1 200"), "{set}");
    let defaults = efs_dr_emulator::Durations::default();
    {
        let w = emu.shared.world();
        assert_eq!(w.durations.replication_delete, 30.0);
        assert_eq!(w.durations.initial_sync, defaults.initial_sync);
    }
    emu.shared.world().durations.mount_target_create = 7.0;
    raw(
        &emu,
        &post(
            "/_emulator/config",
            r#"{"durations":{"initial_sync":1}}"#.into(),
        ),
    )
    .await;
    assert_eq!(emu.shared.world().durations.mount_target_create, 7.0);
    for body in [
        r#"{"durations":{"replication_dlete":30}}"#,
        r#"{"durations":{"replication_delete":-1}}"#,
        r#"{"durations":{"replication_delete":"soon"}}"#,
    ] {
        let bad = raw(&emu, &post("/_emulator/config", body.into())).await;
        assert!(
            bad.starts_with("HTTP/1.1 400") && bad.contains("durations"),
            "{body}: {bad}"
        );
    }
    assert_eq!(emu.shared.world().durations.replication_delete, 30.0);
    let unknown = raw(&emu, &get("/_emulator/nope")).await;
    assert!(
        unknown.starts_with("HTTP/1.1 404") && unknown.contains("docs/emulator.md"),
        "{unknown}"
    );
}

#[tokio::test]
async fn a_blip_ends_by_itself_and_a_partial_outage_spares_other_services_and_replication() {
    let emu = emulator().await;
    faults(
        &emu,
        serde_json::json!({"region": EAST, "outage": true, "outage_seconds": 30.0}),
    );
    let east = efs_with(&emu, EAST, 1, Some(Duration::from_millis(500)));
    assert!(
        east.describe_file_systems().send().await.is_err(),
        "down during the blip"
    );
    emu.shared.advance(31.0);
    east.describe_file_systems()
        .send()
        .await
        .expect("up again after 30 emulated seconds");

    // Only EFS down: EFS calls fail, CloudWatch in the same Region answers,
    // and the Region counts as up for replication.
    faults(
        &emu,
        serde_json::json!({"region": EAST, "outage": true, "outage_services": ["elasticfilesystem"]}),
    );
    assert!(east.describe_file_systems().send().await.is_err());
    cloudwatch(&emu, EAST)
        .describe_alarms()
        .send()
        .await
        .expect("CloudWatch answers");
    assert!(
        emu.shared.world().is_reachable(EAST),
        "replication keeps running"
    );
    let bad: Result<efs_dr_emulator::FaultUpdate, _> = serde_json::from_value(
        serde_json::json!({"region": EAST, "outage": true, "outage_services": ["ec2"]}),
    );
    let err = emu
        .shared
        .set_faults(&bad.expect("parses"))
        .expect_err("unknown service");
    assert!(err.contains("ec2"), "{err}");
}
