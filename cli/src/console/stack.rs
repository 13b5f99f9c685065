//! The deployed stack, as CloudFormation's DescribeStacks gives it: its
//! Outputs name the state machines and carry the configured pair's request.

use super::{aws_failure, Workflow};
use crate::error::{CliError, CliResult};
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub(crate) struct Stack {
    pub name: String,
    pub region: String,
    outputs: BTreeMap<String, String>,
}

impl Stack {
    pub async fn load(
        cfn: &aws_sdk_cloudformation::Client,
        name: &str,
        region: &str,
    ) -> CliResult<Stack> {
        let described = match cfn.describe_stacks().stack_name(name).send().await {
            Ok(d) => d,
            // CloudFormation answers an unknown stack with ValidationError "Stack with id X does not exist".
            Err(e)
                if e.code() == Some("ValidationError")
                    && e.message().is_some_and(|m| m.contains("does not exist")) =>
            {
                return Err(CliError::Console(format!(
                    "stack {name} not found in {region}: pass --stack with the name you deployed (sam deploy --stack-name), and --region with the DR Region it is in"
                )))
            }
            Err(e) => return Err(aws_failure("CloudFormation DescribeStacks", &e)),
        };
        let Some(stack) = described.stacks().first() else {
            return Err(CliError::Console(format!(
                "stack {name} not found in {region}: pass --stack with the name you deployed (sam deploy --stack-name)"
            )));
        };
        let outputs = stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
            .collect();
        Ok(Stack {
            name: stack.stack_name().unwrap_or(name).to_string(),
            region: region.to_string(),
            outputs,
        })
    }

    pub fn output(&self, key: &str) -> CliResult<&str> {
        self.outputs.get(key).map(String::as_str).ok_or_else(|| {
            CliError::Console(format!(
                "stack {} in {} has no output {key}: is it an efs-dr stack, deployed from the current template.yaml? (sam deploy)",
                self.name, self.region
            ))
        })
    }

    /// The state machine of `workflow`.
    pub fn machine(&self, workflow: Workflow) -> CliResult<&str> {
        self.output(workflow.machine_output())
    }

    /// The request the stack's own start command sends for its configured
    /// pair (`--input '{...}'`), or an empty one: the functions then take
    /// the pair from their EFS_DR_PAIRS.
    pub fn start_input(&self, workflow: Workflow) -> Map<String, Value> {
        self.outputs
            .get(workflow.start_output())
            .and_then(|c| quoted_input(c.as_str()))
            .unwrap_or_default()
    }
}

/// The JSON object between `--input '` and the next `'` of a printed command.
fn quoted_input(command: &str) -> Option<Map<String, Value>> {
    let (_, rest) = command.split_once("--input '")?;
    let (json, _) = rest.split_once('\'')?;
    match serde_json::from_str(json).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_command_carries_the_pair() {
        let command = "aws stepfunctions start-execution --region us-west-2 --state-machine-arn arn:x\n--input '{\"source_file_system_id\":\"fs-1\",\"require_approval\":true}'";
        let input = quoted_input(command).unwrap_or_default();
        assert_eq!(input["source_file_system_id"], "fs-1");
        assert_eq!(input["require_approval"], true);
        assert!(quoted_input("aws stepfunctions list-executions").is_none());
        assert!(quoted_input("--input 'not json'").is_none());
    }
}
