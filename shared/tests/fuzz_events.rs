//! Garbled events for every function never panic, and are either accepted as
//! a request or rejected with a clear InvalidInput message.

use efs_dr_shared::run::intake::unwrap_sns;
use efs_dr_shared::testing::{mutate_json, xorshift};
use efs_dr_shared::workflows::failback::FailbackRequest;
use efs_dr_shared::workflows::failover::FailoverRequest;
use efs_dr_shared::workflows::mount_target_ensure::{is_scheduled_event, ReadinessRequest};
use efs_dr_shared::Error;
use serde_json::Value;
use std::path::PathBuf;

fn samples(function: &str) -> Vec<Value> {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("../events")
        .join(function);
    std::fs::read_dir(dir)
        .expect("samples")
        .map(|e| {
            serde_json::from_str(&std::fs::read_to_string(e.expect("entry").path()).expect("read"))
                .expect("json")
        })
        .collect()
}

fn parse(function: &str, event: Value) -> Result<(), Error> {
    if function == "mount-target-ensure" && is_scheduled_event(&event) {
        return Ok(());
    }
    for message in unwrap_sns(event)? {
        match function {
            "failover" => FailoverRequest::from_json(message).map(|_| ())?,
            "failback" => FailbackRequest::from_json(message).map(|_| ())?,
            _ => ReadinessRequest::from_json(message).map(|_| ())?,
        }
    }
    Ok(())
}

#[test]
fn garbled_events_are_rejected_clearly_and_never_panic() {
    for function in ["failover", "failback", "mount-target-ensure"] {
        let base = samples(function);
        let mut next = xorshift(0xfeed ^ function.len() as u64);
        let (mut accepted, mut rejected) = (0, 0);
        for i in 0..3000 {
            let mut event = base[i % base.len()].clone();
            mutate_json(&mut event, &mut next);
            match parse(function, event) {
                Ok(()) => accepted += 1,
                Err(Error::InvalidInput(message)) => {
                    assert!(
                        message.len() > 20,
                        "{function}: an explanation, not just a code: {message}"
                    );
                    rejected += 1;
                }
                Err(other) => panic!("{function}: bad input must be InvalidInput, got {other}"),
            }
        }
        assert!(
            accepted > 0 && rejected > 0,
            "{function}: {accepted} accepted, {rejected} rejected"
        );
    }
}
