//! The `Notifier` port over aws-sdk-sns.

use super::{aws_error, AwsContext};
use efs_dr_core::domain::ports::{AwsResult, Notification, Notifier, Recipient};

/// The `Notifier` port over SNS: each recipient topic is published to in its own Region.
#[derive(Clone)]
pub struct SnsNotifier {
    aws: AwsContext,
}

impl SnsNotifier {
    pub fn new(aws: AwsContext) -> Self {
        SnsNotifier { aws }
    }
}

impl Notifier for SnsNotifier {
    async fn send(&self, n: Notification<'_>) -> AwsResult<()> {
        let Recipient::SnsTopic { arn, region } = n.to;
        self.aws
            .sns(region)
            .publish()
            .topic_arn(arn)
            .subject(sns_subject(n.subject))
            .message(n.body)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error("Publish", region, &e))
    }
}

/// SNS subjects: at most 100 printable ASCII characters, no line breaks.
pub fn sns_subject(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { ' ' })
        .collect();
    let trimmed = clean.trim();
    if trimmed.len() <= 100 {
        trimmed.to_string()
    } else {
        format!("{}...", &trimmed[..97])
    }
}

#[cfg(test)]
mod tests {
    use super::sns_subject;

    #[test]
    fn subjects_fit_sns_limits() {
        let long = "x".repeat(150);
        assert_eq!(sns_subject(&long).len(), 100);
        assert_eq!(sns_subject("a\nb"), "a b");
    }
}
