//! Accounts, roles and resource policies: who signed a call, and whether a
//! call or a replication's sync is allowed. Only what cross-account EFS
//! replication needs is modelled: identity policies are a role's list of
//! allowed actions, file system policies are parsed IAM JSON (Effect,
//! Principal, Action; Resource and Condition are not evaluated).

use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The EFS service principal that replication roles must trust.
pub const EFS_SERVICE: &str = "elasticfilesystem.amazonaws.com";

/// Who signed a request: an account's own credentials (`role: None`, allowed
/// everything in its account, as an administrator) or an assumed role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

impl Principal {
    pub fn account(account: &str) -> Principal {
        Principal {
            account: account.to_string(),
            role: None,
        }
    }

    /// How IAM names the caller in an AccessDenied message.
    pub fn arn(&self) -> String {
        match &self.role {
            Some(role) => match role_name(role) {
                Some(name) => format!("arn:aws:sts::{}:assumed-role/{name}/efs-dr", self.account),
                None => role.clone(),
            },
            None => format!("arn:aws:iam::{}:root", self.account),
        }
    }
}

/// An IAM role as the control API declares it (IAM itself is not emulated).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub arn: String,
    /// Who the trust policy lets assume it: account IDs, `arn:aws:iam::ACCOUNT:root`,
    /// or service principals such as `elasticfilesystem.amazonaws.com`.
    pub trusted: Vec<String>,
    /// The `sts:ExternalId` the trust policy requires, if any.
    #[serde(default)]
    pub external_id: Option<String>,
    /// What its permission policies allow: `service:Action`, `service:*` or `*`.
    pub actions: Vec<String>,
}

impl Role {
    pub fn account(&self) -> Option<&str> {
        arn_account(&self.arn)
    }

    pub fn allows(&self, action: &str) -> bool {
        self.actions.iter().any(|a| action_matches(a, action))
    }

    pub fn trusts(&self, who: &str) -> bool {
        self.trusted
            .iter()
            .any(|t| t == who || t == &format!("arn:aws:iam::{who}:root"))
    }

    pub fn validate(&self) -> Result<(), String> {
        match (self.account(), role_name(&self.arn)) {
            (Some(_), Some(_)) => Ok(()),
            _ => Err(format!(
                "'{}' is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
                self.arn
            )),
        }
    }
}

/// `arn:aws:iam::111122223333:role/NAME` -> `111122223333`.
pub fn arn_account(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, _, _, account, _] if account.len() == 12 => Some(account),
        _ => None,
    }
}

fn role_name(arn: &str) -> Option<&str> {
    arn.rsplit_once(":role/")
        .map(|(_, path)| path.rsplit('/').next().unwrap_or(path))
        .filter(|n| !n.is_empty())
}

fn action_matches(pattern: &str, action: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => action
            .to_ascii_lowercase()
            .starts_with(&prefix.to_ascii_lowercase()),
        None => pattern.eq_ignore_ascii_case(action),
    }
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A file system policy, checked when it is put: IAM JSON with a list (or one)
/// of statements, each with an Effect, a Principal and an Action.
pub fn validate_policy(policy: &str) -> Result<Value, String> {
    let doc: Value =
        serde_json::from_str(policy).map_err(|e| format!("The policy is not valid JSON: {e}"))?;
    let statements = statements(&doc);
    if statements.is_empty() {
        return Err("The policy has no Statement.".into());
    }
    for s in statements {
        match s.get("Effect").and_then(Value::as_str) {
            Some("Allow" | "Deny") => {}
            _ => return Err("Every statement needs an Effect of Allow or Deny.".into()),
        }
        if s.get("Principal").is_none() {
            return Err("Every statement of a file system policy needs a Principal.".into());
        }
        if strings(s.get("Action")).is_empty() {
            return Err("Every statement needs an Action.".into());
        }
    }
    Ok(doc)
}

fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    }
}

fn principal_matches(statement: &Value, who: &Principal) -> bool {
    let named: Vec<&str> = match statement.get("Principal") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(p) => strings(p.get("AWS")),
        None => Vec::new(),
    };
    let root = format!("arn:aws:iam::{}:root", who.account);
    named.iter().any(|n| {
        *n == "*"
            || *n == who.account
            || *n == root
            || who.role.as_deref() == Some(*n)
            || (who.role.is_some() && *n == who.arn())
    })
}

/// Whether a statement of `effect` in the policy names `who` and `action`.
fn states(doc: &Value, effect: &str, who: &Principal, action: &str) -> bool {
    statements(doc).into_iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some(effect)
            && principal_matches(s, who)
            && strings(s.get("Action"))
                .iter()
                .any(|a| action_matches(a, action))
    })
}

fn parsed(policy: Option<&str>) -> Option<Value> {
    policy.and_then(|p| serde_json::from_str::<Value>(p).ok())
}

/// What a file system policy says of `who` doing `action`: an explicit Deny
/// wins, then an Allow; no statement is no grant.
pub fn policy_allows(policy: Option<&str>, who: &Principal, action: &str) -> bool {
    parsed(policy)
        .is_some_and(|doc| !states(&doc, "Deny", who, action) && states(&doc, "Allow", who, action))
}

/// Whether a policy denies `who` an action explicitly (lockout check).
pub fn policy_denies(policy: &str, who: &Principal, action: &str) -> bool {
    parsed(Some(policy)).is_some_and(|doc| states(&doc, "Deny", who, action))
}

/// IAM's refusal, as EFS returns it: who, what, on which resource, and why.
pub fn access_denied(who: &Principal, action: &str, resource: &str, why: &str) -> ApiError {
    ApiError::new(
        "AccessDeniedException",
        403,
        format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
            who.arn()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DR: &str = "222222222222";

    fn dr_may_delete() -> String {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{DR}:root")},
                "Action": ["elasticfilesystem:DeleteReplicationConfiguration"],
                "Resource": "*"
            }]
        })
        .to_string()
    }

    #[test]
    fn a_policy_grants_only_the_named_account_the_named_actions() {
        let policy = dr_may_delete();
        let dr = Principal::account(DR);
        assert!(policy_allows(
            Some(&policy),
            &dr,
            "elasticfilesystem:DeleteReplicationConfiguration"
        ));
        assert!(!policy_allows(
            Some(&policy),
            &dr,
            "elasticfilesystem:UpdateFileSystemProtection"
        ));
        assert!(!policy_allows(
            Some(&policy),
            &Principal::account("333333333333"),
            "elasticfilesystem:DeleteReplicationConfiguration"
        ));
        assert!(!policy_allows(
            None,
            &dr,
            "elasticfilesystem:DeleteReplicationConfiguration"
        ));
    }

    #[test]
    fn an_explicit_deny_wins() {
        let policy = serde_json::json!({"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "elasticfilesystem:*"},
            {"Effect": "Deny", "Principal": {"AWS": DR}, "Action": "elasticfilesystem:ReplicationWrite"}
        ]})
        .to_string();
        let dr = Principal::account(DR);
        assert!(!policy_allows(
            Some(&policy),
            &dr,
            "elasticfilesystem:ReplicationWrite"
        ));
        assert!(policy_allows(
            Some(&policy),
            &dr,
            "elasticfilesystem:DescribeFileSystems"
        ));
    }

    #[test]
    fn a_role_is_matched_by_its_arn() {
        let role = "arn:aws:iam::111111111111:role/efs-dr-replication";
        let policy = serde_json::json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": [role]}, "Action": ["elasticfilesystem:ReplicationWrite"]}
        ]})
        .to_string();
        let who = Principal {
            account: "111111111111".into(),
            role: Some(role.into()),
        };
        assert!(policy_allows(
            Some(&policy),
            &who,
            "elasticfilesystem:ReplicationWrite"
        ));
        assert!(!policy_allows(
            Some(&policy),
            &Principal::account("111111111111"),
            "elasticfilesystem:ReplicationWrite"
        ));
    }

    #[test]
    fn malformed_policies_are_refused_with_the_reason() {
        assert!(validate_policy("{").is_err());
        assert!(validate_policy(r#"{"Statement": []}"#).is_err());
        assert!(validate_policy(
            r#"{"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "x"}]}"#
        )
        .is_err());
        assert!(validate_policy(r#"{"Statement": [{"Effect": "Allow", "Action": "x"}]}"#).is_err());
        assert!(validate_policy(&dr_may_delete()).is_ok());
    }

    #[test]
    fn role_actions_and_trust() {
        let role = Role {
            arn: "arn:aws:iam::111111111111:role/r".into(),
            trusted: vec![EFS_SERVICE.into(), format!("arn:aws:iam::{DR}:root")],
            external_id: None,
            actions: vec!["elasticfilesystem:Replication*".into()],
        };
        assert!(role.allows("elasticfilesystem:ReplicationRead"));
        assert!(!role.allows("elasticfilesystem:DeleteFileSystem"));
        assert!(role.trusts(EFS_SERVICE));
        assert!(role.trusts(DR));
        assert!(!role.trusts("333333333333"));
        assert_eq!(role.account(), Some("111111111111"));
        assert!(role.validate().is_ok());
        assert!(Role {
            arn: "nope".into(),
            ..role
        }
        .validate()
        .is_err());
    }
}
