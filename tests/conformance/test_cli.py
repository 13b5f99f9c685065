"""The AWS CLI v1 against the emulator, running the seed article's own
commands (only the IDs are ours), and the call log to check that each
command reached the Region and operation it should.
"""

import datetime

import pytest

from conftest import CliError

EAST, WEST = "us-east-1", "us-west-2"

# The seed's query for replication status, verbatim (multi-line JMESPath).
REPLICATION_STATUS_QUERY = """Replications[0].{
    Source: SourceFileSystemId,
    SourceRegion: SourceFileSystemRegion,
    Destination: Destinations[0].FileSystemId,
    DestRegion: Destinations[0].Region,
    Status: Destinations[0].Status,
    LastSync: Destinations[0].LastReplicatedTimestamp
  }"""


def ops(calls):
    """(region, service, operation, status) of logged calls, for comparison."""
    return [(c["region"], c["service"], c["operation"], c["status"]) for c in calls]


def table_cells(table):
    """Rows of cells of an `--output table` box, title and borders left out."""
    rows = []
    for line in table.splitlines():
        line = line.strip()
        if line.startswith("|") and line.count("|") > 2:
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def table_rows(table):
    """{key: value} of a vertical table (one object, a row per key)."""
    return dict(table_cells(table))


def table_columns(table):
    """{header: value} of a horizontal table (a header row, one value row)."""
    header, values = table_cells(table)
    return dict(zip(header, values))


@pytest.fixture
def available_fs(aws, emulator, unique):
    """fs_id(region) -> a file system created with the CLI and made available."""

    def make(region=EAST):
        fs = aws("efs", "create-file-system", "--creation-token", unique("cli"), region=region)
        assert fs["LifeCycleState"] == "creating"
        emulator.advance(20)
        return fs["FileSystemId"]

    return make


def test_seed_cross_region_failover_and_failback(aws, emulator, available_fs, subnets, security_groups):
    source = available_fs(EAST)

    # "Create cross-region replication" (seed, verbatim apart from the ID).
    seq = emulator.last_call_seq()
    created = aws(
        "efs", "create-replication-configuration",
        "--source-file-system-id", source,
        "--destinations", """[{
    "Region": "us-west-2"
  }]""",
    )
    dest = created["Destinations"][0]["FileSystemId"]
    assert created["Destinations"][0]["Region"] == WEST
    assert ops(emulator.calls_since(seq)) == [
        (EAST, "elasticfilesystem", "CreateReplicationConfiguration", 200)]

    # "Get replication configuration and status", as a table.
    def status_table():
        return table_rows(aws(
            "efs", "describe-replication-configurations",
            "--file-system-id", source,
            "--query", REPLICATION_STATUS_QUERY,
            "--output", "table",
        ))

    rows = status_table()
    assert rows == {"Source": source, "SourceRegion": EAST, "Destination": dest,
                    "DestRegion": WEST, "Status": "ENABLING", "LastSync": "None"}
    emulator.advance(700)
    rows = status_table()
    assert rows["Status"] == "ENABLED"
    # CLI v1 prints timestamps as they came on the wire: epoch seconds.
    assert float(rows["LastSync"]) > 0

    # Failover step 1: "Delete replication to promote the replica", run in
    # the source Region.
    seq = emulator.last_call_seq()
    assert aws("efs", "delete-replication-configuration",
               "--source-file-system-id", source, "--region", EAST) is None
    assert ops(emulator.calls_since(seq)) == [
        (EAST, "elasticfilesystem", "DeleteReplicationConfiguration", 204)]
    # Both sides gone and protection ENABLED: 180 s, plus 20 s and 30 s of skew.
    emulator.advance(230)

    # Step 2: "Check the destination file system status" in the destination Region.
    seq = emulator.last_call_seq()
    table = aws("efs", "describe-file-systems",
                "--file-system-id", dest,
                "--region", WEST,
                "--query", "FileSystems[0].{Id:FileSystemId,State:LifeCycleState}",
                "--output", "table")
    assert "DescribeFileSystems" in table
    assert table_columns(table) == {"Id": dest, "State": "available"}
    assert ops(emulator.calls_since(seq)) == [(WEST, "elasticfilesystem", "DescribeFileSystems", 200)]
    protection = aws("efs", "describe-file-systems", "--file-system-id", dest, region=WEST)
    assert protection["FileSystems"][0]["FileSystemProtection"]["ReplicationOverwriteProtection"] == "ENABLED"

    # Step 3: "Create mount targets in us-west-2", one per subnet.
    west_subnets = subnets(WEST)[:2]
    sg = security_groups(WEST)[0]["id"]
    seq = emulator.last_call_seq()
    for subnet in west_subnets:
        mt = aws("efs", "create-mount-target",
                 "--file-system-id", dest,
                 "--subnet-id", subnet["id"],
                 "--security-groups", sg,
                 "--region", WEST)
        assert mt["FileSystemId"] == dest and mt["SubnetId"] == subnet["id"]
        assert mt["AvailabilityZoneName"] == subnet["availability_zone"]
    assert ops(emulator.calls_since(seq)) == [
        (WEST, "elasticfilesystem", "CreateMountTarget", 200)] * 2

    # Failback: "Set up reverse replication" from the promoted replica.
    seq = emulator.last_call_seq()
    back = aws("efs", "create-replication-configuration",
               "--source-file-system-id", dest,
               "--destinations", '[{"Region": "us-east-1"}]',
               "--region", WEST)
    assert back["SourceFileSystemId"] == dest
    assert back["SourceFileSystemRegion"] == WEST
    assert back["Destinations"][0]["Region"] == EAST
    assert ops(emulator.calls_since(seq)) == [
        (WEST, "elasticfilesystem", "CreateReplicationConfiguration", 200)]


def test_seed_same_region_replication(aws, emulator, available_fs):
    source = available_fs(EAST)
    seq = emulator.last_call_seq()
    # "Same-region replication" (seed, verbatim apart from the ID).
    created = aws(
        "efs", "create-replication-configuration",
        "--source-file-system-id", source,
        "--destinations", """[{
    "Region": "us-east-1",
    "AvailabilityZoneName": "us-east-1a"
  }]""",
    )
    dest = created["Destinations"][0]["FileSystemId"]
    assert created["Destinations"][0]["Region"] == EAST and dest != source
    assert ops(emulator.calls_since(seq)) == [
        (EAST, "elasticfilesystem", "CreateReplicationConfiguration", 200)]
    # The new destination is a One Zone file system in the named AZ.
    fs = aws("efs", "describe-file-systems", "--file-system-id", dest)["FileSystems"][0]
    assert fs["AvailabilityZoneName"] == "us-east-1a"
    assert fs["FileSystemProtection"]["ReplicationOverwriteProtection"] == "REPLICATING"


@pytest.mark.parametrize("protocol", ["as-shipped", "rpc-v2-cbor"])
def test_seed_cloudwatch_commands(aws, emulator, unique, cbor_cloudwatch_models, protocol):
    # The seed's lag metric query and lag alarm. As shipped, the CLI shares
    # botocore's protocol choice for CloudWatch (awsJson1_0, see test_boto3);
    # the rpc-v2-cbor case runs the same commands with the CBOR-only model.
    env = {"AWS_DATA_PATH": cbor_cloudwatch_models} if protocol == "rpc-v2-cbor" else {}
    now = datetime.datetime.fromtimestamp(emulator.now(), datetime.timezone.utc)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    seq = emulator.last_call_seq()
    table = aws(
        "cloudwatch", "get-metric-statistics",
        "--namespace", "AWS/EFS",
        "--metric-name", "TimeSinceLastSync",
        "--dimensions", "Name=FileSystemId,Value=fs-0abc123def4567890",
        "--start-time", (now - datetime.timedelta(hours=6)).strftime(fmt),
        "--end-time", now.strftime(fmt),
        "--period", "300",
        "--statistics", "Maximum",
        "--output", "table",
        env=env,
    )
    assert "TimeSinceLastSync" in table
    alarm = unique("efs-replication-lag-high")
    aws(
        "cloudwatch", "put-metric-alarm",
        "--alarm-name", alarm,
        "--alarm-description", "EFS replication lag exceeds 15 minutes",
        "--namespace", "AWS/EFS",
        "--metric-name", "TimeSinceLastSync",
        "--dimensions", "Name=FileSystemId,Value=fs-0abc123def4567890",
        "--statistic", "Maximum",
        "--period", "300",
        "--evaluation-periods", "3",
        "--threshold", "900",
        "--comparison-operator", "GreaterThanThreshold",
        "--alarm-actions", "arn:aws:sns:us-east-1:123456789012:dr-alerts",
        env=env,
    )
    described = aws("cloudwatch", "describe-alarms", "--alarm-names", alarm, env=env)["MetricAlarms"]
    assert described[0]["Threshold"] == 900.0
    assert ops(emulator.calls_since(seq)) == [
        (EAST, "monitoring", "GetMetricStatistics", 200),
        (EAST, "monitoring", "PutMetricAlarm", 200),
        (EAST, "monitoring", "DescribeAlarms", 200),
    ]


def test_cli_reports_service_errors(aws, emulator):
    seq = emulator.last_call_seq()
    with pytest.raises(CliError) as e:
        aws("efs", "describe-file-systems", "--file-system-id", "fs-0123456789abcdef0", region=WEST)
    # CLI v1 exits 255 on a service error and prints the modelled code.
    assert e.value.returncode == 255
    assert "FileSystemNotFound" in e.value.stderr
    assert ops(emulator.calls_since(seq)) == [(WEST, "elasticfilesystem", "DescribeFileSystems", 404)]


def test_cli_auto_pagination(aws, emulator, unique):
    # CLI v1 follows NextMarker by itself; --page-size sets MaxItems per request.
    region = "eu-west-1"  # used by no other test: every file system here is ours
    mine = {aws("efs", "create-file-system", "--creation-token", unique("page"), region=region)["FileSystemId"]
            for _ in range(3)}
    seq = emulator.last_call_seq()
    listed = aws("efs", "describe-file-systems", "--page-size", "1", region=region)["FileSystems"]
    assert {fs["FileSystemId"] for fs in listed} == mine and len(listed) == 3
    assert ops(emulator.calls_since(seq)) == [(region, "elasticfilesystem", "DescribeFileSystems", 200)] * 3
