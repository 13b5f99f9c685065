//! Validated identifiers. A malformed one is rejected while the event is
//! parsed, before any AWS call, with a message that says what is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

fn hex_suffix(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|rest| {
        (8..=40).contains(&rest.len()) && rest.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    })
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $example:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, String> {
                let check: fn(&str) -> bool = $check;
                let trimmed = raw.trim();
                if check(trimmed) {
                    Ok($name(trimmed.to_string()))
                } else {
                    Err(format!(concat!("'{}' is not a valid ", $what, " (expected something like ", $example, ")"), raw))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// An AWS Region name such as `us-west-2`.
    RegionName,
    "AWS Region",
    "us-west-2",
    |s| {
        let parts: Vec<&str> = s.split('-').collect();
        parts.len() >= 3
            && parts.len() <= 4
            && parts[0].len() == 2
            && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
            && parts[parts.len() - 1].len() == 1
            && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
    }
);

id_type!(
    /// An EFS file system ID (`fs-…`).
    FileSystemId,
    "EFS file system ID",
    "fs-0123456789abcdef0",
    |s| hex_suffix(s, "fs-")
);

id_type!(
    /// A VPC subnet ID (`subnet-…`).
    SubnetId,
    "subnet ID",
    "subnet-0123456789abcdef0",
    |s| hex_suffix(s, "subnet-")
);

id_type!(
    /// A VPC security group ID (`sg-…`).
    SecurityGroupId,
    "security group ID",
    "sg-0123456789abcdef0",
    |s| hex_suffix(s, "sg-")
);

/// A file system given by ID or ARN. An ARN also names the Region, which
/// must agree with the Region given next to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSystemRef {
    pub id: FileSystemId,
    /// Region named by the ARN, if an ARN was given.
    pub arn_region: Option<RegionName>,
    /// Account named by the ARN, if an ARN was given: the owner, which may
    /// not be the account the functions run in.
    pub arn_account: Option<AccountId>,
}

/// Written as the ID it names, so that a request serialized (a failover
/// request published again) reads back as the same request.
impl Serialize for FileSystemRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.id.serialize(serializer)
    }
}

impl FileSystemRef {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let in_partition = ["arn:aws:", "arn:aws-cn:", "arn:aws-us-gov:"]
            .iter()
            .find_map(|p| raw.strip_prefix(p))
            .and_then(|r| r.strip_prefix("elasticfilesystem:"));
        if let Some(rest) = in_partition {
            let parts: Vec<&str> = rest.splitn(3, ':').collect();
            if let [region, account, resource] = parts.as_slice() {
                if let Some(id) = resource.strip_prefix("file-system/") {
                    let id = FileSystemId::parse(id)?;
                    let region = RegionName::parse(region)?;
                    let account = AccountId::parse(account)?;
                    return Ok(FileSystemRef {
                        id,
                        arn_region: Some(region),
                        arn_account: Some(account),
                    });
                }
            }
            return Err(format!(
                "'{raw}' is not a valid EFS file system ARN (expected arn:aws:elasticfilesystem:REGION:ACCOUNT:file-system/fs-…)"
            ));
        }
        if raw.starts_with("arn:") {
            return Err(format!(
                "'{raw}' is not an EFS file system ARN of partition aws, aws-cn or aws-us-gov (expected arn:PARTITION:elasticfilesystem:REGION:ACCOUNT:file-system/fs-…)"
            ));
        }
        Ok(FileSystemRef {
            id: FileSystemId::parse(raw)?,
            arn_region: None,
            arn_account: None,
        })
    }
}

impl<'de> Deserialize<'de> for FileSystemRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A 12-digit AWS account ID.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.len() == 12 && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(raw.to_string()))
        } else {
            Err(format!("'{raw}' is not an AWS account ID (12 digits)"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a port works: an account and a Region. `account: None` is the
/// account whose credentials the functions run with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub account: Option<AccountId>,
    pub region: RegionName,
}

impl Location {
    pub fn new(account: Option<AccountId>, region: RegionName) -> Self {
        Location { account, region }
    }
}

impl From<&RegionName> for Location {
    fn from(region: &RegionName) -> Self {
        Location::new(None, region.clone())
    }
}

impl From<RegionName> for Location {
    fn from(region: RegionName) -> Self {
        Location::new(None, region)
    }
}

impl From<&Location> for Location {
    fn from(at: &Location) -> Self {
        at.clone()
    }
}

/// The ARN partition of a Region: `aws-cn`, `aws-us-gov` or `aws`.
pub fn partition_of(region: &RegionName) -> &'static str {
    let r = region.as_str();
    if r.starts_with("cn-") {
        "aws-cn"
    } else if r.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// A file system's ARN.
pub fn file_system_arn(region: &RegionName, account: &AccountId, id: &FileSystemId) -> String {
    format!(
        "arn:{}:elasticfilesystem:{region}:{account}:file-system/{id}",
        partition_of(region)
    )
}

/// The account a resource ARN names (`arn:PARTITION:SERVICE:REGION:ACCOUNT:...`).
pub fn arn_account(arn: &str) -> Option<AccountId> {
    arn.split(':').nth(4).and_then(|a| AccountId::parse(a).ok())
}

/// The Region an SNS topic ARN names.
pub fn topic_region(arn: &str) -> Option<RegionName> {
    arn.split(':')
        .nth(3)
        .and_then(|r| RegionName::parse(r).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arn_keeps_its_account() {
        let r = FileSystemRef::parse(
            "arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-0123456789abcdef0",
        )
        .unwrap();
        assert_eq!(
            r.arn_account.as_ref().map(AccountId::as_str),
            Some("111122223333")
        );
        assert!(FileSystemRef::parse(
            "arn:aws:elasticfilesystem:us-east-1:1111:file-system/fs-0123456789abcdef0"
        )
        .is_err());
        assert_eq!(
            FileSystemRef::parse("fs-0123456789abcdef0")
                .unwrap()
                .arn_account,
            None
        );
    }

    #[test]
    fn accepts_aws_shapes() {
        assert!(RegionName::parse("us-west-2").is_ok());
        assert!(RegionName::parse("us-gov-west-1").is_ok());
        assert!(FileSystemId::parse("fs-0123456789abcdef0").is_ok());
        assert!(SubnetId::parse("subnet-0123abcd").is_ok());
        assert!(SecurityGroupId::parse("sg-0123abcd").is_ok());
    }

    #[test]
    fn rejects_malformed_with_guidance() {
        for bad in ["us_west_2", "uswest2", "US-WEST-2", "us-west-22", ""] {
            assert!(RegionName::parse(bad).is_err(), "{bad}");
        }
        let err = FileSystemId::parse("fs-XYZ").unwrap_err();
        assert!(err.contains("fs-0123456789abcdef0"), "{err}");
        assert!(FileSystemId::parse("fsap-0123456789abcdef0").is_err());
        assert!(SubnetId::parse("sg-0123abcd").is_err());
    }

    #[test]
    fn arn_names_its_region() {
        let r = FileSystemRef::parse(
            "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0123456789abcdef0",
        )
        .unwrap();
        assert_eq!(r.id.as_str(), "fs-0123456789abcdef0");
        assert_eq!(r.arn_region.as_ref().map(|r| r.as_str()), Some("us-east-1"));
        assert!(FileSystemRef::parse(
            "arn:aws:elasticfilesystem:us-east-1:1:access-point/fsap-0123456789abcdef0"
        )
        .is_err());
    }
}
