//! Every Task state that invokes a function sends a payload that function
//! accepts: sample execution inputs (the least a caller gives, and every
//! field) go through the Pass states the definition starts with (the
//! defaults), the Map's ItemSelector and each loop's Start state as Step
//! Functions evaluates them; each task's payload is then built from its
//! Parameters (paths and the intrinsic functions used there) and parsed with
//! the function's own request type (which rejects unknown fields and
//! malformed IDs).

use efs_dr_shared::workflows::failback::FailbackRequest;
use efs_dr_shared::workflows::failover::FailoverRequest;
use efs_dr_shared::workflows::mount_target_ensure::ReadinessRequest;
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// `$.a.b[0].c` against `input`; None where a step is missing (Step Functions
/// fails the execution there, before any Catch).
fn resolve(path: &str, input: &Value) -> Option<Value> {
    let mut cur = input;
    let rest = path.strip_prefix('$').unwrap_or(path);
    for part in rest.split('.').filter(|p| !p.is_empty()) {
        let (key, index) = match part.find('[') {
            Some(i) => (
                &part[..i],
                part[i + 1..part.len() - 1].parse::<usize>().ok(),
            ),
            None => (part, None),
        };
        cur = cur.get(key)?;
        if let Some(i) = index {
            cur = cur.get(i)?;
        }
    }
    Some(cur.clone())
}

/// The arguments of an intrinsic function call, split at the top-level commas
/// (not inside quotes or nested calls).
fn split_args(args: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut escaped, mut start) = (0usize, false, false, 0usize);
    for (i, c) in args.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                out.push(args[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = args[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

/// A path, a literal or an intrinsic function call, as Step Functions
/// evaluates it (the functions the definitions use on the way to a payload).
/// A path to a missing field panics: it would fail the execution.
fn eval(expr: &str, input: &Value, context: &Value) -> Value {
    let expr = expr.trim();
    if let Some(literal) = expr.strip_prefix('\'').and_then(|e| e.strip_suffix('\'')) {
        let mut out = String::new();
        let mut chars = literal.chars();
        while let Some(c) = chars.next() {
            out.push(if c == '\\' {
                chars.next().unwrap_or('\\')
            } else {
                c
            });
        }
        return Value::String(out);
    }
    if let Some(path) = expr.strip_prefix("$$") {
        return resolve(&format!("${path}"), context).unwrap_or_else(|| json!("context-value"));
    }
    if expr.starts_with('$') {
        return resolve(expr, input)
            .unwrap_or_else(|| panic!("{expr} is not in the state at this point:\n{input:#}"));
    }
    if let (Some(open), Some(inner)) = (expr.find('('), expr.strip_suffix(')')) {
        let name = &expr[..open];
        let args: Vec<Value> = split_args(&inner[open + 1..])
            .into_iter()
            .map(|a| eval(a, input, context))
            .collect();
        return match name {
            "States.StringToJson" => {
                serde_json::from_str(args[0].as_str().expect("StringToJson takes a string"))
                    .unwrap_or_else(|e| panic!("{expr}: {e}"))
            }
            "States.JsonToString" => Value::String(args[0].to_string()),
            "States.JsonMerge" => {
                assert_eq!(
                    args[2],
                    json!(false),
                    "{expr}: Step Functions merges shallowly only"
                );
                let mut merged = args[0]
                    .as_object()
                    .unwrap_or_else(|| panic!("{expr}: the first argument is not an object"))
                    .clone();
                for (k, v) in args[1]
                    .as_object()
                    .unwrap_or_else(|| panic!("{expr}: the second argument is not an object"))
                {
                    merged.insert(k.clone(), v.clone());
                }
                Value::Object(merged)
            }
            "States.MathAdd" => {
                json!(args[0].as_i64().unwrap_or(0) + args[1].as_i64().unwrap_or(0))
            }
            other => panic!("{other} is not evaluated by this test: {expr}"),
        };
    }
    serde_json::from_str(expr).unwrap_or_else(|_| panic!("cannot evaluate {expr}"))
}

/// Parameters (or an ItemSelector) with `key.$` values evaluated, as Step Functions does.
fn build(template: &Value, input: &Value, context: &Value) -> Value {
    match template {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                match (k.strip_suffix(".$"), v) {
                    (Some(key), Value::String(expr)) => {
                        out.insert(key.to_string(), eval(expr, input, context));
                    }
                    _ => {
                        out.insert(k.clone(), build(v, input, context));
                    }
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// A Pass state's output: its Parameters or Result, placed at its ResultPath
/// (absent or "$": the whole state; null: unchanged; "$.key").
fn pass(state: &Value, input: &Value, context: &Value) -> Value {
    let result = match (state.get("Parameters"), state.get("Result")) {
        (Some(p), _) => build(p, input, context),
        (None, Some(r)) => r.clone(),
        (None, None) => input.clone(),
    };
    match state.get("ResultPath") {
        None => result,
        Some(Value::Null) => input.clone(),
        Some(Value::String(p)) if p == "$" => result,
        Some(Value::String(p)) => {
            let key = p
                .strip_prefix("$.")
                .unwrap_or_else(|| panic!("ResultPath {p}"));
            assert!(
                !key.contains('.') && !key.contains('['),
                "ResultPath {p}: only one level is evaluated here"
            );
            let mut out = input.clone();
            out.as_object_mut()
                .expect("the state is an object")
                .insert(key.to_string(), result);
            out
        }
        Some(other) => panic!("ResultPath {other}"),
    }
}

/// The execution input through the Pass states the definition starts with.
fn after_leading_passes(definition: &Value, input: &Value) -> Value {
    let states = &definition["States"];
    let mut state = input.clone();
    let mut name = definition["StartAt"].as_str().unwrap_or("").to_string();
    while states[&name]["Type"] == "Pass" {
        state = pass(&states[&name], &state, &json!({}));
        name = states[&name]["Next"].as_str().unwrap_or("").to_string();
    }
    state
}

/// A Lambda task, the States object it is in, and the Map state that runs
/// that States object, if any.
struct LambdaTask {
    name: String,
    params: Value,
    scope: Value,
    map: Option<Value>,
}

fn tasks(states: &Value, map: Option<&Value>, out: &mut Vec<LambdaTask>) {
    for (name, s) in states.as_object().into_iter().flatten() {
        if s["Type"] == "Task" && s["Resource"] == "arn:aws:states:::lambda:invoke" {
            out.push(LambdaTask {
                name: name.clone(),
                params: s["Parameters"].clone(),
                scope: states.clone(),
                map: map.cloned(),
            });
        }
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(inner) = s.get(key) {
                tasks(&inner["States"], Some(s), out);
            }
        }
        for b in s["Branches"].as_array().into_iter().flatten() {
            tasks(&b["States"], map, out);
        }
    }
}

/// Execution inputs: the least a caller gives (the defaults fill the rest),
/// and every field.
fn samples(machine: &str) -> Vec<Value> {
    match machine {
        "failover" => vec![
            json!({
                "source_file_system_id": "fs-0123456789abcdef0", "source_region": "us-east-1",
                "destination_file_system_id": "fs-0fedcba9876543210", "destination_region": "us-west-2"
            }),
            json!({
                "source_file_system_id": "fs-0123456789abcdef0", "source_region": "us-east-1",
                "destination_file_system_id": "fs-0fedcba9876543210", "destination_region": "us-west-2",
                "max_rpo_seconds": 900, "force": false, "reason": "test", "require_approval": true
            }),
        ],
        "failback" => vec![
            json!({
                "original_file_system_id": "fs-0123456789abcdef0", "original_region": "us-east-1",
                "replica_file_system_id": "fs-0fedcba9876543210", "replica_region": "us-west-2"
            }),
            json!({
                "original_file_system_id": "fs-0123456789abcdef0", "original_region": "us-east-1",
                "replica_file_system_id": "fs-0fedcba9876543210", "replica_region": "us-west-2",
                "strategy": "keep_changes", "acknowledge_data_loss": false, "force": false, "reason": "test",
                "original_mount_targets": [{"subnet_id": "subnet-0123456789abcdef0", "security_groups": ["sg-0123456789abcdef0"]}]
            }),
        ],
        _ => {
            let pair = json!({"source_file_system_id": "fs-0123456789abcdef0", "source_region": "us-east-1", "destination_file_system_id": "fs-0fedcba9876543210", "destination_region": "us-west-2"});
            vec![
                json!({"pairs": [pair.clone()]}),
                json!({"pairs": [pair], "max_rpo_seconds": 900, "force": false, "reason": "test"}),
            ]
        }
    }
}

#[test]
fn every_lambda_task_sends_a_payload_its_function_accepts() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("../statemachines");
    // What earlier states put in the state: a function's step result and the approval.
    let step = json!({"summary": {"status": "completed", "done": true, "results": [{
        "source": {"file_system_id": "fs-0123456789abcdef0", "region": "us-east-1"},
        "destination": {"file_system_id": "fs-0fedcba9876543210", "region": "us-west-2"},
        "phase": "completed"}]}});
    let approval = json!({"cutover_mark": "2026-11-21T16:00:00Z"});
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
        tasks(&definition["States"], None, &mut found);
        assert!(!found.is_empty(), "{machine} invokes functions");
        for input in samples(&machine) {
            let mut base = after_leading_passes(&definition, &input);
            let fields = base.as_object_mut().expect("the state is an object");
            fields.insert("step".into(), step.clone());
            fields.insert("approval".into(), approval.clone());
            for t in &found {
                let mut state = match &t.map {
                    Some(map) => {
                        let items = resolve(map["ItemsPath"].as_str().unwrap_or("$"), &base)
                            .expect("the Map's items are in the state");
                        let item = items[0].clone();
                        let context = json!({"Map": {"Item": {"Index": 0, "Value": item.clone()}}});
                        let mut s = match map.get("ItemSelector") {
                            Some(selector) => build(selector, &base, &context),
                            None => item,
                        };
                        s.as_object_mut()
                            .expect("the item state is an object")
                            .insert("step".into(), step.clone());
                        s
                    }
                    None => base.clone(),
                };
                // The Pass that starts the task's loop (poll 0).
                if let Some(start) = t.scope.get(format!("{}Start", t.name)) {
                    state = pass(start, &state, &json!({}));
                }
                let payload = match t.params.get("Payload.$") {
                    Some(Value::String(expr)) => eval(expr, &state, &json!({})),
                    _ => build(&t.params["Payload"], &state, &json!({})),
                };
                let function = t.params["FunctionName"].as_str().unwrap_or("");
                let parsed = match function {
                    "${FailoverFunctionArn}" => {
                        FailoverRequest::from_json(payload.clone()).map(|_| ())
                    }
                    "${FailbackFunctionArn}" => {
                        FailbackRequest::from_json(payload.clone()).map(|_| ())
                    }
                    "${MountTargetEnsureFunctionArn}" => {
                        ReadinessRequest::from_json(payload.clone()).map(|_| ())
                    }
                    other => panic!("{machine}.{}: unknown function {other}", t.name),
                };
                assert!(
                    parsed.is_ok(),
                    "{machine}.{} -> {function}: {:?}\ninput: {input}\n{payload:#}",
                    t.name,
                    parsed.err()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "{checked} tasks checked");
}
