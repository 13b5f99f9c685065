//! The built binary, run outside Lambda as an operator would during an
//! incident: one event from a file or stdin, JSON out, exit code.

use aws_sdk_efs::config::{BehaviorVersion, Credentials, Region};
use efs_dr_emulator::{start, ClockMode, EmulatorConfig, EmulatorHandle};
use std::io::Write;
use std::process::{Command, Output, Stdio};

async fn scaled_emulator() -> EmulatorHandle {
    let config = EmulatorConfig {
        clock: ClockMode::Scaled { scale: 600.0 },
        ..Default::default()
    };
    start(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("emulator")
}

fn efs(emu: &EmulatorHandle, region: &str) -> aws_sdk_efs::Client {
    let conf = aws_sdk_efs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(emu.url())
        .credentials_provider(Credentials::new("AKID", "secret", None, None, "test"))
        .build();
    aws_sdk_efs::Client::from_conf(conf)
}

async fn pair(emu: &EmulatorHandle) -> (String, String) {
    let east = efs(emu, "us-east-1");
    let src = east
        .create_file_system()
        .creation_token("local")
        .send()
        .await
        .expect("fs")
        .file_system_id;
    emu.shared.advance(15.0);
    let out = east
        .create_replication_configuration()
        .source_file_system_id(&src)
        .destinations(
            aws_sdk_efs::types::DestinationToCreate::builder()
                .region("us-west-2")
                .build(),
        )
        .send()
        .await
        .expect("replicate");
    emu.shared.advance(700.0);
    (src, out.destinations()[0].file_system_id().to_string())
}

/// Runs the failover binary with `args`, feeding `stdin`, against the emulator.
async fn run_binary(emu: &EmulatorHandle, args: Vec<String>, stdin: &str) -> Output {
    let url = emu.url();
    let stdin = stdin.to_string();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_failover"))
            .args(args)
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .env("AWS_ENDPOINT_URL", url)
            .env("AWS_REGION", "us-west-2")
            .env("AWS_ACCESS_KEY_ID", "AKID")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("EFS_DR_POLL_MS", "50")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the failover binary");
        if let Some(mut input) = child.stdin.take() {
            let _ = input.write_all(stdin.as_bytes());
        }
        child.wait_with_output().expect("wait")
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_an_event_file_to_completion_and_prints_the_report() {
    let emu = scaled_emulator().await;
    let (src, dst) = pair(&emu).await;
    let sample = std::fs::read_to_string(
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
            .join("../../events/failover/direct-execute.json"),
    )
    .expect("sample");
    let event = sample
        .replace("fs-0aaaaaaaaaaaaaaaa", &src)
        .replace("fs-0bbbbbbbbbbbbbbbb", &dst);
    let dir = std::env::temp_dir().join(format!("efs-dr-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let path = dir.join("event.json");
    std::fs::write(&path, event).expect("write event");

    let out = run_binary(&emu, vec![path.display().to_string()], "").await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(result["status"], "completed");
    // Logs to a pipe (a file, CloudWatch Logs) carry no terminal colour codes.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("INFO"), "logs expected on stderr: {stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in piped logs: {stderr}"
    );
    let report = &result["results"][0];
    assert_eq!(report["destination"]["file_system_id"], dst.as_str());
    assert_eq!(report["mount_targets"].as_array().map(Vec::len), Some(2));
    assert!(report["recovery_point"]["recovery_point_seconds"]
        .as_f64()
        .is_some());
    let d = efs(&emu, "us-west-2")
        .describe_file_systems()
        .file_system_id(&dst)
        .send()
        .await
        .expect("describe");
    let protection = d.file_systems()[0]
        .file_system_protection()
        .and_then(|p| p.replication_overwrite_protection())
        .map(|p| p.as_str().to_string());
    assert_eq!(protection.as_deref(), Some("ENABLED"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_clearly_without_touching_aws() {
    let emu = scaled_emulator().await;
    let out = run_binary(
        &emu,
        vec![],
        r#"{"source_file_system_id": "fs-bad", "source_region": "us-east-1"}"#,
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let result: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("JSON error on stdout");
    assert_eq!(result["errorType"], "InvalidInput");
    assert!(
        result["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("fs-bad") && m.contains("fs-0123456789abcdef0")),
        "{result}"
    );
    assert!(emu.shared.calls().is_empty(), "no AWS call for bad input");

    let out = run_binary(&emu, vec!["-".into()], "this is not json").await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid JSON"));
}
