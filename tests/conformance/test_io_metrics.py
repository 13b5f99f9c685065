"""boto3 against the AWS/EFS DataWriteIOBytes metric the emulator publishes
for every file system each minute: its Sum over a minute is the bytes
written in it, an idle minute is 0 (or, with sparse_io_metrics, absent),
through GetMetricStatistics and GetMetricData, over awsJson1_0 and CBOR.
"""

import datetime

import boto3
import botocore.session

UTC = datetime.timezone.utc


def at(epoch):
    return datetime.datetime.fromtimestamp(epoch, UTC)


def next_minute(emulator):
    """Moves the clock just past the next whole minute and returns that minute."""
    now = emulator.now()
    minute = (int(now) // 60 + 1) * 60
    emulator.advance(minute - now + 1)
    return minute


def write(control, fs_id, path, content):
    control("POST", "/_emulator/writes",
            {"region": "us-east-1", "file_system_id": fs_id, "path": path, "content": content})


def statistics(cw, fs_id, start, minutes):
    out = cw.get_metric_statistics(
        Namespace="AWS/EFS", MetricName="DataWriteIOBytes",
        Dimensions=[{"Name": "FileSystemId", "Value": fs_id}],
        StartTime=at(start), EndTime=at(start + 60 * minutes), Period=60,
        Statistics=["Sum", "SampleCount", "Maximum"])
    return {int(p["Timestamp"].timestamp()) - start: p for p in out["Datapoints"]}


def metric_data(cw, fs_id, start, minutes):
    out = cw.get_metric_data(
        MetricDataQueries=[{"Id": "w", "MetricStat": {
            "Metric": {"Namespace": "AWS/EFS", "MetricName": "DataWriteIOBytes",
                       "Dimensions": [{"Name": "FileSystemId", "Value": fs_id}]},
            "Period": 60, "Stat": "Sum"}}],
        StartTime=at(start), EndTime=at(start + 60 * minutes), ScanBy="TimestampAscending")
    result = out["MetricDataResults"][0]
    return [(int(t.timestamp()) - start, v) for t, v in zip(result["Timestamps"], result["Values"])]


def check_write_bytes(cw, emulator, control, fs_id):
    minute = next_minute(emulator)
    write(control, fs_id, "/a.txt", "hello")       # 5 bytes
    write(control, fs_id, "/b.bin", "x" * 100)     # 100 bytes
    write(control, fs_id, "/empty", "")            # counts as 1 byte
    emulator.advance(60)                            # the next minute is idle
    emulator.advance(60)                            # ...and now published too
    stats = statistics(cw, fs_id, minute, 2)
    assert sorted(stats) == [0, 60]
    assert (stats[0]["Sum"], stats[0]["SampleCount"], stats[0]["Maximum"]) == (106.0, 3.0, 100.0)
    assert stats[0]["Unit"] == "Bytes"
    assert stats[60]["Sum"] == 0.0
    assert metric_data(cw, fs_id, minute, 2) == [(0, 106.0), (60, 0.0)]


def test_data_write_io_bytes_over_json(client, emulator, control, new_file_system):
    cw = client("cloudwatch")
    check_write_bytes(cw, emulator, control, new_file_system())


def test_data_write_io_bytes_over_cbor(emulator, control, new_file_system, cbor_cloudwatch_models):
    bs = botocore.session.get_session()
    bs.set_config_variable("data_path", cbor_cloudwatch_models)
    cw = boto3.session.Session(botocore_session=bs, region_name="us-east-1").client("cloudwatch")
    assert cw.meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"
    check_write_bytes(cw, emulator, control, new_file_system())


def test_sparse_io_metrics_leave_idle_minutes_out(client, emulator, control, new_file_system):
    cw = client("cloudwatch")
    fs_id = new_file_system()
    assert control("GET", "/_emulator/config")["sparse_io_metrics"] is False
    control("POST", "/_emulator/config", {"sparse_io_metrics": True})
    try:
        minute = next_minute(emulator)
        emulator.advance(60)                        # an idle minute
        write(control, fs_id, "/a.txt", "hello")
        emulator.advance(60)
        emulator.advance(60)                        # another idle minute, published
        stats = statistics(cw, fs_id, minute, 3)
        assert {t: p["Sum"] for t, p in stats.items()} == {60: 5.0}
        assert metric_data(cw, fs_id, minute, 3) == [(60, 5.0)]
    finally:
        control("POST", "/_emulator/config", {"sparse_io_metrics": False})


def test_no_data_write_io_bytes_from_a_region_in_outage(client, emulator, control, new_file_system):
    cw = client("cloudwatch")
    fs_id = new_file_system()
    minute = next_minute(emulator)
    control("POST", "/_emulator/faults", {"region": "us-east-1", "outage": True})
    try:
        emulator.advance(120)
    finally:
        control("POST", "/_emulator/faults", {"region": "us-east-1", "outage": False})
    emulator.advance(60)
    # The minutes whose tick fell in the outage have no datapoint; the one after has its 0.
    stats = statistics(cw, fs_id, minute, 3)
    assert {t: p["Sum"] for t, p in stats.items()} == {120: 0.0}
