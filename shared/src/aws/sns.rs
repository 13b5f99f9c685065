//! The `Notifier` port over aws-sdk-sns.

use super::aws_error;
use crate::domain::ids::RegionName;
use crate::domain::ports::{AwsResult, Notifier};

#[derive(Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    region: RegionName,
}

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client, region: RegionName) -> Self {
        SnsNotifier { client, region }
    }
}

impl Notifier for SnsNotifier {
    async fn publish(&self, topic_arn: &str, subject: &str, message: &str) -> AwsResult<()> {
        self.client
            .publish()
            .topic_arn(topic_arn)
            .subject(crate::run::report::sns_subject(subject))
            .message(message)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error("Publish", &self.region, &e))
    }
}
