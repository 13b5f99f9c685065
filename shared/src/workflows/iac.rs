//! Infrastructure as code that follows a failover or failback: for a pair as
//! it is now, what a Terraform or CloudFormation user changes so that the
//! next plan neither fights the new direction nor recreates a replication
//! that would overwrite the promoted file system.
//!
//! Rendering is pure (`render`); `observe` reads the pair from the DR Region
//! only (one replication read, one file system read), so it works while the
//! source Region is down.

use crate::domain::ids::{FileSystemId, RegionName};
use crate::domain::model::{Protection, Replication};
use crate::domain::ports::{AwsResult, CallBudget, Efs, Platform};
pub use crate::run::report::{Iac, Topology};
use crate::run::report::{Report, Status};
use serde::Serialize;
use std::fmt::Write;

/// One file system of a pair.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FsAt {
    pub id: FileSystemId,
    pub region: RegionName,
}

/// A pair as observed now. `primary` and `replica` are the configured roles
/// (the original source and destination), whatever the direction is today.
#[derive(Clone, Debug, PartialEq)]
pub struct PairNow {
    pub primary: FsAt,
    pub replica: FsAt,
    /// The replication configuration the replica takes part in, if any.
    pub replication: Option<Replication>,
    pub replica_protection: Option<Protection>,
    /// Read from the primary's Region with a short timeout: `None` while it
    /// does not answer.
    pub primary_protection: Option<Protection>,
    /// Whether the primary's Region still holds its side of a replication
    /// (a LOCAL_CONFIGURATION_ONLY failover); `None` while it does not answer.
    pub primary_side_left: Option<bool>,
}

/// Terraform addresses the generated blocks use. Defaults name a root module
/// with one pair; `for_pair` suffixes them when there are several.
#[derive(Clone, Debug, PartialEq)]
pub struct Addresses {
    pub primary: String,
    pub replica: String,
    pub replication: String,
    /// Appended to the tfvars names, so that several pairs do not collide.
    pub suffix: String,
}

impl Addresses {
    pub fn for_pair(index: usize, pairs: usize) -> Addresses {
        let suffix = if pairs > 1 {
            format!("_{}", index + 1)
        } else {
            String::new()
        };
        Addresses {
            primary: format!("aws_efs_file_system.primary{suffix}"),
            replica: format!("aws_efs_file_system.replica{suffix}"),
            replication: format!("aws_efs_replication_configuration.replica{suffix}"),
            suffix,
        }
    }
}

pub fn topology(pair: &PairNow) -> Topology {
    match &pair.replication {
        None => Topology::Standalone,
        Some(r)
            if r.source_file_system_id == pair.primary.id
                && r.destination_file_system_id == pair.replica.id =>
        {
            Topology::Protected
        }
        Some(r)
            if r.source_file_system_id == pair.replica.id
                && r.destination_file_system_id == pair.primary.id =>
        {
            Topology::Reversed
        }
        Some(_) => Topology::Elsewhere,
    }
}

/// HCL string literal: quotes, backslashes and template sequences escaped.
fn hcl(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace("${", "$${")
        .replace("%{", "%%{")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

fn protection_word(p: Protection) -> &'static str {
    match p {
        Protection::Enabled => "ENABLED",
        Protection::Disabled => "DISABLED",
        Protection::Replicating => "REPLICATING",
    }
}

pub fn render(pair: &PairNow, names: &Addresses) -> Iac {
    let topology = topology(pair);
    let (source, destination): (FsAt, Option<FsAt>) = match &pair.replication {
        Some(r) => (
            FsAt {
                id: r.source_file_system_id.clone(),
                region: r.source_region.clone(),
            },
            Some(FsAt {
                id: r.destination_file_system_id.clone(),
                region: r.destination_region.clone(),
            }),
        ),
        // Promoted: the replica is the one writable copy.
        None => (pair.replica.clone(), None),
    };
    let summary = match &destination {
        Some(d) => format!(
            "{} ({}) replicates to {} ({})",
            source.id, source.region, d.id, d.region
        ),
        None => format!(
            "{} ({}) is writable and stands alone: no replication",
            source.id, source.region
        ),
    };
    let (terraform_tfvars, terraform) = match topology {
        Topology::Reversed | Topology::Elsewhere => {
            // Any block for this direction would be replaced once the failback
            // restores the original one, and the replacement's destroy would
            // delete a replication. Nothing to apply until then.
            let wait = format!(
                "# efs-dr: {summary}\n# A failback is under way: change nothing and apply nothing that touches {} or\n# the two file systems until it completes; the report after it says what to change.\n",
                names.replication
            );
            (wait.clone(), wait)
        }
        Topology::Protected | Topology::Standalone => (
            tfvars(&summary, &source, destination.as_ref(), &names.suffix),
            terraform(pair, names, &summary, &source, destination.as_ref()),
        ),
    };
    Iac {
        topology,
        cloudformation: cloudformation(pair, topology, &summary, &source, destination.as_ref()),
        summary,
        terraform_tfvars,
        terraform,
    }
}

/// The variables that carry the direction, named with the pair's suffix.
fn tfvars(summary: &str, source: &FsAt, destination: Option<&FsAt>, suffix: &str) -> String {
    let mut out = format!("# efs-dr: {summary}\n");
    let mut var = |name: &str, value: String| {
        let _ = writeln!(out, "efs_{name}{suffix} = {value}");
    };
    var("source_file_system_id", hcl(source.id.as_str()));
    var("source_region", hcl(source.region.as_str()));
    match destination {
        Some(d) => {
            var("destination_file_system_id", hcl(d.id.as_str()));
            var("destination_region", hcl(d.region.as_str()));
        }
        None => {
            var("destination_file_system_id", "null".into());
            var("destination_region", "null".into());
        }
    }
    var("replication_enabled", destination.is_some().to_string());
    out
}

fn terraform(
    pair: &PairNow,
    names: &Addresses,
    summary: &str,
    source: &FsAt,
    destination: Option<&FsAt>,
) -> String {
    let mut tf = format!("# efs-dr: {summary}\n");
    match destination {
        None => {
            // The configuration is gone in AWS; forgetting it keeps Terraform
            // from creating it again, which would overwrite the promoted file system.
            let _ = writeln!(
                tf,
                "# The replication no longer exists. Delete the {} resource block and keep this\n# removed block: Terraform forgets it without destroying anything.",
                names.replication
            );
            let _ = writeln!(
                tf,
                "removed {{\n  from = {}\n  lifecycle {{\n    destroy = false\n  }}\n}}",
                names.replication
            );
        }
        Some(d) => {
            let _ = writeln!(
                tf,
                "# The replication as it runs: its import ID is the source file system ID."
            );
            let _ = writeln!(
                tf,
                "import {{\n  to = {}\n  id = {}\n}}",
                names.replication,
                hcl(source.id.as_str())
            );
            let across = across_accounts(pair, d);
            if across.is_some() {
                let _ = writeln!(
                    tf,
                    "# Across accounts: the destination by ARN, with the role EFS replicates with. role_arn needs a\n# provider release that has it (terraform-provider-aws #42814); until then keep this configuration\n# out of Terraform."
                );
            }
            let (destination_id, role) = match &across {
                Some((arn, role)) => (arn.clone(), format!("\n    role_arn = {}", hcl(role))),
                None => (d.id.to_string(), String::new()),
            };
            let _ = writeln!(
                tf,
                "resource \"aws_efs_replication_configuration\" {} {{\n  source_file_system_id = {}\n  destination {{\n    file_system_id = {}\n    region = {}{role}\n  }}\n}}",
                hcl(resource_name(&names.replication)),
                hcl(source.id.as_str()),
                hcl(&destination_id),
                hcl(d.region.as_str())
            );
        }
    }
    let _ = writeln!(
        tf,
        "# The file systems. Merge these arguments into your resource blocks; the imports are no-ops if already managed."
    );
    for (fs, address) in [
        (&pair.primary, &names.primary),
        (&pair.replica, &names.replica),
    ] {
        let _ = writeln!(
            tf,
            "import {{\n  to = {address}\n  id = {}\n}}",
            hcl(fs.id.as_str())
        );
        let is_destination = destination.is_some_and(|d| d.id == fs.id);
        let observed = if fs.id == pair.replica.id {
            pair.replica_protection
        } else {
            pair.primary_protection
        };
        let ignore = |why: &str| {
            format!(
                "# {}: {why}\nresource \"aws_efs_file_system\" {} {{\n  lifecycle {{\n    ignore_changes = [protection]\n  }}\n}}\n",
                fs.id,
                hcl(resource_name(address))
            )
        };
        if is_destination {
            // AWS reports REPLICATING on a destination, a value the argument
            // cannot be set to: ignoring it ends the perpetual diff.
            tf.push_str(&ignore(
                "a replication destination; AWS reports REPLICATING, which Terraform cannot set",
            ));
        } else if fs.id != source.id {
            // The original after a failover: the failback sets its protection
            // (DISABLED for the reverse sync); a declared value would undo it.
            tf.push_str(&ignore(
                "outside any replication until the failback, which manages its protection",
            ));
        } else if let Some(value) = observed {
            let _ = writeln!(
                tf,
                "resource \"aws_efs_file_system\" {} {{\n  protection {{\n    replication_overwrite = {}\n  }}\n}}",
                hcl(resource_name(address)),
                hcl(protection_word(value))
            );
        } else {
            let _ = writeln!(
                tf,
                "# {} ({}) could not be read (its Region did not answer, or it is in an account this one may not read): its protection is unknown; leave it as declared.",
                fs.id, fs.region
            );
        }
    }
    tf
}

fn cloudformation(
    pair: &PairNow,
    topology: Topology,
    summary: &str,
    source: &FsAt,
    destination: Option<&FsAt>,
) -> String {
    let mut cfn = format!(
        "# efs-dr: {summary}\n# The replication is a property of its source AWS::EFS::FileSystem (ReplicationConfiguration).\n"
    );
    match destination {
        None => {
            let leftover = match pair.primary_side_left {
                Some(true) => "# Its side of the replication is still there (a LOCAL_CONFIGURATION_ONLY failover): the failback\n# deletes it first, and so would this update.",
                Some(false) => "# The replication is already deleted, so the update changes nothing in AWS; it ends the drift.",
                None => "# Whether its side of the replication is still there is unknown (its Region did not answer): after a\n# LOCAL_CONFIGURATION_ONLY failover it is, the failback deletes it first, and so would this update.",
            };
            let _ = writeln!(
                cfn,
                "# In the stack that owns {} ({}): remove ReplicationConfiguration.\n{leftover}\n# In the stack that owns {} ({}), if any: declare it writable:",
                pair.primary.id, pair.primary.region, pair.replica.id, pair.replica.region
            );
            let _ = writeln!(
                cfn,
                "FileSystemProtection:\n  ReplicationOverwriteProtection: ENABLED   # {}",
                pair.replica.id
            );
        }
        Some(_) if topology != Topology::Protected => {
            let _ = writeln!(
                cfn,
                "# A failback is under way. Change no template until it completes; drift detection reports\n# this temporary direction until then."
            );
        }
        Some(d) => {
            let _ = writeln!(
                cfn,
                "# In the stack that owns {} ({}), its ReplicationConfiguration:",
                source.id, source.region
            );
            match across_accounts(pair, d) {
                Some((arn, role)) => {
                    let _ = writeln!(
                        cfn,
                        "ReplicationConfiguration:\n  Destinations:\n    - FileSystemId: {arn}\n      Region: {}\n      RoleArn: {role}",
                        d.region
                    );
                }
                None => {
                    let _ = writeln!(
                        cfn,
                        "ReplicationConfiguration:\n  Destinations:\n    - FileSystemId: {}\n      Region: {}",
                        d.id, d.region
                    );
                }
            }
        }
    }
    cfn
}

/// Across accounts, the destination's ARN and the replication's role: what
/// a declared configuration needs besides the one-account fields.
fn across_accounts(pair: &PairNow, destination: &FsAt) -> Option<(String, String)> {
    let r = pair.replication.as_ref()?;
    if !r.owners.cross_account() {
        return None;
    }
    let account = r.owners.destination.as_ref()?;
    let role = r.owners.role_arn.clone()?;
    Some((
        crate::domain::ids::file_system_arn(&destination.region, account, &destination.id),
        role,
    ))
}

/// `aws_efs_file_system.replica_2` -> `replica_2`.
fn resource_name(address: &str) -> &str {
    address.rsplit('.').next().unwrap_or(address)
}

/// How long the advice of one run may read, for all its pairs, in real time:
/// the run's own deadline margin comes first.
const ADVICE_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// When the advice reads of a run starting now must end.
pub fn advice_deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + ADVICE_BUDGET
}

/// Adds `iac` to an executed failover or failback report whose two file
/// systems are known. `primary_is_source`: the report's source is the configured primary
/// (failover), else its destination is (failback). A read that fails leaves
/// the report without it, with a warning: it is advice, not the outcome.
pub async fn attach<P: Platform>(
    platform: &P,
    report: &mut Report,
    primary_is_source: bool,
    deadline: tokio::time::Instant,
) {
    // A plan changes nothing: the advice is for after a change, and would only
    // lengthen the approval message that carries the plan.
    if report.mode == crate::domain::modes::Mode::Plan {
        return;
    }
    // Advice for a pair in transition would be wrong a moment later (and
    // during a failback's reverse sync it is only "wait": efs-dr iac says so).
    if report.status != Status::Completed {
        return;
    }
    let (p, r) = if primary_is_source {
        (&report.source, &report.destination)
    } else {
        (&report.destination, &report.source)
    };
    let (Some(pid), Some(rid)) = (&p.file_system_id, &r.file_system_id) else {
        return;
    };
    let primary = FsAt {
        id: pid.clone(),
        region: p.region.clone(),
    };
    let replica = FsAt {
        id: rid.clone(),
        region: r.region.clone(),
    };
    let primary_answers = report.source_region_reachable != Some(false);
    // The run's own deadline comes first: the advice gets a few seconds.
    let read = tokio::time::timeout_at(
        deadline,
        observe(platform, primary, replica, primary_answers),
    )
    .await;
    match read {
        Ok(Ok(now)) => report.iac = Some(render(&now, &Addresses::for_pair(0, 1))),
        Ok(Err(e)) => report.warnings.push(format!(
            "no infrastructure-as-code advice: the pair could not be read ({e})"
        )),
        Err(_) => report.warnings.push(
            "no infrastructure-as-code advice: reading the pair took too long; run efs-dr iac later"
                .into(),
        ),
    }
}

/// Reads the pair from the replica's Region: its replication (either
/// direction) and its protection.
pub async fn observe<P: Platform>(
    platform: &P,
    primary: FsAt,
    replica: FsAt,
    primary_answers: bool,
) -> AwsResult<PairNow> {
    let efs = platform.efs(&replica.region, CallBudget::Normal);
    let replication = efs.describe_replication(&replica.id).await?;
    let replica_protection = efs
        .describe_file_system(&replica.id)
        .await?
        .map(|f| f.protection);
    // Never on the critical path: the source Region may be the one that
    // failed, and is not asked at all when the run found it silent.
    let (mut primary_protection, mut primary_side_left) = (None, None);
    if primary_answers {
        // Across accounts the configuration names the primary's account: it is read by ARN.
        let account = replication.as_ref().and_then(|r| {
            let owner = if r.source_file_system_id == primary.id {
                &r.owners.source
            } else {
                &r.owners.destination
            };
            owner.clone().filter(|_| r.owners.cross_account())
        });
        let at = crate::domain::ids::Location::new(account, primary.region.clone());
        let efs = platform.efs(at, CallBudget::Short);
        primary_protection = efs
            .describe_file_system(&primary.id)
            .await
            .ok()
            .flatten()
            .map(|f| f.protection);
        if primary_protection.is_some() {
            primary_side_left = efs
                .describe_replication(&primary.id)
                .await
                .ok()
                .map(|r| r.is_some());
        }
    }
    Ok(PairNow {
        primary,
        replica,
        replication,
        replica_protection,
        primary_protection,
        primary_side_left,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::ReplicationStatus;

    fn fs(id: &str, region: &str) -> FsAt {
        FsAt {
            id: FileSystemId::parse(id).unwrap(),
            region: RegionName::parse(region).unwrap(),
        }
    }

    fn replication(from: &FsAt, to: &FsAt) -> Replication {
        Replication {
            source_file_system_id: from.id.clone(),
            source_region: from.region.clone(),
            destination_file_system_id: to.id.clone(),
            destination_region: to.region.clone(),
            status: ReplicationStatus::Enabled,
            status_message: None,
            last_replicated: Some(1.0),
            owners: Default::default(),
        }
    }

    fn pair(replication: Option<Replication>, protection: Protection) -> PairNow {
        PairNow {
            primary: fs("fs-11111111", "us-east-1"),
            replica: fs("fs-22222222", "us-west-2"),
            replication,
            replica_protection: Some(protection),
            primary_protection: None,
            primary_side_left: None,
        }
    }

    #[test]
    fn topology_follows_the_observed_direction() {
        let p = fs("fs-11111111", "us-east-1");
        let r = fs("fs-22222222", "us-west-2");
        let other = fs("fs-33333333", "us-east-1");
        let cases = [
            (None, Topology::Standalone),
            (Some(replication(&p, &r)), Topology::Protected),
            (Some(replication(&r, &p)), Topology::Reversed),
            (Some(replication(&r, &other)), Topology::Elsewhere),
        ];
        for (rep, want) in cases {
            assert_eq!(topology(&pair(rep, Protection::Enabled)), want);
        }
    }

    #[test]
    fn a_promoted_replica_is_forgotten_not_recreated() {
        let iac = render(&pair(None, Protection::Enabled), &Addresses::for_pair(0, 1));
        assert!(iac.terraform.contains("removed {"), "{}", iac.terraform);
        assert!(iac.terraform.contains("destroy = false"));
        assert!(!iac
            .terraform
            .contains("aws_efs_replication_configuration\" "));
        assert!(iac
            .terraform_tfvars
            .contains("efs_source_file_system_id = \"fs-22222222\""));
        assert!(iac
            .terraform_tfvars
            .contains("efs_replication_enabled = false"));
        assert!(iac
            .cloudformation
            .contains("remove ReplicationConfiguration"));
        // The original is left to the failback, which manages its protection.
        assert!(iac.terraform.contains(
            "resource \"aws_efs_file_system\" \"primary\" {\n  lifecycle {\n    ignore_changes = [protection]"
        ));
        assert!(!iac.terraform.contains("or set efs_replication_enabled"));
    }

    #[test]
    fn a_destination_ignores_protection_and_a_source_declares_it() {
        let p = fs("fs-11111111", "us-east-1");
        let r = fs("fs-22222222", "us-west-2");
        let mut protected = pair(Some(replication(&p, &r)), Protection::Replicating);
        protected.primary_protection = Some(Protection::Enabled);
        let iac = render(&protected, &Addresses::for_pair(1, 2));
        assert_eq!(iac.topology, Topology::Protected);
        assert!(
            iac.terraform.contains(
                "to = aws_efs_replication_configuration.replica_2\n  id = \"fs-11111111\""
            ),
            "{}",
            iac.terraform
        );
        assert!(iac.terraform.contains("resource \"aws_efs_file_system\" \"replica_2\" {\n  lifecycle {\n    ignore_changes = [protection]"));
        assert!(iac.terraform.contains("resource \"aws_efs_file_system\" \"primary_2\" {\n  protection {\n    replication_overwrite = \"ENABLED\""));
        // Several pairs: each pair's variables carry its suffix.
        assert!(iac
            .terraform_tfvars
            .contains("efs_source_file_system_id_2 = \"fs-11111111\""));
    }

    #[test]
    fn during_a_failback_nothing_is_to_be_applied() {
        let p = fs("fs-11111111", "us-east-1");
        let r = fs("fs-22222222", "us-west-2");
        let iac = render(
            &pair(Some(replication(&r, &p)), Protection::Enabled),
            &Addresses::for_pair(0, 1),
        );
        assert_eq!(iac.topology, Topology::Reversed);
        for text in [&iac.terraform, &iac.terraform_tfvars] {
            assert!(
                text.lines().all(|l| l.starts_with('#')),
                "only advice to wait: {text}"
            );
        }
        assert!(iac.cloudformation.contains("A failback is under way"));
    }

    #[test]
    fn across_accounts_the_destination_is_named_by_arn_with_its_role() {
        let (p, r) = (
            fs("fs-11111111", "us-east-1"),
            fs("fs-22222222", "us-west-2"),
        );
        let mut rep = replication(&p, &r);
        let account = |a: &str| crate::domain::ids::AccountId::parse(a).ok();
        rep.owners = crate::domain::model::Owners {
            source: account("111111111111"),
            destination: account("222222222222"),
            role_arn: Some("arn:aws:iam::111111111111:role/replication".into()),
        };
        let out = render(
            &pair(Some(rep), Protection::Replicating),
            &Addresses::for_pair(0, 1),
        );
        let arn = "arn:aws:elasticfilesystem:us-west-2:222222222222:file-system/fs-22222222";
        assert!(
            out.terraform
                .contains(&format!("file_system_id = \"{arn}\"")),
            "{}",
            out.terraform
        );
        assert!(out
            .terraform
            .contains("role_arn = \"arn:aws:iam::111111111111:role/replication\""));
        assert!(
            out.cloudformation.contains(&format!("FileSystemId: {arn}")),
            "{}",
            out.cloudformation
        );
        assert!(out
            .cloudformation
            .contains("RoleArn: arn:aws:iam::111111111111:role/replication"));
        let one_account = render(
            &pair(Some(replication(&p, &r)), Protection::Replicating),
            &Addresses::for_pair(0, 1),
        );
        assert!(!one_account.terraform.contains("role_arn"));
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(hcl("a\"b\\c${x}"), "\"a\\\"b\\\\c$${x}\"");
    }
}
