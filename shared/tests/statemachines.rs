//! Every Task state that invokes a function sends a payload that function
//! accepts: the payload is built from the state's Parameters against a sample
//! execution input and parsed with the function's own request type (which
//! rejects unknown fields and malformed IDs).

use efs_dr_shared::workflows::failback::FailbackRequest;
use efs_dr_shared::workflows::failover::FailoverRequest;
use efs_dr_shared::workflows::mount_target_ensure::ReadinessRequest;
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// `$.a.b[0].c` against `input`.
fn resolve(path: &str, input: &Value) -> Value {
    let mut cur = input;
    let rest = path.strip_prefix("$").unwrap_or(path);
    for part in rest.split('.').filter(|p| !p.is_empty()) {
        let (key, index) = match part.find('[') {
            Some(i) => (
                &part[..i],
                part[i + 1..part.len() - 1].parse::<usize>().ok(),
            ),
            None => (part, None),
        };
        cur = match cur.get(key) {
            Some(v) => v,
            None => return Value::Null,
        };
        if let Some(i) = index {
            cur = match cur.get(i) {
                Some(v) => v,
                None => return Value::Null,
            };
        }
    }
    cur.clone()
}

/// Parameters with `key.$` paths filled in, as Step Functions does.
fn build(template: &Value, input: &Value) -> Value {
    match template {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                match (k.strip_suffix(".$"), v) {
                    (Some(key), Value::String(path)) if path.starts_with("$$") => {
                        out.insert(key.to_string(), json!("context-value"));
                    }
                    (Some(key), Value::String(path)) => {
                        let resolved = resolve(path, input);
                        // A path to a field the sample leaves out would fail the execution.
                        assert!(!resolved.is_null(), "{path} is not in the sample input");
                        out.insert(key.to_string(), resolved);
                    }
                    _ => {
                        out.insert(k.clone(), build(v, input));
                    }
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn tasks(states: &Value, out: &mut Vec<(String, Value)>) {
    for (name, s) in states.as_object().into_iter().flatten() {
        if s["Type"] == "Task" && s["Resource"] == "arn:aws:states:::lambda:invoke" {
            out.push((name.clone(), s["Parameters"].clone()));
        }
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(inner) = s.get(key) {
                tasks(&inner["States"], out);
            }
        }
        for b in s["Branches"].as_array().into_iter().flatten() {
            tasks(&b["States"], out);
        }
    }
}

fn sample_input(machine: &str) -> Value {
    let step = json!({"summary": {"status": "completed", "done": true, "results": [{"destination": {"file_system_id": "fs-0fedcba9876543210", "region": "us-west-2"}, "phase": "completed"}]}});
    match machine {
        "failover" => json!({
            "source_file_system_id": "fs-0123456789abcdef0", "source_region": "us-east-1",
            "destination_file_system_id": "fs-0fedcba9876543210", "destination_region": "us-west-2",
            "max_rpo_seconds": 900, "force": false, "reason": "test", "require_approval": true, "step": step
        }),
        "failback" => json!({
            "original_file_system_id": "fs-0123456789abcdef0", "original_region": "us-east-1",
            "replica_file_system_id": "fs-0fedcba9876543210", "replica_region": "us-west-2",
            "strategy": "keep_changes", "acknowledge_data_loss": false, "force": false, "reason": "test",
            "original_mount_targets": [{"subnet_id": "subnet-0123456789abcdef0", "security_groups": ["sg-0123456789abcdef0"]}],
            "approval": {"cutover_mark": "2026-11-21T16:00:00Z"}, "step": step
        }),
        _ => json!({
            "pair": {"source_file_system_id": "fs-0123456789abcdef0", "source_region": "us-east-1", "destination_file_system_id": "fs-0fedcba9876543210", "destination_region": "us-west-2"},
            "pairs": [], "max_rpo_seconds": 900, "force": false, "reason": "test", "step": step
        }),
    }
}

#[test]
fn every_lambda_task_sends_a_payload_its_function_accepts() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("../statemachines");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("statemachines/") {
        let path = entry.expect("entry").path();
        let machine = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .trim_end_matches(".asl.json")
            .to_string();
        let definition: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read"))
                .expect("ASL is JSON");
        let mut found = Vec::new();
        tasks(&definition["States"], &mut found);
        assert!(!found.is_empty(), "{machine} invokes functions");
        let input = sample_input(&machine);
        for (state, params) in found {
            let payload = build(&params["Payload"], &input);
            let function = params["FunctionName"].as_str().unwrap_or("");
            let parsed = match function {
                "${FailoverFunctionArn}" => FailoverRequest::from_json(payload.clone()).map(|_| ()),
                "${FailbackFunctionArn}" => FailbackRequest::from_json(payload.clone()).map(|_| ()),
                "${MountTargetEnsureFunctionArn}" => {
                    ReadinessRequest::from_json(payload.clone()).map(|_| ())
                }
                other => panic!("{machine}.{state}: unknown function {other}"),
            };
            assert!(
                parsed.is_ok(),
                "{machine}.{state} -> {function}: {:?}\n{payload:#}",
                parsed.err()
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "{checked} tasks checked");
}
