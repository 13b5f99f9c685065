//! The registry of the four Lambda functions: their names (as the binaries,
//! the template and the harness call them) and the handler each runs. The
//! drill's in-process Invoke API and the benchmarks read it, so a fifth
//! function is added in one place.

use crate::domain::config::Config;
use crate::domain::error::Result;
use crate::domain::ports::Platform;
use crate::workflows::{failback, failover, lag_alarm, mount_target_ensure};
use serde_json::Value;
use std::time::Duration;

/// Every function, by the name of its binary.
pub const FUNCTIONS: [&str; 4] = [
    "failover",
    "failback",
    "mount-target-ensure",
    "lag-alarm-handler",
];

/// Runs the named function's handler on one event; `None` when no function has that name.
pub async fn dispatch<P: Platform>(
    platform: &P,
    config: &Config,
    function: &str,
    event: Value,
    remaining: Option<Duration>,
) -> Option<Result<Value>> {
    Some(match function {
        "failover" => failover::handle_event(platform, config, event, remaining).await,
        "failback" => failback::handle_event(platform, config, event, remaining).await,
        "mount-target-ensure" => {
            mount_target_ensure::handle_event(platform, config, event, remaining).await
        }
        "lag-alarm-handler" => {
            lag_alarm::handle_event_within(platform, config, event, remaining).await
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::FUNCTIONS;

    #[test]
    fn every_function_has_a_binary() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
        for f in FUNCTIONS {
            assert!(
                root.join(f).join("Cargo.toml").is_file(),
                "functions/{f} is missing"
            );
        }
        let on_disk = std::fs::read_dir(&root).map(|d| d.count()).unwrap_or(0);
        assert_eq!(
            on_disk,
            FUNCTIONS.len(),
            "functions/ holds a crate the registry lacks"
        );
    }
}
