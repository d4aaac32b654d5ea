"""Fixtures of the live tests: ONE LocalStack for the whole session, and small helpers to use it.

``localstack`` yields the ``Endpoint`` of an embedded LocalStack started once per session (its log in
build/live/localstack.log), or of the existing one named by ``$LOCALSTACK_ENDPOINT``. Tests that need it
are marked ``live``. ``aws(service)`` gives a client bound to it (fake credentials, no user profile).
"""

from __future__ import annotations

import functools
import io
import json
import os
import uuid
import zipfile
from pathlib import Path

import pytest

from checks.live.localstack import EmbeddedLocalStack, client, endpoint_from_env
from tests.live.flow_support import wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
LOG_PATH = PROJECT_ROOT / "build" / "live" / "localstack.log"
TRUST_LAMBDA = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


@pytest.fixture(scope="session")
def localstack_server():
    """The session's ``EmbeddedLocalStack`` (None when an external endpoint is used)."""
    external = endpoint_from_env()
    if external is not None:
        yield None, external
        return
    server = EmbeddedLocalStack(log_path=LOG_PATH, progress=lambda line: print(f"[localstack] {line}"))
    with server as endpoint:
        yield server, endpoint


@pytest.fixture(scope="session")
def localstack(localstack_server):
    """The ``Endpoint`` every live test talks to."""
    return localstack_server[1]


@pytest.fixture
def aws(localstack):
    """``aws(service)`` -> a boto3 client for the session's LocalStack."""
    return lambda service, **kwargs: client(localstack, service, **kwargs)


@pytest.fixture
def unique():
    """``unique(prefix)`` -> a name no other test (or earlier run against the same LocalStack) uses."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"


def zip_files(files: dict[str, str | Path]) -> bytes:
    """A deployment package: archive name -> source text or file path."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            if isinstance(content, Path):
                archive.write(content, name)
            else:
                archive.writestr(name, content)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def lambda_role(localstack):
    """An execution role for test functions (LocalStack does not enforce IAM)."""
    iam = client(localstack, "iam")
    name = f"stackgrade-test-{uuid.uuid4().hex[:8]}"
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_LAMBDA)["Role"]["Arn"]


@pytest.fixture
def make_function(aws, lambda_role, unique):
    """``make_function(handler, files=None, **config)`` -> the name of an active Python function.

    ``files`` defaults to the test handlers in fixtures/handlers/ (handler ``echo.<function>``).
    """
    lam = aws("lambda")

    def make(handler: str, files: dict[str, str | Path] | None = None, **config) -> str:
        name = unique(handler.replace(".", "-").replace("_", "-").replace("/", "-"))
        code = zip_files(files or {"echo.py": FIXTURES / "handlers" / "echo.py"})
        settings = {"Runtime": "python3.14", "Timeout": 10, "MemorySize": 256, **config}
        lam.create_function(FunctionName=name, Role=lambda_role, Handler=handler, Code={"ZipFile": code}, **settings)
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
        return name

    return make


@pytest.fixture
def wait_for():
    """``wait_for(check, timeout=30, what=...)`` polls ``check()`` until truthy (returned), else fails the test."""
    return functools.partial(wait_until, interval=0.2)


def localstack_of(log: Path) -> tuple[int, str, int]:
    """(pid, run token, port) of the LocalStack whose output goes to ``log`` (Linux /proc): the one a run started,
    not the session's, which is a child of this process too."""
    from checks.live.localstack import RUN_ENV_VAR

    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if b"localstack.runtime.main" not in (entry / "cmdline").read_bytes():
                continue
            if Path(os.readlink(entry / "fd" / "1")) != log.resolve():
                continue
            env = dict(item.split(b"=", 1) for item in (entry / "environ").read_bytes().split(b"\0") if b"=" in item)
        except (OSError, ValueError):
            continue
        return int(entry.name), env[RUN_ENV_VAR.encode()].decode(), int(env[b"GATEWAY_LISTEN"].rsplit(b":", 1)[1])
    raise AssertionError(f"no LocalStack writes to {log}")
