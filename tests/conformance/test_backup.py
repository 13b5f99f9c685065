"""boto3 against the emulator's AWS Backup subset (REST-JSON): a backup job
of an EFS file system from start to recovery point, idempotency, forced and
outage failures, vaults, validation errors, and the faults every service
shares. Paths, members, error codes and statuses are botocore's model's.
"""

import datetime

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

EAST = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/efs-dr-backup"
ONE_ATTEMPT = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def error_of(excinfo):
    """(code, HTTP status) of a botocore ClientError."""
    r = excinfo.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def backed_fs(client, emulator, control, unique):
    """backed_fs(region=...) -> (file system ID, ARN), available, with /a.txt written."""

    def make(region=EAST):
        efs = client("efs", region)
        fs = efs.create_file_system(CreationToken=unique("bk"), Tags=[{"Key": "Name", "Value": "data"}])
        emulator.advance(20)
        control("POST", "/_emulator/writes",
                {"region": region, "file_system_id": fs["FileSystemId"], "path": "/a.txt", "content": "alpha"})
        return fs["FileSystemId"], fs["FileSystemArn"]

    return make


def jobs_of(emulator, fs_id, region=EAST):
    """Every backup job the world holds for a file system (from /_emulator/state)."""
    jobs = emulator.state()["regions"][region]["backup"]["jobs"]
    return [j for j in jobs.values() if j["file_system_id"] == fs_id]


def test_backup_job_runs_to_a_recovery_point(client, emulator, control, backed_fs, unique):
    backup = client("backup")
    fs_id, fs_arn = backed_fs()
    token = unique("tok")
    seq = emulator.last_call_seq()
    started = backup.start_backup_job(
        BackupVaultName="Default", ResourceArn=fs_arn, IamRoleArn=ROLE, IdempotencyToken=token,
        Lifecycle={"DeleteAfterDays": 35})
    assert started["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert isinstance(started["CreationDate"], datetime.datetime)
    assert started["RecoveryPointArn"].startswith("arn:aws:backup:us-east-1:123456789012:recovery-point:")
    job_id, rp_arn = started["BackupJobId"], started["RecoveryPointArn"]

    # The same token and parameters: the same job, and never a second one.
    again = backup.start_backup_job(
        BackupVaultName="Default", ResourceArn=fs_arn, IamRoleArn=ROLE, IdempotencyToken=token,
        Lifecycle={"DeleteAfterDays": 35})
    assert (again["BackupJobId"], again["RecoveryPointArn"], again["CreationDate"]) == (
        job_id, rp_arn, started["CreationDate"])
    assert [j["id"] for j in jobs_of(emulator, fs_id)] == [job_id]

    job = backup.describe_backup_job(BackupJobId=job_id)
    assert (job["State"], job["PercentDone"], job["ResourceType"]) == ("CREATED", "0.0", "EFS")
    assert job["BackupVaultArn"] == "arn:aws:backup:us-east-1:123456789012:backup-vault:Default"
    assert (job["IamRoleArn"], job["ResourceArn"], job["ResourceName"]) == (ROLE, fs_arn, "data")
    assert job["RecoveryPointLifecycle"] == {"DeleteAfterDays": 35}
    assert "CompletionDate" not in job

    emulator.advance(150)
    assert backup.describe_backup_job(BackupJobId=job_id)["State"] == "RUNNING"
    # Written while the job runs: in the recovery point, taken at completion.
    control("POST", "/_emulator/writes",
            {"region": EAST, "file_system_id": fs_id, "path": "/b.txt", "content": "bravo!"})
    emulator.advance(150)
    done = backup.describe_backup_job(BackupJobId=job_id)
    assert (done["State"], done["PercentDone"], done["BackupSizeInBytes"]) == ("COMPLETED", "100.0", 11)
    assert done["CompletionDate"] - done["CreationDate"] == datetime.timedelta(seconds=300)

    point = backup.describe_recovery_point(BackupVaultName="Default", RecoveryPointArn=rp_arn)
    assert (point["Status"], point["ResourceArn"], point["ResourceType"]) == ("COMPLETED", fs_arn, "EFS")
    assert (point["BackupSizeInBytes"], point["StorageClass"]) == (11, "WARM")
    assert point["CalculatedLifecycle"]["DeleteAt"] - point["CreationDate"] == datetime.timedelta(days=35)
    listed = backup.list_recovery_points_by_resource(ResourceArn=fs_arn)["RecoveryPoints"]
    assert [(p["RecoveryPointArn"], p["Status"], p["BackupSizeBytes"]) for p in listed] == [
        (rp_arn, "COMPLETED", 11)]

    # A write after completion is on the file system, not in the recovery point.
    control("POST", "/_emulator/writes",
            {"region": EAST, "file_system_id": fs_id, "path": "/c.txt", "content": "charlie"})
    saved = control("GET", f"/_emulator/files?recovery_point_arn={rp_arn}")
    assert (saved["region"], saved["file_system_id"]) == (EAST, fs_id)
    assert {f["path"]: f["content"] for f in saved["files"]} == {"/a.txt": "alpha", "/b.txt": "bravo!"}
    live = control("GET", f"/_emulator/files?region={EAST}&file_system_id={fs_id}")["files"]
    assert sorted(live[0]) == sorted(saved["files"][0]), "same shape as a file system's files"
    assert {f["path"] for f in live} == {"/a.txt", "/b.txt", "/c.txt"}

    # StartBackupJob is mutating in the call log; the describes and lists are not.
    calls = [(c["service"], c["operation"], c["mutating"]) for c in emulator.calls_since(seq, service="backup")]
    assert calls == [
        ("backup", "StartBackupJob", True), ("backup", "StartBackupJob", True),
        ("backup", "DescribeBackupJob", False), ("backup", "DescribeBackupJob", False),
        ("backup", "DescribeBackupJob", False), ("backup", "DescribeRecoveryPoint", False),
        ("backup", "ListRecoveryPointsByResource", False)]


def test_recovery_points_page_newest_first(client, emulator, backed_fs):
    backup = client("backup")
    _, fs_arn = backed_fs()
    arns = []
    for _ in range(3):
        arns.append(backup.start_backup_job(
            BackupVaultName="Default", ResourceArn=fs_arn, IamRoleArn=ROLE)["RecoveryPointArn"])
        emulator.advance(301)
    pages = list(backup.get_paginator("list_recovery_points_by_resource").paginate(
        ResourceArn=fs_arn, PaginationConfig={"PageSize": 2}))
    assert [len(p["RecoveryPoints"]) for p in pages] == [2, 1]
    assert [p["RecoveryPointArn"] for page in pages for p in page["RecoveryPoints"]] == arns[::-1]
    # The second backup only transfers what changed since the first: nothing.
    sizes = [p["BackupSizeBytes"] for page in pages for p in page["RecoveryPoints"]]
    assert sizes == [0, 0, 5]
    with pytest.raises(ClientError) as e:
        backup.list_recovery_points_by_resource(ResourceArn=fs_arn, MaxResults=1001)
    assert error_of(e) == ("InvalidParameterValueException", 400)


def test_forced_failed_outcome(client, emulator, control, backed_fs):
    backup = client("backup")
    fs_id, fs_arn = backed_fs()
    forced = control("POST", "/_emulator/backup-fault", {"file_system_id": fs_id, "outcome": "FAILED"})
    assert forced == {"region": EAST, "file_system_id": fs_id, "pending": ["FAILED"]}
    started = backup.start_backup_job(BackupVaultName="Default", ResourceArn=fs_arn, IamRoleArn=ROLE)
    # Visible, CREATING, while the job is open.
    listed = backup.list_recovery_points_by_resource(ResourceArn=fs_arn)["RecoveryPoints"]
    assert [(p["RecoveryPointArn"], p["Status"]) for p in listed] == [(started["RecoveryPointArn"], "CREATING")]
    emulator.advance(300)
    job = backup.describe_backup_job(BackupJobId=started["BackupJobId"])
    assert job["State"] == "FAILED"
    assert "backup-fault" in job["StatusMessage"]
    assert isinstance(job["CompletionDate"], datetime.datetime)
    # A failed job leaves no recovery point.
    with pytest.raises(ClientError) as e:
        backup.describe_recovery_point(BackupVaultName="Default", RecoveryPointArn=started["RecoveryPointArn"])
    assert error_of(e) == ("ResourceNotFoundException", 400)
    assert isinstance(e.value, backup.exceptions.ResourceNotFoundException)
    assert backup.list_recovery_points_by_resource(ResourceArn=fs_arn)["RecoveryPoints"] == []
    # The fault was for one job: the next one completes.
    ok = backup.start_backup_job(BackupVaultName="Default", ResourceArn=fs_arn, IamRoleArn=ROLE)
    emulator.advance(300)
    assert backup.describe_backup_job(BackupJobId=ok["BackupJobId"])["State"] == "COMPLETED"
    for outcome in ("ABORTED", "EXPIRED"):
        control("POST", "/_emulator/backup-fault", {"file_system_id": fs_id, "outcome": outcome})
        j = backup.start_backup_job(BackupVaultName="Default", ResourceArn=fs_arn, IamRoleArn=ROLE)
        emulator.advance(300)
        assert backup.describe_backup_job(BackupJobId=j["BackupJobId"])["State"] == outcome


def test_outage_fails_a_running_job(client, emulator, control, backed_fs):
    backup = client("backup", config=ONE_ATTEMPT)
    _, fs_arn = backed_fs()
    started = backup.start_backup_job(BackupVaultName="Default", ResourceArn=fs_arn, IamRoleArn=ROLE)
    emulator.advance(100)
    control("POST", "/_emulator/faults", {"region": EAST, "outage": True})
    try:
        emulator.advance(10)
    finally:
        control("POST", "/_emulator/faults", {"region": EAST, "outage": False})
    emulator.advance(300)
    job = backup.describe_backup_job(BackupJobId=started["BackupJobId"])
    assert job["State"] == "FAILED"
    assert EAST in job["StatusMessage"] and "outage" in job["StatusMessage"]


def test_unknown_vault_and_resource_errors(client, backed_fs, unique):
    backup = client("backup")
    _, fs_arn = backed_fs()
    with pytest.raises(ClientError) as e:
        backup.start_backup_job(BackupVaultName=unique("no-vault"), ResourceArn=fs_arn, IamRoleArn=ROLE)
    assert error_of(e) == ("ResourceNotFoundException", 400)
    assert isinstance(e.value, backup.exceptions.ResourceNotFoundException)
    missing_fs = fs_arn.rsplit("/", 1)[0] + "/fs-00000000000000000"
    with pytest.raises(ClientError) as e:
        backup.start_backup_job(BackupVaultName="Default", ResourceArn=missing_fs, IamRoleArn=ROLE)
    assert error_of(e) == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as e:
        backup.start_backup_job(BackupVaultName="Default", ResourceArn=fs_arn, IamRoleArn="admin")
    assert error_of(e) == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as e:
        backup.start_backup_job(BackupVaultName="Default", ResourceArn=fs_arn, IamRoleArn=ROLE,
                                StartWindowMinutes=30)
    assert error_of(e) == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as e:
        backup.describe_backup_job(BackupJobId="00000000-0000-0000-0000-000000000000")
    assert error_of(e) == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as e:
        backup.describe_recovery_point(BackupVaultName=unique("no-vault"),
                                       RecoveryPointArn="arn:aws:backup:us-east-1:123456789012:recovery-point:X")
    assert error_of(e) == ("ResourceNotFoundException", 400)
    # A required member left out gets past botocore only without validation.
    raw = client("backup", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as e:
        raw.start_backup_job(BackupVaultName="Default", ResourceArn=fs_arn)
    assert error_of(e) == ("MissingParameterValueException", 400)


def test_create_backup_vault(client, emulator, backed_fs, unique):
    backup = client("backup")
    name = unique("vault")
    made = backup.create_backup_vault(BackupVaultName=name, BackupVaultTags={"team": "dr"})
    assert made["BackupVaultArn"] == f"arn:aws:backup:us-east-1:123456789012:backup-vault:{name}"
    assert isinstance(made["CreationDate"], datetime.datetime)
    with pytest.raises(ClientError) as e:
        backup.create_backup_vault(BackupVaultName=name)
    assert error_of(e) == ("AlreadyExistsException", 400)
    assert e.value.response["Arn"] == made["BackupVaultArn"]
    with pytest.raises(ClientError) as e:
        backup.create_backup_vault(BackupVaultName="Default")
    assert error_of(e) == ("AlreadyExistsException", 400)
    # A job into the new vault puts its recovery point there, not in Default.
    _, fs_arn = backed_fs()
    job = backup.start_backup_job(BackupVaultName=name, ResourceArn=fs_arn, IamRoleArn=ROLE)
    emulator.advance(300)
    point = backup.describe_recovery_point(BackupVaultName=name, RecoveryPointArn=job["RecoveryPointArn"])
    assert point["BackupVaultArn"] == made["BackupVaultArn"]
    with pytest.raises(ClientError) as e:
        backup.describe_recovery_point(BackupVaultName="Default", RecoveryPointArn=job["RecoveryPointArn"])
    assert error_of(e) == ("ResourceNotFoundException", 400)


def test_throttling_and_server_errors_reach_backup(client, emulator, control):
    backup = client("backup", config=ONE_ATTEMPT)
    region = "eu-central-1"
    regional = client("backup", region, config=ONE_ATTEMPT)
    try:
        control("POST", "/_emulator/faults", {"region": region, "error_rate": 1.0})
        with pytest.raises(ClientError) as e:
            regional.describe_backup_job(BackupJobId="X")
        assert error_of(e) == ("ServiceUnavailableException", 500)
        control("POST", "/_emulator/faults",
                {"region": region, "error_rate": 0.0, "throttle": {"rate": 0.001, "burst": 1}})
        regional.create_backup_vault(BackupVaultName="throttle-probe-" + str(int(emulator.now())))
        with pytest.raises(ClientError) as e:
            regional.describe_backup_job(BackupJobId="X")
        assert error_of(e) == ("ThrottlingException", 400)
    finally:
        control("POST", "/_emulator/faults", {"region": region, "throttle": None, "error_rate": 0.0})
    # Other Regions were never affected.
    with pytest.raises(ClientError) as e:
        backup.describe_backup_job(BackupJobId="X")
    assert error_of(e) == ("ResourceNotFoundException", 400)
