"""Two accounts in one emulator, driven by boto3 and the AWS CLI: the
cross-account replication fields, file system policies, the replication
role checked at each sync (PAUSED with a StatusMessage), and STS AssumeRole.

The conformance key (AKIDCONFORMANCE) signs as the home account, the DR
account here; PRODUCTION_KEY signs as production.
"""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import CliError

EAST, WEST = "us-east-1", "us-west-2"
DR, PRODUCTION = "123456789012", "111111111111"
PRODUCTION_KEY = "AKIAPRODCONFORMANCE"
EFS = "elasticfilesystem.amazonaws.com"
REPLICATION_ACTIONS = [
    "elasticfilesystem:DescribeFileSystems",
    "elasticfilesystem:CreateReplicationConfiguration",
    "elasticfilesystem:DescribeReplicationConfigurations",
    "elasticfilesystem:DeleteReplicationConfiguration",
    "elasticfilesystem:ReplicationWrite",
]


def error_of(excinfo):
    r = excinfo.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def grant(account, actions):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": actions,
        "Resource": "*",
    }]})


@pytest.fixture
def production(emulator, control):
    control("POST", "/_emulator/accounts", {"access_key": PRODUCTION_KEY, "account_id": PRODUCTION})

    def make(service, region=EAST):
        return boto3.session.Session(
            region_name=region,
            aws_access_key_id=PRODUCTION_KEY,
            aws_secret_access_key="conformance-secret",
        ).client(service)

    return make


def role(control, name, trusted, actions, external_id=None):
    arn = f"arn:aws:iam::{PRODUCTION}:role/{name}"
    body = {"arn": arn, "trusted": trusted, "actions": actions}
    if external_id:
        body["external_id"] = external_id
    control("POST", "/_emulator/roles", body)
    return arn


@pytest.fixture
def pair_across_accounts(emulator, control, client, production, unique):
    """pair(write=True) -> (source, replica ARN, replica, role ARN): production's
    source replicating into the DR account's replica, created as the EFS guide
    says, with a replication role that may (or may not) write."""

    def make(write=True):
        actions = ["elasticfilesystem:ReplicationRead"] + REPLICATION_ACTIONS
        if not write:
            actions.remove("elasticfilesystem:ReplicationWrite")
        role_arn = role(control, unique("replication"), [EFS], actions)
        prod, dr = production("efs", EAST), client("efs", WEST)
        source = prod.create_file_system(CreationToken=unique("src"), Encrypted=True)["FileSystemId"]
        replica = dr.create_file_system(CreationToken=unique("dst"), Encrypted=True)["FileSystemId"]
        emulator.advance(20)
        dr.update_file_system_protection(FileSystemId=replica, ReplicationOverwriteProtection="DISABLED")
        dr.put_file_system_policy(FileSystemId=replica, Policy=grant(PRODUCTION, REPLICATION_ACTIONS))
        replica_arn = f"arn:aws:elasticfilesystem:{WEST}:{DR}:file-system/{replica}"
        prod.create_replication_configuration(
            SourceFileSystemId=source,
            Destinations=[{"Region": WEST, "FileSystemId": replica_arn, "RoleArn": role_arn}],
        )
        emulator.advance(700)
        return source, replica_arn, replica, role_arn

    return make


def test_file_system_policy_round_trip_and_errors(client, new_file_system):
    efs = client("efs", EAST)
    fs = new_file_system(EAST)
    with pytest.raises(ClientError) as e:
        efs.describe_file_system_policy(FileSystemId=fs)
    assert error_of(e) == ("PolicyNotFound", 404)
    policy = grant(PRODUCTION, ["elasticfilesystem:DescribeFileSystems"])
    put = efs.put_file_system_policy(FileSystemId=fs, Policy=policy)
    assert put["Policy"] == policy and put["FileSystemId"] == fs
    assert json.loads(efs.describe_file_system_policy(FileSystemId=fs)["Policy"]) == json.loads(policy)
    with pytest.raises(efs.exceptions.InvalidPolicyException):
        efs.put_file_system_policy(FileSystemId=fs, Policy="{not json")
    efs.delete_file_system_policy(FileSystemId=fs)
    with pytest.raises(ClientError) as e:
        efs.describe_file_system_policy(FileSystemId=fs)
    assert error_of(e) == ("PolicyNotFound", 404)


def test_cross_account_fields_as_each_account_describes_its_side(client, production, pair_across_accounts):
    source, replica_arn, replica, role_arn = pair_across_accounts()
    dr_side = client("efs", WEST).describe_replication_configurations(FileSystemId=replica)["Replications"][0]
    assert dr_side["SourceFileSystemOwnerId"] == PRODUCTION
    dest = dr_side["Destinations"][0]
    assert (dest["OwnerId"], dest["RoleArn"], dest["Status"]) == (DR, role_arn, "ENABLED")
    source_side = production("efs", EAST).describe_replication_configurations(FileSystemId=source)
    assert source_side["Replications"][0]["Destinations"][0]["FileSystemId"] == replica
    # Another account's file system by ID names nothing; by ARN, only what its policy grants.
    with pytest.raises(ClientError) as e:
        client("efs", EAST).describe_replication_configurations(FileSystemId=source)
    assert error_of(e) == ("FileSystemNotFound", 404)
    with pytest.raises(ClientError) as e:
        client("efs", EAST).describe_file_systems(
            FileSystemId=f"arn:aws:elasticfilesystem:{EAST}:{PRODUCTION}:file-system/{source}")
    assert error_of(e) == ("AccessDeniedException", 403)


def test_a_missing_role_arn_and_a_missing_grant_are_refused(client, emulator, production, control, unique):
    prod, dr = production("efs", EAST), client("efs", WEST)
    source = prod.create_file_system(CreationToken=unique("src"))["FileSystemId"]
    replica = dr.create_file_system(CreationToken=unique("dst"))["FileSystemId"]
    emulator.advance(20)
    dr.update_file_system_protection(FileSystemId=replica, ReplicationOverwriteProtection="DISABLED")
    replica_arn = f"arn:aws:elasticfilesystem:{WEST}:{DR}:file-system/{replica}"
    with pytest.raises(ClientError) as e:
        prod.create_replication_configuration(
            SourceFileSystemId=source, Destinations=[{"Region": WEST, "FileSystemId": replica_arn}])
    assert error_of(e) == ("BadRequest", 400)
    assert "RoleArn is required for cross-account replication" in e.value.response["Error"]["Message"]
    role_arn = role(control, unique("replication"), [EFS], REPLICATION_ACTIONS)
    with pytest.raises(ClientError) as e:
        prod.create_replication_configuration(
            SourceFileSystemId=source,
            Destinations=[{"Region": WEST, "FileSystemId": replica_arn, "RoleArn": role_arn}])
    assert error_of(e) == ("AccessDeniedException", 403)
    listed = prod.describe_replication_configurations()["Replications"]
    assert all(r["SourceFileSystemId"] != source for r in listed), "nothing was created"


def test_a_role_without_replication_write_pauses_with_a_status_message(client, pair_across_accounts):
    _, _, replica, _ = pair_across_accounts(write=False)
    dest = client("efs", WEST).describe_replication_configurations(FileSystemId=replica)["Replications"][0]["Destinations"][0]
    assert dest["Status"] == "PAUSED"
    assert dest["StatusMessage"].startswith("Authorization error.")
    assert "LastReplicatedTimestamp" not in dest


def test_sts_assume_role_with_and_without_the_external_id(client, control, production, unique):
    arn = role(control, unique("access"), [f"arn:aws:iam::{DR}:root"],
               ["elasticfilesystem:DescribeFileSystems"], external_id="s3cret-id")
    sts = client("sts", WEST)
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=arn, RoleSessionName="efs-dr", ExternalId="wrong")
    assert error_of(e) == ("AccessDenied", 403)
    creds = sts.assume_role(RoleArn=arn, RoleSessionName="efs-dr", ExternalId="s3cret-id")["Credentials"]
    as_role = boto3.session.Session(
        region_name=EAST,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    assert as_role.client("sts").get_caller_identity()["Account"] == PRODUCTION
    as_role.client("efs").describe_file_systems()
    with pytest.raises(ClientError) as e:
        as_role.client("efs").create_file_system(CreationToken=unique("denied"))
    assert error_of(e) == ("AccessDeniedException", 403)


def test_the_cli_shows_the_fields_and_the_delete_grant(aws, emulator, pair_across_accounts):
    source, _, replica, role_arn = pair_across_accounts()
    out = aws("efs", "describe-replication-configurations", "--file-system-id", replica, region=WEST)
    dest = out["Replications"][0]["Destinations"][0]
    assert (dest["OwnerId"], dest["RoleArn"]) == (DR, role_arn)
    assert out["Replications"][0]["SourceFileSystemOwnerId"] == PRODUCTION
    seq = emulator.last_call_seq()
    with pytest.raises(CliError) as e:
        aws("efs", "delete-replication-configuration", "--source-file-system-id", source, region=WEST)
    assert "AccessDeniedException" in e.value.stderr
    assert not [c for c in emulator.calls_since(seq, mutating=True) if c["status"] < 300]
    aws("efs", "put-file-system-policy", "--file-system-id", source,
        "--policy", grant(DR, ["elasticfilesystem:DeleteReplicationConfiguration"]),
        region=EAST, env={"AWS_ACCESS_KEY_ID": PRODUCTION_KEY})
    aws("efs", "delete-replication-configuration", "--source-file-system-id", source, region=WEST)
    emulator.advance(300)
    listed = aws("efs", "describe-replication-configurations", region=EAST,
                 env={"AWS_ACCESS_KEY_ID": PRODUCTION_KEY})
    assert all(r["SourceFileSystemId"] != source for r in listed["Replications"])
