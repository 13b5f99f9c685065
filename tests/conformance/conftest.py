"""Conformance tier: drive efs-dr-emulator with clients this project did not
write (boto3 and the AWS CLI v1), so the emulator is checked against what
real AWS clients send and expect, not against our own reading of the API.

One emulator serves the whole session (manual clock). Tests isolate their
state with unique creation tokens and names instead of restarting it, and
must not assume a Region is empty.
"""

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import botocore.session
import pytest

REPO = Path(__file__).resolve().parents[2]
# The CLI of the environment running pytest, so boto3 and the CLI share the
# pinned botocore; fall back to the project venv.
AWS_CLI = next(
    (p for p in (Path(sys.executable).parent / "aws", REPO / ".venv" / "bin" / "aws") if p.exists()),
    None,
)
DEFAULT_REGION = "us-east-1"
STARTUP_TIMEOUT_S = 20


class CliError(Exception):
    """The AWS CLI exited non-zero; carries its exit code and stderr."""

    def __init__(self, args, returncode, stderr):
        super().__init__(f"aws {' '.join(args)} exited {returncode}:\n{stderr}")
        self.returncode = returncode
        self.stderr = stderr


class Emulator:
    """A running emulator process and its control API under /_emulator/."""

    def __init__(self, url, proc, stderr_path):
        self.url = url
        self.proc = proc
        self.stderr_path = stderr_path

    def control(self, method, path, body=None):
        """Calls the control API and returns its JSON; raises on HTTP errors
        with the emulator's message, so a bad test setup is obvious."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as e:
            raise AssertionError(
                f"control API {method} {path} -> {e.code}: {e.read().decode(errors='replace')}"
            ) from None

    def advance(self, seconds):
        return self.control("POST", "/_emulator/clock", {"advance_seconds": seconds})

    def now(self):
        return self.control("GET", "/_emulator/clock")["now"]

    def state(self):
        return self.control("GET", "/_emulator/state")

    def last_call_seq(self):
        calls = self.control("GET", "/_emulator/calls")["calls"]
        return calls[-1]["seq"] if calls else 0

    def calls_since(self, seq, **filters):
        """Calls logged after `seq`; filters: region, service, mutating=True."""
        query = [f"since={seq}"]
        for k, v in filters.items():
            query.append(f"{k}={'true' if v is True else v}")
        return self.control("GET", "/_emulator/calls?" + "&".join(query))["calls"]

    def stderr_text(self):
        try:
            return Path(self.stderr_path).read_text(errors="replace")
        except OSError:
            return ""


def _client_env(url):
    """The environment every client gets: the emulator as endpoint, dummy
    credentials, and no access to the user's ~/.aws or other AWS_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="AKIDCONFORMANCE",
        AWS_SECRET_ACCESS_KEY="conformance-secret",
        AWS_DEFAULT_REGION=DEFAULT_REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        # No pager or colour in CLI output we parse.
        AWS_PAGER="",
    )
    return env


def _start_emulator(binary, stderr_path):
    stderr = open(stderr_path, "wb")
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--manual-clock"],
        stdout=subprocess.PIPE,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
    )
    stderr.close()
    ready, _, _ = select.select([proc.stdout], [], [], STARTUP_TIMEOUT_S)
    line = proc.stdout.readline().decode(errors="replace").strip() if ready else ""
    prefix = "efs-dr-emulator listening on "
    if not line.startswith(prefix):
        proc.kill()
        proc.wait()
        err = Path(stderr_path).read_text(errors="replace")
        pytest.exit(
            f"{binary} did not announce its URL within {STARTUP_TIMEOUT_S}s "
            f"(first stdout line: {line!r}; stderr: {err!r})",
            returncode=3,
        )
    return line[len(prefix):], proc


def _stop(proc):
    if proc.poll() is None:
        # SIGINT is what the emulator waits for (ctrl-c) to shut down cleanly.
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def emulator():
    binary = os.environ.get("EFS_DR_EMULATOR_BIN")
    if not binary:
        pytest.exit(
            "EFS_DR_EMULATOR_BIN is not set: point it at a built efs-dr-emulator binary, e.g. "
            "EFS_DR_EMULATOR_BIN=target/debug/efs-dr-emulator (scripts/conformance.sh passes it on).",
            returncode=4,
        )
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        pytest.exit(f"EFS_DR_EMULATOR_BIN={binary} is not an executable file.", returncode=4)
    with tempfile.TemporaryDirectory(prefix="efs-dr-conformance-") as tmp:
        url, proc = _start_emulator(binary, os.path.join(tmp, "emulator.stderr"))
        emu = Emulator(url, proc, os.path.join(tmp, "emulator.stderr"))
        # boto3 reads its settings from os.environ when a session is made:
        # give it the same isolated environment as the CLI gets.
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(_client_env(url))
        try:
            yield emu
        finally:
            os.environ.clear()
            os.environ.update(saved)
            _stop(proc)


@pytest.fixture
def control(emulator):
    """control(method, path, body=None) -> parsed JSON of the control API."""
    return emulator.control


@pytest.fixture
def client(emulator):
    """client(service, region=...) -> a boto3 client on a fresh session, so
    no state (config, credentials, region) leaks between tests."""

    def make(service, region=DEFAULT_REGION, **kwargs):
        return boto3.session.Session(region_name=region).client(service, **kwargs)

    return make


@pytest.fixture
def aws(emulator):
    """aws(*args, region=..., env={...}) runs the AWS CLI against the emulator.

    Returns parsed JSON (None for an empty answer) with the default
    `--output json`; with an explicit `--output table|text` returns stdout.
    Raises CliError, with stderr, when the CLI exits non-zero.
    """
    if AWS_CLI is None:
        pytest.fail("the AWS CLI is not installed next to this Python (pip install awscli)")

    def run(*args, region=DEFAULT_REGION, env=None):
        args = [str(a) for a in args]
        explicit_output = "--output" in args
        if not explicit_output:
            args += ["--output", "json"]
        env = {**_client_env(emulator.url), "AWS_DEFAULT_REGION": region, **(env or {})}
        proc = subprocess.run(
            [str(AWS_CLI), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            raise CliError(args, proc.returncode, proc.stderr)
        if explicit_output:
            return proc.stdout
        return json.loads(proc.stdout) if proc.stdout.strip() else None

    return run


@pytest.fixture
def unique():
    """unique(prefix) -> a name no other test uses (creation tokens, topics, alarms)."""
    return lambda prefix="conf": f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def subnets(emulator):
    """subnets(region) -> the seeded subnets of a Region, from /_emulator/state."""
    return lambda region=DEFAULT_REGION: emulator.state()["regions"][region]["subnets"]


@pytest.fixture
def security_groups(emulator):
    return lambda region=DEFAULT_REGION: emulator.state()["regions"][region]["security_groups"]


@pytest.fixture
def new_file_system(client, emulator, unique):
    """new_file_system(region=..., **kwargs) -> id of an *available* file system
    created through boto3 (creation takes 10 emulated seconds)."""

    def make(region=DEFAULT_REGION, **kwargs):
        efs = client("efs", region)
        fs = efs.create_file_system(CreationToken=unique("fs"), **kwargs)
        emulator.advance(20)
        return fs["FileSystemId"]

    return make


@pytest.fixture(scope="session")
def cbor_cloudwatch_models(tmp_path_factory):
    """A botocore data directory whose CloudWatch model offers only
    smithy-rpc-v2-cbor. botocore otherwise prefers "json" (awsJson1_0) from
    the model's ["smithy-rpc-v2-cbor", "json", "query"]; with this directory
    first on the data path (AWS_DATA_PATH, or the `data_path` session
    variable) boto3 and the CLI speak CBOR, as the Rust SDK does."""
    loader = botocore.session.get_session().get_component("data_loader")
    model = loader.load_service_model("cloudwatch", "service-2")
    model["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
    root = tmp_path_factory.mktemp("botocore-data")
    model_dir = root / "cloudwatch" / model["metadata"]["apiVersion"]
    model_dir.mkdir(parents=True)
    (model_dir / "service-2.json").write_text(json.dumps(model))
    return str(root)
