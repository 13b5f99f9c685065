//! A function's report (its RunSummary: the result of one pass, as the
//! state machines keep it) for a person: a plan at an approval step, or
//! the final report of an execution.

use super::human;
use serde_json::Value;

/// A RunSummary for a person: its summary, each pair with its phase, the
/// steps a plan would take, the recovery point, errors, warnings and next steps.
pub(crate) fn lines(summary: &Value, plan: bool) -> Vec<String> {
    let mut lines: Vec<String> = summary["summary"]
        .as_str()
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default();
    let loc = |l: &Value| {
        format!(
            "{} ({})",
            l["file_system_id"].as_str().unwrap_or("?"),
            l["region"].as_str().unwrap_or("?")
        )
    };
    for r in summary["results"].as_array().into_iter().flatten() {
        lines.push(format!(
            "  {} -> {}: {}, phase {}",
            loc(&r["source"]),
            loc(&r["destination"]),
            r["status"].as_str().unwrap_or("?"),
            r["phase"].as_str().unwrap_or("?")
        ));
        if plan {
            let planned = r["timeline"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["outcome"] == "planned");
            for (i, s) in planned.enumerate() {
                lines.push(format!(
                    "    {}. {}: {}",
                    i + 1,
                    s["name"].as_str().unwrap_or("?"),
                    s["detail"].as_str().unwrap_or("")
                ));
            }
        }
        if let Some(rp) = r["recovery_point"].as_object() {
            let seconds = rp
                .get("recovery_point_seconds")
                .and_then(Value::as_f64)
                .unwrap_or_default();
            let last = rp
                .get("last_replicated_timestamp")
                .and_then(Value::as_str)
                .unwrap_or("?");
            lines.push(if plan {
                format!(
                    "  recovery point if promoted now: last replicated {last}, {} behind",
                    human(seconds)
                )
            } else {
                format!(
                    "  recovery point: last replicated {last}, {} before the promotion",
                    human(seconds)
                )
            });
        }
        if let Some(e) = r["error"].as_object() {
            lines.push(format!(
                "  error: {} - {}",
                e.get("error_type").and_then(Value::as_str).unwrap_or("?"),
                e.get("message").and_then(Value::as_str).unwrap_or("")
            ));
        }
        for w in r["warnings"].as_array().into_iter().flatten() {
            lines.push(format!("  WARNING: {}", w.as_str().unwrap_or_default()));
        }
        // A plan's next steps tell how to go on by invoking the function;
        // at an approval step the answer is the next step.
        if !plan {
            for n in r["next_steps"].as_array().into_iter().flatten() {
                lines.push(format!("  NEXT: {}", n.as_str().unwrap_or_default()));
            }
        }
    }
    lines
}
