"""boto3 against Regions of the other AWS partitions: the ARNs the emulator
makes carry their Region's partition (cn-* is aws-cn, us-gov-* aws-us-gov),
and the ARNs it accepts may be of any partition.
"""

import pytest
from botocore.exceptions import ClientError

CN, GOV = "cn-north-1", "us-gov-west-1"


def test_china_region_arns(client, emulator, unique):
    efs = client("efs", CN)
    fs = efs.create_file_system(CreationToken=unique("cn"))
    assert fs["FileSystemArn"] == f"arn:aws-cn:elasticfilesystem:{CN}:123456789012:file-system/{fs['FileSystemId']}"
    emulator.advance(20)
    # A file system can be named by its aws-cn ARN; an aws ARN names nothing there.
    assert efs.describe_file_systems(FileSystemId=fs["FileSystemArn"])["FileSystems"][0]["FileSystemId"] == fs["FileSystemId"]
    with pytest.raises(ClientError) as e:
        efs.describe_file_systems(FileSystemId=fs["FileSystemArn"].replace("arn:aws-cn:", "arn:aws:"))
    assert e.value.response["Error"]["Code"] == "FileSystemNotFound"

    backup = client("backup", CN)
    job = backup.start_backup_job(BackupVaultName="Default", ResourceArn=fs["FileSystemArn"],
                                  IamRoleArn="arn:aws-cn:iam::123456789012:role/backup")
    assert job["RecoveryPointArn"].startswith(f"arn:aws-cn:backup:{CN}:123456789012:recovery-point:")
    assert backup.describe_backup_job(BackupJobId=job["BackupJobId"])["BackupVaultArn"] == (
        f"arn:aws-cn:backup:{CN}:123456789012:backup-vault:Default")

    sns = client("sns", CN)
    topic = sns.create_topic(Name=unique("cn-alerts"))["TopicArn"]
    assert topic.startswith(f"arn:aws-cn:sns:{CN}:123456789012:")
    function = f"arn:aws-cn:lambda:{CN}:123456789012:function:handler"
    assert sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function)["SubscriptionArn"].startswith(topic)


def test_gov_cloud_alarm_publishes_to_its_topic(client, control, unique):
    sns, cw = client("sns", GOV), client("cloudwatch", GOV)
    topic = sns.create_topic(Name=unique("gov-alerts"))["TopicArn"]
    assert topic.startswith(f"arn:aws-us-gov:sns:{GOV}:123456789012:")
    alarm = unique("gov-alarm")
    cw.put_metric_alarm(
        AlarmName=alarm, Namespace="AWS/EFS", MetricName="TimeSinceLastSync",
        Dimensions=[{"Name": "FileSystemId", "Value": "fs-0123456789abcdef0"}],
        Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=900,
        ComparisonOperator="GreaterThanThreshold", AlarmActions=[topic])
    described = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
    assert described["AlarmArn"] == f"arn:aws-us-gov:cloudwatch:{GOV}:123456789012:alarm:{alarm}"
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="conformance")
    messages = control("GET", f"/_emulator/sns/messages?topic_arn={topic}")["messages"]
    assert len(messages) == 1 and alarm in messages[0]["message"]
