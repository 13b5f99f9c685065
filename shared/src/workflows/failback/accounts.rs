//! Failback across accounts: the replica (and the functions) in the DR
//! account, the original in production. What only the original's owner may
//! do (its protection, its policy, a leftover configuration, its backup) goes
//! through the role efs-dr assumes there; without that role, failback stops
//! before any change and says what the production account's operator runs.

use super::*;
use crate::domain::config::AssumedRole;
use crate::domain::ids::AccountId;
use serde_json::{json, Value};

/// The statement efs-dr keeps in a destination's file system policy.
pub const GRANT_SID: &str = "EfsDrReplicationFromPeerAccount";

/// What EFS needs of a destination across accounts (the EFS user guide's
/// `AllowSourceAccountReplicationActions`), and the DR account's right to
/// delete the configuration from its side later (a failover).
pub const GRANTED_ACTIONS: [&str; 5] = [
    "elasticfilesystem:DescribeFileSystems",
    "elasticfilesystem:CreateReplicationConfiguration",
    "elasticfilesystem:DescribeReplicationConfigurations",
    "elasticfilesystem:DeleteReplicationConfiguration",
    "elasticfilesystem:ReplicationWrite",
];

/// The two accounts of a failback across accounts.
#[derive(Clone, Debug, PartialEq)]
pub struct Accounts {
    /// The functions' (DR) account: the replica's.
    pub own: AccountId,
    pub original: AccountId,
}

pub use crate::domain::ids::arn_account as account_of;

/// `policy` with a statement granting `peer` what replication into
/// `resource` needs; `None` when it already grants exactly that.
pub fn with_grant(
    policy: Option<&str>,
    peer: &AccountId,
    resource: &str,
) -> std::result::Result<Option<String>, String> {
    let partition = resource.split(':').nth(1).unwrap_or("aws");
    let wanted = json!({
        "Sid": GRANT_SID,
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:{partition}:iam::{peer}:root")},
        "Action": GRANTED_ACTIONS,
        "Resource": resource,
    });
    let mut doc: Value = match policy {
        Some(p) => serde_json::from_str(p).map_err(|e| {
            format!("the file system policy of {resource} is not valid JSON ({e}); mend it by hand")
        })?,
        None => json!({"Version": "2012-10-17", "Statement": []}),
    };
    // One statement may stand alone; a list is what is kept.
    if doc.get("Statement").is_some_and(Value::is_object) {
        doc["Statement"] = Value::Array(vec![doc["Statement"].take()]);
    }
    let Some(statements) = doc.get_mut("Statement").and_then(Value::as_array_mut) else {
        return Err(format!(
            "the file system policy of {resource} has no Statement list; mend it by hand"
        ));
    };
    if statements.iter().any(|s| s == &wanted) {
        return Ok(None);
    }
    statements.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(GRANT_SID));
    statements.push(wanted);
    Ok(Some(doc.to_string()))
}

impl<P: Platform> Failback<'_, P> {
    /// Before any read or change in the original's account: the role that
    /// reaches it, and the replication roles of both directions.
    pub(super) fn check_accounts(&mut self, replica: &FileSystem) -> Result<()> {
        let Some(original) = self.t.original_account.clone() else {
            return Ok(());
        };
        let Some(own) = account_of(&replica.arn).filter(|o| o != &original) else {
            return Ok(());
        };
        let refuse = |guardrail: &'static str, message: String, remedy: String| {
            Err(Error::Refused(Refusal {
                guardrail,
                message,
                remedy,
            }))
        };
        let deploy = format!(
            "in the production account {original}: aws cloudformation deploy --template-file deploy/source-account.yaml \
             --stack-name efs-dr-source --capabilities CAPABILITY_IAM --parameter-overrides DrAccountId={own} \
             ExternalId=<a secret of your choosing> SourceFileSystemId={} ReplicaFileSystemArn={}; then give its outputs \
             to the efs-dr stack: SourceAccountRoleArn, SourceAccountExternalId, SourceReplicationRoleArn and SourceBackupRoleArn",
            self.t.original_id.as_ref().map(|i| i.to_string()).unwrap_or_else(|| "<original>".into()),
            replica.arn
        );
        match &self.t.source_account_role {
            Some(AssumedRole { account, .. }) if account == &original => {}
            Some(AssumedRole { arn, account, .. }) => {
                return refuse(
                    "SourceAccountRoleMismatch",
                    format!("the original is in account {original}, but the configured production role {arn} is in {account}"),
                    format!("set SourceAccountRoleArn to the role deploy/source-account.yaml created in {original}; nothing was changed"),
                )
            }
            None => {
                return refuse(
                    "SourceAccountRoleMissing",
                    format!(
                        "the original is in account {original}, not in this account ({own}): failback must turn off its \
                         overwrite protection, set its file system policy, delete a leftover configuration and back it up, \
                         which only that account may do, and no role there is configured (EFS_DR_SOURCE_ACCOUNT_ROLE_ARN)"
                    ),
                    format!("{deploy}. Nothing was changed"),
                )
            }
        }
        if self.t.strategy == Strategy::NewFileSystem {
            return refuse(
                "NewFileSystemAcrossAccounts",
                format!("EFS cannot create a destination in another account ({original})"),
                format!(
                    "create an empty file system in {} in account {original}, then run keep_changes naming it as \
                     original_file_system_id (its ARN); nothing was changed",
                    self.t.original_region
                ),
            );
        }
        let missing: Vec<&str> = [
            (
                "EFS_DR_REPLICATION_ROLE_ARN (ReplicationRoleArn: the replica back into the original)",
                self.t.replication_role_arn.is_none(),
            ),
            (
                "EFS_DR_SOURCE_REPLICATION_ROLE_ARN (SourceReplicationRoleArn: the original direction again)",
                self.t.source_replication_role_arn.is_none(),
            ),
        ]
        .into_iter()
        .filter_map(|(name, absent)| absent.then_some(name))
        .collect();
        if !missing.is_empty() {
            return refuse(
                "ReplicationRoleMissing",
                format!(
                    "replication across accounts needs a role in the source account of each direction; not set: {}",
                    missing.join(", ")
                ),
                format!("{deploy}. Nothing was changed"),
            );
        }
        self.cross_account = Some(Accounts { own, original });
        Ok(())
    }

    /// Whether `at` is in the original's account, when that is another one.
    pub(super) fn is_foreign(&self, at: &Location) -> bool {
        self.cross_account
            .as_ref()
            .is_some_and(|a| at.account.as_ref() == Some(&a.original))
    }

    /// Across accounts, where a replication goes: the destination's account
    /// (it is named by ARN) and the role of the source's account.
    pub(super) fn destination_across(
        &self,
        into_original: bool,
    ) -> (Option<AccountId>, Option<String>) {
        match &self.cross_account {
            None => (None, None),
            Some(a) if into_original => (
                Some(a.original.clone()),
                self.t.replication_role_arn.clone(),
            ),
            Some(a) => (
                Some(a.own.clone()),
                self.t.source_replication_role_arn.clone(),
            ),
        }
    }

    /// Lets the other account replicate into `into` (and delete the
    /// configuration from its side), in `into`'s file system policy, by the
    /// account that owns it.
    pub(super) async fn grant_replication_into(
        &mut self,
        into_original: bool,
        into: &FileSystem,
    ) -> Result<()> {
        let Some(accounts) = self.cross_account.clone() else {
            return Ok(());
        };
        let (efs, peer) = if into_original {
            (&self.original, &accounts.own)
        } else {
            (&self.replica, &accounts.original)
        };
        let started = self.now();
        let current = efs.file_system_policy(&into.id).await?;
        let updated = with_grant(current.as_deref(), peer, &into.arn).map_err(|m| {
            Error::Refused(Refusal {
                guardrail: "FileSystemPolicyUnreadable",
                message: m,
                remedy: "fix the policy (aws efs describe-file-system-policy), then run again; the file system was not opened for overwrite".into(),
            })
        })?;
        let outcome = match updated {
            Some(policy) => {
                efs.put_file_system_policy(&into.id, &policy).await?;
                Outcome::Done
            }
            None => Outcome::AlreadyDone,
        };
        self.step(
            "file system policy",
            outcome,
            started,
            format!(
                "{} lets account {peer} replicate into it ({GRANT_SID})",
                into.id
            ),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str =
        "arn:aws:elasticfilesystem:us-east-1:111111111111:file-system/fs-0123456789abcdef0";

    fn dr() -> AccountId {
        AccountId::parse("222222222222").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_grant_is_added_once_beside_what_is_there() {
        let existing = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Clients", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "elasticfilesystem:ClientMount"}
        ]})
        .to_string();
        let once = with_grant(Some(&existing), &dr(), ARN)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no grant added"));
        let doc: Value = serde_json::from_str(&once).unwrap_or_else(|e| panic!("{e}"));
        let statements = doc["Statement"].as_array().cloned().unwrap_or_default();
        assert_eq!(statements.len(), 2, "{once}");
        assert_eq!(statements[0]["Sid"], "Clients");
        assert_eq!(
            statements[1]["Principal"]["AWS"],
            "arn:aws:iam::222222222222:root"
        );
        assert_eq!(with_grant(Some(&once), &dr(), ARN), Ok(None), "idempotent");
    }

    #[test]
    fn a_stale_grant_for_another_account_is_replaced() {
        let other = AccountId::parse("333333333333").unwrap_or_else(|e| panic!("{e}"));
        let first = with_grant(None, &other, ARN)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_default();
        let second = with_grant(Some(&first), &dr(), ARN)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_default();
        assert!(!second.contains("333333333333"), "{second}");
        assert!(second.contains("222222222222"), "{second}");
    }

    #[test]
    fn an_unreadable_policy_is_not_overwritten() {
        assert!(with_grant(Some("{nope"), &dr(), ARN).is_err());
        assert!(with_grant(Some(r#"{"Version": "2012-10-17"}"#), &dr(), ARN).is_err());
    }

    #[test]
    fn the_account_comes_from_the_arn() {
        assert_eq!(
            account_of(ARN).map(|a| a.to_string()),
            Some("111111111111".into())
        );
        assert_eq!(account_of("fs-0123456789abcdef0"), None);
    }
}
