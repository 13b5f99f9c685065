//! `efs-dr status`: topology, protection, replication and mount targets of the
//! configured pairs, read from the DR Region (AWS, or the emulator through
//! AWS_ENDPOINT_URL).

use efs_dr_aws::AwsContext;
use efs_dr_shared::domain::config::Config;
use efs_dr_shared::domain::ports::{CallBudget, Clock, Efs};
use efs_dr_shared::domain::time::iso8601;
use serde_json::{json, Value};

pub async fn run(
    aws: &AwsContext,
    config: &Config,
    as_json: bool,
) -> crate::error::CliResult<bool> {
    let (rows, healthy) = collect(aws, config).await?;
    print_rows(&rows, as_json, &|_| Vec::new());
    Ok(healthy)
}

/// One JSON row per configured pair, and whether every pair replicates.
pub async fn collect(
    aws: &AwsContext,
    config: &Config,
) -> crate::error::CliResult<(Vec<Value>, bool)> {
    if config.pairs.is_empty() {
        return Err(crate::error::CliError::Config("no pairs configured: set EFS_DR_PAIRS (a JSON list of {source_file_system_id, source_region, destination_file_system_id}), or EFS_DR_SOURCE_FILE_SYSTEM_ID and EFS_DR_SOURCE_REGION".into()));
    }
    let mut rows = Vec::new();
    let mut healthy = true;
    for p in &config.pairs {
        let source_region = p
            .source_region
            .clone()
            .or_else(|| p.source_file_system_id.arn_region.clone())
            .or_else(|| config.source_region.clone());
        let dest_region = p
            .destination_region
            .clone()
            .or_else(|| config.destination_region.clone())
            .ok_or_else(|| {
                crate::error::CliError::Config("the DR Region is not set (AWS_REGION)".into())
            })?;
        let dr = aws.efs(&dest_region, CallBudget::Normal);
        let mut row = json!({"source": p.source_file_system_id.id, "source_region": source_region, "destination_region": dest_region});
        if let Some(account) = &p.source_file_system_id.arn_account {
            row["source_account"] = json!(account);
        }
        let dest = match &p.destination_file_system_id {
            Some(d) => Some(d.id.clone()),
            None => dr
                .list_replications()
                .await?
                .into_iter()
                .find(|r| r.source_file_system_id == p.source_file_system_id.id)
                .map(|r| r.destination_file_system_id),
        };
        row["destination"] = json!(dest);
        if let Some(d) = &dest {
            let fs = dr.describe_file_system(d).await?;
            let rep = dr.describe_replication(d).await?;
            let mts = dr.describe_mount_targets(d).await?;
            let now = aws.clock().now();
            row["protection"] = json!(fs.as_ref().map(|f| f.protection));
            row["role"] = json!(fs
                .as_ref()
                .and_then(|f| f.tag(efs_dr_shared::domain::tags::ROLE).map(str::to_string)));
            row["replication"] = json!(rep.as_ref().map(|r| json!({
                "direction": format!("{} ({}) -> {} ({})", r.source_file_system_id, r.source_region, r.destination_file_system_id, r.destination_region),
                "status": r.status,
                "last_replicated": r.last_replicated.map(iso8601),
                "lag_seconds": r.last_replicated.map(|t| (now - t).max(0.0).round()),
                "status_message": r.status_message,
                "role_arn": r.owners.role_arn,
            })));
            row["mount_targets"] = json!(mts.iter().map(|m| json!({"id": m.id, "subnet": m.subnet_id, "az": m.availability_zone, "ip": m.ip_address, "state": m.life_cycle})).collect::<Vec<_>>());
            healthy &= rep.is_some_and(|r| r.last_replicated.is_some());
        } else {
            healthy = false;
        }
        if let Some(sr) = &source_region {
            // Any answer, an error included, is a Region that answers.
            row["source_region_reachable"] = json!(
                efs_dr_shared::domain::ports::reachable(&aws.efs(sr, CallBudget::Short)).await
            );
        }
        rows.push(row);
    }
    Ok((rows, healthy))
}

/// The rows as text (`extra`: more lines for a row, printed after its mount
/// targets), or as one JSON array.
pub fn print_rows(rows: &[Value], as_json: bool, extra: &dyn Fn(&Value) -> Vec<String>) {
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&Value::Array(rows.to_vec())).unwrap_or_default()
        );
    } else {
        for r in rows {
            println!(
                "{} ({}) -> {} ({})",
                r["source"].as_str().unwrap_or("?"),
                r["source_region"].as_str().unwrap_or("?"),
                r["destination"].as_str().unwrap_or("none found"),
                r["destination_region"].as_str().unwrap_or("?")
            );
            println!("  protection: {}   role: {}", r["protection"], r["role"]);
            match r["replication"].as_object() {
                Some(rep) => println!(
                    "  replication: {} {} lag {} s (last replicated {})",
                    rep["direction"].as_str().unwrap_or(""),
                    rep["status"],
                    rep["lag_seconds"],
                    rep["last_replicated"]
                ),
                None => println!("  replication: none (promoted, or not set up)"),
            }
            if let Some(m) = r["replication"]["status_message"].as_str() {
                println!("  status message: {m}");
            }
            if let Some(a) = r["source_account"].as_str() {
                println!(
                    "  source account: {a} (replication role {})",
                    r["replication"]["role_arn"].as_str().unwrap_or("unknown")
                );
            }
            println!(
                "  source Region reachable: {}",
                r["source_region_reachable"]
            );
            for m in r["mount_targets"].as_array().into_iter().flatten() {
                println!(
                    "  mount target {} {} {} {} {}",
                    m["id"].as_str().unwrap_or(""),
                    m["az"],
                    m["subnet"].as_str().unwrap_or(""),
                    m["ip"],
                    m["state"]
                );
            }
            for line in extra(r) {
                println!("  {line}");
            }
        }
    }
}
