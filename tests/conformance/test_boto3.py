"""boto3 against the emulator: EFS (REST-JSON), CloudWatch, SNS (Query).

Each test checks what boto3 itself makes of the answers: parsed shapes,
datetimes, modelled error classes, status codes, paginators, retries.
"""

import datetime
import json
import math
import urllib.error
import urllib.request

import boto3
import botocore.exceptions
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

WEST = "us-west-2"
EAST = "us-east-1"


def error_of(excinfo):
    """(code, HTTP status) of a botocore ClientError."""
    r = excinfo.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


# ---- EFS: file systems and the replication lifecycle --------------------------------

def test_create_file_system_returns_201_shape(client, unique):
    efs = client("efs")
    token = unique("create")
    fs = efs.create_file_system(CreationToken=token, Tags=[{"Key": "Name", "Value": "conf"}])
    # CreateFileSystem is modelled with responseCode 201.
    assert fs["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert fs["LifeCycleState"] == "creating"
    assert fs["CreationToken"] == token
    assert fs["FileSystemId"].startswith("fs-")
    assert fs["Name"] == "conf"
    # Timestamps come as epoch seconds; botocore must turn them into datetimes.
    assert isinstance(fs["CreationTime"], datetime.datetime)
    assert isinstance(fs["SizeInBytes"]["Timestamp"], datetime.datetime)
    assert fs["FileSystemArn"].endswith(f":file-system/{fs['FileSystemId']}")


def test_file_system_becomes_available_with_protection_enabled(client, emulator, unique):
    efs = client("efs")
    fs_id = efs.create_file_system(CreationToken=unique())["FileSystemId"]
    emulator.advance(20)
    described = efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"]
    assert len(described) == 1
    assert described[0]["LifeCycleState"] == "available"
    assert described[0]["FileSystemProtection"]["ReplicationOverwriteProtection"] == "ENABLED"
    # A second create with the same token is the modelled 409 carrying the ID.
    with pytest.raises(ClientError) as e:
        efs.create_file_system(CreationToken=described[0]["CreationToken"])
    assert error_of(e) == ("FileSystemAlreadyExists", 409)
    assert e.value.response["FileSystemId"] == fs_id


def test_replication_lifecycle_and_failover_from_destination(client, emulator, new_file_system):
    east, west = client("efs", EAST), client("efs", WEST)
    source = new_file_system(EAST)

    created = east.create_replication_configuration(
        SourceFileSystemId=source, Destinations=[{"Region": WEST}]
    )
    dest = created["Destinations"][0]["FileSystemId"]
    assert created["SourceFileSystemRegion"] == EAST
    assert created["Destinations"][0]["Region"] == WEST
    assert isinstance(created["CreationTime"], datetime.datetime)

    rep = east.describe_replication_configurations(FileSystemId=source)["Replications"][0]
    assert rep["Destinations"][0]["Status"] == "ENABLING"
    assert "LastReplicatedTimestamp" not in rep["Destinations"][0]

    # The initial sync takes 600 emulated seconds.
    emulator.advance(700)
    rep = east.describe_replication_configurations(FileSystemId=source)["Replications"][0]
    assert rep["Destinations"][0]["Status"] == "ENABLED"
    assert isinstance(rep["Destinations"][0]["LastReplicatedTimestamp"], datetime.datetime)
    # The destination side reports the same configuration.
    rep_west = west.describe_replication_configurations(FileSystemId=dest)["Replications"][0]
    assert rep_west["SourceFileSystemId"] == source
    protection = west.describe_file_systems(FileSystemId=dest)["FileSystems"][0]["FileSystemProtection"]
    assert protection["ReplicationOverwriteProtection"] == "REPLICATING"

    # Failover as the seed Lambda's fallback does it: delete from the
    # destination Region, naming the *source* file system.
    deleted = west.delete_replication_configuration(SourceFileSystemId=source)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    rep_west = west.describe_replication_configurations(FileSystemId=dest)["Replications"][0]
    assert rep_west["Destinations"][0]["Status"] == "DELETING"

    # Not atomic: the destination's side goes at 180 s, protection follows
    # 20 s later, and the source's side 30 s after the destination's.
    emulator.advance(180)
    with pytest.raises(ClientError) as e:
        west.describe_replication_configurations(FileSystemId=dest)
    assert error_of(e) == ("ReplicationNotFound", 404)
    dest_fs = west.describe_file_systems(FileSystemId=dest)["FileSystems"][0]
    assert dest_fs["FileSystemProtection"]["ReplicationOverwriteProtection"] == "REPLICATING"
    rep_east = east.describe_replication_configurations(FileSystemId=source)["Replications"][0]
    assert rep_east["Destinations"][0]["Status"] == "DELETING"
    emulator.advance(30)
    for efs, fs_id in ((west, dest), (east, source)):
        with pytest.raises(ClientError) as e:
            efs.describe_replication_configurations(FileSystemId=fs_id)
        assert error_of(e) == ("ReplicationNotFound", 404)
        # boto3 maps the code to the modelled exception class.
        assert isinstance(e.value, efs.exceptions.ReplicationNotFound)
    dest_fs = west.describe_file_systems(FileSystemId=dest)["FileSystems"][0]
    assert dest_fs["FileSystemProtection"]["ReplicationOverwriteProtection"] == "ENABLED"
    assert dest_fs["LifeCycleState"] == "available"


def test_data_written_to_source_reaches_replica(client, emulator, control, new_file_system):
    # A replication set up through boto3 carries data written to the source
    # (through the control API, as a client on a mount would) to the replica.
    east = client("efs", EAST)
    source = new_file_system(EAST)
    dest = east.create_replication_configuration(
        SourceFileSystemId=source, Destinations=[{"Region": WEST}]
    )["Destinations"][0]["FileSystemId"]
    control("POST", "/_emulator/writes",
            {"region": EAST, "file_system_id": source, "path": "/dr-test.txt", "content": "drill"})
    emulator.advance(700)
    files = control("GET", f"/_emulator/files?region={WEST}&file_system_id={dest}")["files"]
    assert {f["path"]: f["content"] for f in files}.get("/dr-test.txt") == "drill"


def test_failover_while_source_region_is_down(client, emulator, control, new_file_system):
    # The seed Lambda's fallback: the source Region is unreachable, so the
    # configuration is deleted from the destination Region.
    one_attempt = Config(retries={"total_max_attempts": 1, "mode": "standard"})
    east, west = client("efs", EAST, config=one_attempt), client("efs", WEST, config=one_attempt)
    source = new_file_system(EAST)
    dest = east.create_replication_configuration(
        SourceFileSystemId=source, Destinations=[{"Region": WEST}]
    )["Destinations"][0]["FileSystemId"]
    emulator.advance(700)

    control("POST", "/_emulator/faults", {"region": EAST, "outage": True})
    try:
        # The Region's endpoint drops the connection: a transport error, not a
        # ClientError (botocore's ConnectionClosedError; a refused connection
        # would be EndpointConnectionError, but all Regions share one port).
        with pytest.raises((botocore.exceptions.ConnectionClosedError,
                            botocore.exceptions.EndpointConnectionError)):
            east.describe_replication_configurations(FileSystemId=source)
        # Deleting both sides needs the source Region: a 500 from the destination.
        with pytest.raises(ClientError) as e:
            west.delete_replication_configuration(SourceFileSystemId=source)
        assert error_of(e) == ("InternalServerError", 500)
        # Deleting only the destination's side works without the source.
        out = west.delete_replication_configuration(
            SourceFileSystemId=source, DeletionMode="LOCAL_CONFIGURATION_ONLY")
        assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
        emulator.advance(200)
        dest_fs = west.describe_file_systems(FileSystemId=dest)["FileSystems"][0]
        assert dest_fs["FileSystemProtection"]["ReplicationOverwriteProtection"] == "ENABLED"
    finally:
        control("POST", "/_emulator/faults", {"region": EAST, "outage": False})


# ---- EFS: errors as botocore parses them ---------------------------------------------

def test_unknown_file_system_is_404(client):
    efs = client("efs")
    with pytest.raises(ClientError) as e:
        efs.describe_file_systems(FileSystemId="fs-0123456789abcdef0")
    assert error_of(e) == ("FileSystemNotFound", 404)
    assert isinstance(e.value, efs.exceptions.FileSystemNotFound)
    assert "fs-0123456789abcdef0" in e.value.response["Error"]["Message"]


def test_malformed_id_is_server_side_bad_request(client):
    efs = client("efs")
    # botocore checks only types and lengths, so the malformed ID reaches the server.
    with pytest.raises(ClientError) as e:
        efs.describe_file_systems(FileSystemId="not-a-file-system")
    assert error_of(e) == ("BadRequest", 400)
    assert isinstance(e.value, efs.exceptions.BadRequest)


def test_protection_replicating_is_bad_request(client, new_file_system):
    efs = client("efs")
    fs_id = new_file_system()
    # REPLICATING is a valid enum value client-side; only EFS itself may set it.
    with pytest.raises(ClientError) as e:
        efs.update_file_system_protection(
            FileSystemId=fs_id, ReplicationOverwriteProtection="REPLICATING"
        )
    assert error_of(e) == ("BadRequest", 400)
    out = efs.update_file_system_protection(FileSystemId=fs_id, ReplicationOverwriteProtection="DISABLED")
    assert out["ReplicationOverwriteProtection"] == "DISABLED"


def test_throttling_without_retries(client, emulator, control):
    # In a botocore Config, retries={"max_attempts": N} counts *retries*
    # (N + 1 attempts, unlike AWS_MAX_ATTEMPTS); total_max_attempts=1 is a
    # single attempt, so the ThrottlingException reaches the caller.
    efs = client("efs", EAST, config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    control("POST", "/_emulator/faults", {"region": EAST, "throttle": {"rate": 1, "burst": 1}})
    try:
        seq = emulator.last_call_seq()
        errors = []
        for _ in range(3):  # a burst of 1 at 1/s: the 2nd and 3rd calls are refused
            try:
                efs.describe_file_systems(MaxItems=1)
            except ClientError as e:
                errors.append(e)
        assert errors, "no request was throttled"
        err = errors[0].response
        assert err["Error"]["Code"] == "ThrottlingException"
        assert isinstance(errors[0], efs.exceptions.ThrottlingException)
        # The EFS model gives ThrottlingException httpStatusCode 429; AWS's
        # front door often answers 400. botocore treats both as throttling.
        assert err["ResponseMetadata"]["HTTPStatusCode"] in (400, 429)
        assert err["ResponseMetadata"]["RetryAttempts"] == 0
        # No hidden retries: the server saw exactly one request per call.
        calls = emulator.calls_since(seq, region=EAST)
        assert len(calls) == 3
        assert sum(c["error_code"] == "ThrottlingException" for c in calls) == len(errors)
    finally:
        control("POST", "/_emulator/faults", {"region": EAST, "throttle": None})
    efs.describe_file_systems(MaxItems=1)  # throttling is off again


# ---- EFS: mount targets, access points, tags, paginators -----------------------------

def test_mount_targets_and_conflict_in_same_az(client, emulator, new_file_system, subnets):
    efs = client("efs")
    fs_id = new_file_system()
    subnet_a, subnet_b = subnets(EAST)[0], subnets(EAST)[1]
    mt = efs.create_mount_target(FileSystemId=fs_id, SubnetId=subnet_a["id"])
    assert mt["LifeCycleState"] == "creating"
    assert mt["AvailabilityZoneName"] == subnet_a["availability_zone"]
    assert mt["SubnetId"] == subnet_a["id"]

    # A second mount target in the same Availability Zone is the modelled 409.
    with pytest.raises(ClientError) as e:
        efs.create_mount_target(FileSystemId=fs_id, SubnetId=subnet_a["id"])
    assert error_of(e) == ("MountTargetConflict", 409)
    assert isinstance(e.value, efs.exceptions.MountTargetConflict)

    efs.create_mount_target(FileSystemId=fs_id, SubnetId=subnet_b["id"])
    emulator.advance(120)
    listed = efs.describe_mount_targets(FileSystemId=fs_id)["MountTargets"]
    assert sorted(m["SubnetId"] for m in listed) == sorted([subnet_a["id"], subnet_b["id"]])
    assert {m["LifeCycleState"] for m in listed} == {"available"}
    groups = efs.describe_mount_target_security_groups(MountTargetId=mt["MountTargetId"])
    assert groups["SecurityGroups"]
    assert efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["NumberOfMountTargets"] == 2


def test_access_point_client_token_idempotency(client, emulator, new_file_system, unique):
    efs = client("efs")
    fs_id = new_file_system()
    token = unique("ap")
    args = dict(
        ClientToken=token,
        FileSystemId=fs_id,
        PosixUser={"Uid": 1000, "Gid": 1000},
        RootDirectory={"Path": "/app",
                       "CreationInfo": {"OwnerUid": 1000, "OwnerGid": 1000, "Permissions": "0755"}},
    )
    first = efs.create_access_point(**args)
    assert first["PosixUser"] == {"Uid": 1000, "Gid": 1000}
    # As on AWS, a reused token is a conflict naming the original, even for an
    # identical retry: callers recover the ID from the error instead of duplicating.
    for retry in (args, {**args, "PosixUser": {"Uid": 2000, "Gid": 2000}}):
        with pytest.raises(ClientError) as e:
            efs.create_access_point(**retry)
        assert error_of(e) == ("AccessPointAlreadyExists", 409)
        assert e.value.response["AccessPointId"] == first["AccessPointId"]
    listed = efs.describe_access_points(FileSystemId=fs_id)["AccessPoints"]
    assert [a["AccessPointId"] for a in listed] == [first["AccessPointId"]]

    # Without a ClientToken boto3 fills in an idempotency token itself.
    auto = efs.create_access_point(FileSystemId=fs_id)
    assert auto["ClientToken"] and auto["AccessPointId"] != first["AccessPointId"]
    efs.delete_access_point(AccessPointId=auto["AccessPointId"])


def test_tags_round_trip(client, new_file_system):
    efs = client("efs")
    fs_id = new_file_system()
    efs.tag_resource(ResourceId=fs_id, Tags=[{"Key": "team", "Value": "dr"},
                                             {"Key": "env", "Value": "test"}])
    tags = efs.list_tags_for_resource(ResourceId=fs_id)["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "dr", "env": "test"}
    # TagKeys travel as repeated `tagKeys` query parameters.
    efs.untag_resource(ResourceId=fs_id, TagKeys=["team", "env"])
    assert efs.list_tags_for_resource(ResourceId=fs_id)["Tags"] == []
    # The ARN form of the resource ID works too.
    arn = efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["FileSystemArn"]
    efs.tag_resource(ResourceId=arn, Tags=[{"Key": "Name", "Value": "by-arn"}])
    assert efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["Name"] == "by-arn"


def test_describe_file_systems_paginator(client, emulator, unique):
    # A Region no other test uses, so this test knows every file system in it.
    region = "eu-central-1"
    efs = client("efs", region)
    mine = {efs.create_file_system(CreationToken=unique("page"))["FileSystemId"] for _ in range(5)}
    seq = emulator.last_call_seq()
    pages = list(efs.get_paginator("describe_file_systems").paginate(PaginationConfig={"PageSize": 2}))
    seen = [fs["FileSystemId"] for p in pages for fs in p["FileSystems"]]
    assert all(len(p["FileSystems"]) <= 2 for p in pages)
    assert len(seen) == len(set(seen)), "a file system came back twice"
    assert mine <= set(seen)
    assert len(pages) == math.ceil(len(seen) / 2)
    # One DescribeFileSystems request per page, each with MaxItems=2 honoured.
    calls = emulator.calls_since(seq, region=region)
    assert [c["operation"] for c in calls] == ["DescribeFileSystems"] * len(pages)

    # MaxItems on the paginator stops early and hands out a resume token.
    result = efs.get_paginator("describe_file_systems").paginate(
        PaginationConfig={"MaxItems": 2, "PageSize": 2}).build_full_result()
    assert len(result["FileSystems"]) == 2
    assert result.get("NextToken")


# ---- CloudWatch ---------------------------------------------------------------------

def _cloudwatch_round_trip(cw, sns, emulator, unique):
    """put_metric_data, get_metric_statistics, put_metric_alarm,
    describe_alarms, set_alarm_state (whose action publishes to SNS)."""
    namespace, alarm = unique("Conformance"), unique("lag-alarm")
    topic = sns.create_topic(Name=unique("dr-alerts"))["TopicArn"]
    # Emulated time, not the wall clock: the manual clock has moved ahead.
    now = datetime.datetime.fromtimestamp(emulator.now(), datetime.timezone.utc)
    dims = [{"Name": "FileSystemId", "Value": "fs-0123456789abcdef0"}]
    cw.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Lag", "Dimensions": dims, "Timestamp": now, "Value": v, "Unit": "Seconds"}
        for v in (10.0, 30.0)])
    stats = cw.get_metric_statistics(
        Namespace=namespace, MetricName="Lag", Dimensions=dims,
        StartTime=now - datetime.timedelta(minutes=5), EndTime=now + datetime.timedelta(minutes=5),
        Period=600, Statistics=["Maximum", "SampleCount"])
    assert len(stats["Datapoints"]) == 1
    point = stats["Datapoints"][0]
    assert point["Maximum"] == 30.0 and point["SampleCount"] == 2.0
    assert isinstance(point["Timestamp"], datetime.datetime)

    cw.put_metric_alarm(
        AlarmName=alarm, Namespace=namespace, MetricName="Lag", Dimensions=dims,
        Statistic="Maximum", Period=300, EvaluationPeriods=3, Threshold=900,
        ComparisonOperator="GreaterThanThreshold", AlarmActions=[topic])
    described = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    assert [a["AlarmName"] for a in described] == [alarm]
    assert described[0]["Threshold"] == 900.0
    assert described[0]["AlarmActions"] == [topic]
    assert isinstance(described[0]["StateUpdatedTimestamp"], datetime.datetime)

    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="conformance test")
    assert cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"] == "ALARM"
    messages = emulator.control("GET", f"/_emulator/sns/messages?topic_arn={topic}")["messages"]
    assert len(messages) == 1 and alarm in messages[0]["message"]

    with pytest.raises(ClientError) as e:
        cw.set_alarm_state(AlarmName=unique("missing"), StateValue="OK", StateReason="x")
    assert error_of(e) == ("ResourceNotFound", 404)


def test_cloudwatch_with_boto3_as_shipped(client, emulator, unique):
    # botocore picks the first protocol of its own priority list that the
    # model offers: for CloudWatch ["smithy-rpc-v2-cbor", "json", "query"]
    # that is "json" (awsJson1_0), not CBOR. This test uses boto3 unchanged,
    # as the project's Lambdas and scripts would.
    cw = client("cloudwatch")
    _cloudwatch_round_trip(cw, client("sns"), emulator, unique)


def test_cloudwatch_over_rpc_v2_cbor(client, emulator, unique, cbor_cloudwatch_models):
    # The same calls with botocore forced onto RPC v2 CBOR (the protocol the
    # Rust SDK speaks): an independent CBOR implementation checks ours.
    bs = botocore.session.get_session()
    bs.set_config_variable("data_path", cbor_cloudwatch_models)
    cw = boto3.session.Session(botocore_session=bs, region_name=EAST).client("cloudwatch")
    assert cw.meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"
    _cloudwatch_round_trip(cw, client("sns"), emulator, unique)


# ---- SNS -------------------------------------------------------------------------------

def test_sns_topic_subscribe_publish(client, control, unique):
    sns = client("sns")
    name = unique("dr-alerts")
    topic = sns.create_topic(Name=name)["TopicArn"]
    assert topic == f"arn:aws:sns:{EAST}:123456789012:{name}"
    # CreateTopic is idempotent by name.
    assert sns.create_topic(Name=name)["TopicArn"] == topic

    function = f"arn:aws:lambda:{EAST}:123456789012:function:lag-alarm-handler"
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function)
    assert sub["SubscriptionArn"].startswith(topic + ":")
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"], s["TopicArn"]) for s in subs] == [("lambda", function, topic)]

    body = json.dumps({"AlarmName": "efs-replication-lag-high", "NewStateValue": "ALARM"})
    published = sns.publish(TopicArn=topic, Message=body, Subject="ALARM")
    assert published["MessageId"]
    messages = control("GET", f"/_emulator/sns/messages?topic_arn={topic}")["messages"]
    assert len(messages) == 1
    assert messages[0]["message_id"] == published["MessageId"]
    assert json.loads(messages[0]["message"]) == json.loads(body)
    assert messages[0]["subject"] == "ALARM"
    assert messages[0]["delivered_to"] == ["lag-alarm-handler"]

    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=topic + "-missing", Message="x")
    assert error_of(e) == ("NotFound", 404)


def test_sns_request_id_matches_header(client, unique):
    # botocore reads the Query protocol's RequestId from the XML body; AWS
    # sends the same ID in x-amzn-RequestId, and logs are correlated by it.
    sns = client("sns")
    meta = sns.create_topic(Name=unique("rid"))["ResponseMetadata"]
    assert meta["RequestId"] == meta["HTTPHeaders"]["x-amzn-requestid"]
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=f"arn:aws:sns:{EAST}:123456789012:{unique('missing')}", Message="x")
    meta = e.value.response["ResponseMetadata"]
    assert meta["RequestId"] == meta["HTTPHeaders"]["x-amzn-requestid"]


# ---- authentication ---------------------------------------------------------------------

def test_unsigned_request_is_rejected(emulator):
    # A plain HTTP client, no SigV4: what AWS's front door answers.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(emulator.url + "/2015-02-01/file-systems", timeout=10)
    assert e.value.code == 403
    assert e.value.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
