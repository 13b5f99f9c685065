//! ARNs across AWS partitions. A Region belongs to one partition (`cn-*` to
//! `aws-cn`, `us-gov-*` to `aws-us-gov`, every other to `aws`); the ARNs the
//! emulator makes use their Region's partition, and the ARNs it accepts may
//! name any of the three.

/// The partitions the emulator knows.
pub const PARTITIONS: [&str; 3] = ["aws", "aws-cn", "aws-us-gov"];

/// The partition a Region belongs to.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` for a resource of `region`.
pub fn make(service: &str, region: &str, account: &str, resource: &str) -> String {
    format!(
        "arn:{}:{service}:{region}:{account}:{resource}",
        partition_of(region)
    )
}

/// The parts of an ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    /// Everything after the fifth colon, e.g. `file-system/fs-…` or `alarm:name`.
    pub resource: &'a str,
}

impl Arn<'_> {
    /// True when the ARN's partition is the one its own Region belongs to
    /// (an ARN without a Region, such as IAM's, only needs a known partition).
    pub fn partition_matches_region(&self) -> bool {
        if self.region.is_empty() {
            PARTITIONS.contains(&self.partition)
        } else {
            partition_of(self.region) == self.partition
        }
    }
}

/// Splits an ARN of a known partition; `None` for anything else.
pub fn parse(arn: &str) -> Option<Arn<'_>> {
    let rest = arn.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let partition = parts.next()?;
    let service = parts.next()?;
    let region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?;
    if !PARTITIONS.contains(&partition) || service.is_empty() || resource.is_empty() {
        return None;
    }
    Some(Arn {
        partition,
        service,
        region,
        account,
        resource,
    })
}

/// True for an ARN of `service` in any known partition.
pub fn is_service(arn: &str, service: &str) -> bool {
    parse(arn).is_some_and(|a| a.service == service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_map_to_their_partition() {
        assert_eq!(partition_of("us-east-1"), "aws");
        assert_eq!(partition_of("us-west-2"), "aws");
        assert_eq!(partition_of("eu-central-1"), "aws");
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("cn-northwest-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of("us-gov-east-1"), "aws-us-gov");
    }

    #[test]
    fn made_arns_use_the_region_partition() {
        assert_eq!(
            make("sns", "cn-north-1", "123456789012", "t"),
            "arn:aws-cn:sns:cn-north-1:123456789012:t"
        );
        assert_eq!(
            make("backup", "us-gov-west-1", "1", "backup-vault:Default"),
            "arn:aws-us-gov:backup:us-gov-west-1:1:backup-vault:Default"
        );
        assert_eq!(
            make("elasticfilesystem", "us-east-1", "1", "file-system/fs-1"),
            "arn:aws:elasticfilesystem:us-east-1:1:file-system/fs-1"
        );
    }

    #[test]
    fn parses_every_partition_and_nothing_else() {
        let a = parse("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f").unwrap();
        assert_eq!(
            (a.partition, a.service, a.region, a.account, a.resource),
            (
                "aws-us-gov",
                "lambda",
                "us-gov-west-1",
                "123456789012",
                "function:f"
            )
        );
        assert!(a.partition_matches_region());
        let iam = parse("arn:aws-cn:iam::123456789012:role/r").unwrap();
        assert_eq!((iam.region, iam.resource), ("", "role/r"));
        assert!(iam.partition_matches_region());
        assert!(!parse("arn:aws-cn:sns:us-east-1:1:t")
            .unwrap()
            .partition_matches_region());
        assert!(parse("arn:aws-iso:sns:us-iso-east-1:1:t").is_none());
        assert!(parse("arn:aws:sns:us-east-1:1").is_none());
        assert!(parse("not-an-arn").is_none());
        assert!(is_service("arn:aws-cn:sns:cn-north-1:1:t", "sns"));
        assert!(!is_service("arn:aws-cn:sqs:cn-north-1:1:t", "sns"));
    }
}
