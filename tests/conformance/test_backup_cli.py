"""The AWS CLI v1 against the emulator's AWS Backup subset: the commands an
operator would type to back up an EFS file system and find the recovery
point, with the call log to check what reached the emulator.
"""

import pytest

from conftest import CliError

EAST = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/efs-dr-backup"


@pytest.fixture
def cli_fs(aws, emulator, control, unique):
    """(file system ID, ARN) created with the CLI, available, with /a.txt written."""
    fs = aws("efs", "create-file-system", "--creation-token", unique("clibk"))
    emulator.advance(20)
    control("POST", "/_emulator/writes",
            {"region": EAST, "file_system_id": fs["FileSystemId"], "path": "/a.txt", "content": "alpha"})
    return fs["FileSystemId"], fs["FileSystemArn"]


def start(aws, vault, fs_arn, *extra):
    return aws("backup", "start-backup-job", "--backup-vault-name", vault, "--resource-arn", fs_arn,
               "--iam-role-arn", ROLE, *extra)


def test_cli_backup_job_to_recovery_point(aws, emulator, control, cli_fs, unique):
    fs_id, fs_arn = cli_fs
    vault = unique("clivault")
    made = aws("backup", "create-backup-vault", "--backup-vault-name", vault)
    assert made["BackupVaultName"] == vault
    token = unique("tok")
    seq = emulator.last_call_seq()
    first = start(aws, vault, fs_arn, "--idempotency-token", token)
    second = start(aws, vault, fs_arn, "--idempotency-token", token)
    assert (second["BackupJobId"], second["RecoveryPointArn"]) == (first["BackupJobId"], first["RecoveryPointArn"])
    # CLI v1 prints the wire's epoch seconds as they came (cli_timestamp_format "none").
    assert isinstance(first["CreationDate"], float)
    jobs = [j for j in emulator.state()["regions"][EAST]["backup"]["jobs"].values()
            if j["file_system_id"] == fs_id]
    assert len(jobs) == 1

    job = aws("backup", "describe-backup-job", "--backup-job-id", first["BackupJobId"])
    assert (job["State"], job["CreationDate"]) == ("CREATED", first["CreationDate"])
    emulator.advance(300)
    state = aws("backup", "describe-backup-job", "--backup-job-id", first["BackupJobId"],
                "--query", "State", "--output", "text")
    assert state.strip() == "COMPLETED"
    control("POST", "/_emulator/writes",
            {"region": EAST, "file_system_id": fs_id, "path": "/late.txt", "content": "after"})

    point = aws("backup", "describe-recovery-point", "--backup-vault-name", vault,
                "--recovery-point-arn", first["RecoveryPointArn"])
    assert (point["Status"], point["ResourceArn"], point["BackupSizeInBytes"]) == ("COMPLETED", fs_arn, 5)
    listed = aws("backup", "list-recovery-points-by-resource", "--resource-arn", fs_arn)["RecoveryPoints"]
    assert [p["RecoveryPointArn"] for p in listed] == [first["RecoveryPointArn"]]
    files = control("GET", f"/_emulator/files?recovery_point_arn={first['RecoveryPointArn']}")["files"]
    assert [f["path"] for f in files] == ["/a.txt"]

    calls = [(c["operation"], c["status"], c["mutating"]) for c in emulator.calls_since(seq, service="backup")]
    assert calls == [
        ("StartBackupJob", 200, True), ("StartBackupJob", 200, True),
        ("DescribeBackupJob", 200, False), ("DescribeBackupJob", 200, False),
        ("DescribeRecoveryPoint", 200, False), ("ListRecoveryPointsByResource", 200, False)]


def test_cli_auto_pagination_of_recovery_points(aws, emulator, cli_fs):
    _, fs_arn = cli_fs
    arns = []
    for _ in range(3):
        arns.append(start(aws, "Default", fs_arn)["RecoveryPointArn"])
        emulator.advance(301)
    seq = emulator.last_call_seq()
    listed = aws("backup", "list-recovery-points-by-resource", "--resource-arn", fs_arn,
                 "--page-size", "1")["RecoveryPoints"]
    assert [p["RecoveryPointArn"] for p in listed] == arns[::-1]
    assert [c["operation"] for c in emulator.calls_since(seq, service="backup")] == [
        "ListRecoveryPointsByResource"] * 3


def test_cli_forced_failure_and_unknown_vault(aws, emulator, control, cli_fs, unique):
    fs_id, fs_arn = cli_fs
    control("POST", "/_emulator/backup-fault", {"file_system_id": fs_id, "outcome": "FAILED"})
    job = start(aws, "Default", fs_arn)
    emulator.advance(300)
    failed = aws("backup", "describe-backup-job", "--backup-job-id", job["BackupJobId"])
    assert failed["State"] == "FAILED" and failed["StatusMessage"]

    seq = emulator.last_call_seq()
    with pytest.raises(CliError) as e:
        start(aws, unique("missing"), fs_arn)
    # CLI v1 exits 255 on a service error and prints the modelled code.
    assert e.value.returncode == 255
    assert "ResourceNotFoundException" in e.value.stderr
    assert [(c["operation"], c["status"], c["error_code"]) for c in emulator.calls_since(seq)] == [
        ("StartBackupJob", 400, "ResourceNotFoundException")]
