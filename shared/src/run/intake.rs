//! Event intake: a function's input may arrive directly (manual invoke,
//! Step Functions) or inside SNS records; every request is parsed before any
//! runs, and their summaries merge into one result.

use crate::domain::error::{Error, Result};
use crate::run::summary::RunSummary;
use serde_json::Value;

/// The messages an event carries: the SNS messages of an SNS event (each
/// parsed as JSON), or the event itself.
pub fn unwrap_sns(event: Value) -> Result<Vec<Value>> {
    let Some(records) = event.get("Records") else {
        return Ok(vec![event]);
    };
    // No request has a Records field: one that is not a list is a broken SNS event.
    let Some(records) = records.as_array() else {
        return Err(Error::InvalidInput(format!(
            "field Records: expected a list of SNS records, got {}",
            preview(&records.to_string())
        )));
    };
    if records.is_empty() {
        return Err(Error::InvalidInput(
            "the event has an empty Records list".into(),
        ));
    }
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let Some(sns) = r.get("Sns").filter(|s| s.is_object()) else {
                return Err(Error::InvalidInput(format!(
                    "Records[{i}] is not an SNS record: field Records[{i}].Sns is missing or not an object"
                )));
            };
            let message = sns.get("Message").and_then(Value::as_str).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "Records[{i}] is not an SNS record: field Records[{i}].Sns.Message is missing or not a string"
                ))
            })?;
            serde_json::from_str(message).map_err(|e| {
                Error::InvalidInput(format!(
                    "field Records[{i}].Sns.Message is not JSON ({e}): {}",
                    preview(message)
                ))
            })
        })
        .collect()
}

/// Runs every request an event carries (one, or one per SNS record) and
/// returns one summary. All are parsed before any runs: one bad record
/// changes nothing.
pub async fn run_all<R, F, Fut>(
    workflow: &'static str,
    event: serde_json::Value,
    parse: fn(serde_json::Value) -> crate::Result<R>,
    run: F,
) -> crate::Result<serde_json::Value>
where
    F: Fn(R) -> Fut,
    Fut: std::future::Future<Output = crate::Result<RunSummary>>,
{
    let requests = unwrap_sns(event)?
        .into_iter()
        .map(parse)
        .collect::<crate::Result<Vec<R>>>()?;
    let mut summaries = Vec::new();
    for request in requests {
        summaries.push(run(request).await?);
    }
    let summary = if summaries.len() == 1 {
        summaries.remove(0)
    } else {
        RunSummary::new(
            workflow,
            summaries.into_iter().flat_map(|s| s.results).collect(),
        )
    };
    serde_json::to_value(&summary)
        .map_err(|e| Error::Topology(format!("cannot render the result: {e}")))
}

fn preview(s: &str) -> String {
    let p: String = s.chars().take(120).collect();
    if p.len() < s.len() {
        format!("{p}…")
    } else {
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_events_pass_through_and_sns_is_unwrapped() {
        let direct = serde_json::json!({"mode": "plan"});
        assert_eq!(unwrap_sns(direct.clone()).unwrap(), vec![direct]);
        let sns = serde_json::json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "{\"mode\":\"execute\"}"}}]});
        assert_eq!(
            unwrap_sns(sns).unwrap(),
            vec![serde_json::json!({"mode": "execute"})]
        );
        let bad = serde_json::json!({"Records": [{"Sns": {"Message": "hello"}}]});
        assert!(unwrap_sns(bad)
            .unwrap_err()
            .to_string()
            .contains("not JSON"));
    }

    #[test]
    fn a_broken_envelope_names_the_field() {
        for (event, field) in [
            (serde_json::json!({"Records": null}), "field Records:"),
            (
                serde_json::json!({"Records": [{"Sns": 7}]}),
                "field Records[0].Sns ",
            ),
            (
                serde_json::json!({"Records": [{"Sns": {"Message": 7}}]}),
                "field Records[0].Sns.Message ",
            ),
            (
                serde_json::json!({"Records": [{"Sns": {"Message": "{"}}]}),
                "field Records[0].Sns.Message is not JSON",
            ),
        ] {
            let message = unwrap_sns(event).unwrap_err().to_string();
            assert!(message.contains(field), "{message}");
        }
    }
}
