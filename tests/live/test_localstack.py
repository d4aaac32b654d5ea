"""Starting, supervising and stopping LocalStack; external endpoints; clients that never use the user's AWS setup.

Tests marked ``live`` start real LocalStack processes (besides the session's one) to prove that nothing is
left behind after a stop, a port taken, Ctrl-C, SIGTERM, or LocalStack or its starter being killed. The
unmarked ones need no LocalStack.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import botocore.config
import botocore.exceptions
import pytest

import checks.live.localstack as localstack_module
from checks.live import Endpoint, EndpointRefused, LiveError, LocalStackDied, LocalStackStartError
from checks.live.localstack import (
    EmbeddedLocalStack,
    aws_session,
    ensure_nothing_left,
    client,
    endpoint_from_env,
    external_endpoint,
    free_port,
    health,
    is_loopback_host,
    kill_all,
    marked_processes,
    pid_alive,
    port_is_free,
    remove_abandoned_run_dirs,
    tail,
)
from tests.live.conftest import FIXTURES, PROJECT_ROOT, zip_files

FAKE = Endpoint(url="http://127.0.0.1:4566", kind="external")


def wait_until(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def nothing_left(token: str, port: int) -> bool:
    return not marked_processes(token) and port_is_free(port)


# No LocalStack needed


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("LOCALHOST", True), ("10.0.0.1", False), ("0.0.0.0", False), ("192.0.2.1", False), ("example.com", False),
    ("localhost.localstack.cloud", False),  # resolves to 127.0.0.1 today, but a name could change by connect time
])
def test_only_loopback_hosts_count_as_loopback(host, loopback):
    assert is_loopback_host(host) is loopback


def test_localhost_resolving_elsewhere_is_not_loopback(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *_a, **_k: [(None, None, None, "", ("10.1.2.3", 0))])
    assert not is_loopback_host("localhost")
    monkeypatch.setattr(socket, "getaddrinfo", lambda *_a, **_k: (_ for _ in ()).throw(OSError("no resolver")))
    assert not is_loopback_host("localhost")


@pytest.mark.parametrize("url", ["http://10.0.0.5:4566", "https://my-localstack.example.com",
                                 "http://169.254.169.254/latest"])
def test_a_non_loopback_endpoint_is_refused_with_a_way_out(url):
    with pytest.raises(EndpointRefused, match="--allow-remote-endpoint"):
        external_endpoint(url)


@pytest.mark.parametrize("url", ["127.0.0.1:4566", "ftp://127.0.0.1", "http://"])
def test_an_endpoint_that_is_not_an_http_url_is_an_error(url):
    with pytest.raises(LiveError, match="not an http"):
        external_endpoint(url)


def test_an_allowed_remote_endpoint_still_has_to_answer():
    with pytest.raises(LiveError, match="No LocalStack answers at http://192.0.2.1:4566.*docker run"):
        external_endpoint("http://192.0.2.1:4566/", allow_remote=True)


def test_a_loopback_endpoint_where_nothing_listens_is_an_error():
    with pytest.raises(LiveError, match="No LocalStack answers"):
        external_endpoint(f"http://127.0.0.1:{free_port()}")


def test_the_endpoint_variable(monkeypatch):
    monkeypatch.delenv("LOCALSTACK_ENDPOINT", raising=False)
    assert endpoint_from_env() is None
    monkeypatch.setenv("LOCALSTACK_ENDPOINT", "http://10.9.9.9:4566")
    with pytest.raises(EndpointRefused):
        endpoint_from_env()


def test_clients_never_read_the_users_aws_profile_files_or_variables(tmp_path, monkeypatch):
    sentinel = tmp_path / "credential-process-ran"
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    bogus = (f"[default]\nregion = eu-west-1\nendpoint_url = https://real.example.com\n"
             f"credential_process = sh -c 'touch {sentinel}'\n"
             f"[profile prod]\nregion = ap-south-1\nrole_arn = arn:aws:iam::111111111111:role/prod\n"
             f"source_profile = default\n")
    (home / ".aws" / "config").write_text(bogus)
    (home / ".aws" / "credentials").write_text("[default]\naws_access_key_id = AKIAREALKEY\n"
                                               "aws_secret_access_key = real-secret\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_PROFILE", "prod")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://elsewhere.example.com")

    session = aws_session(FAKE)
    sqs = session.client("sqs")
    credentials = session.get_credentials().get_frozen_credentials()
    assert (credentials.access_key, credentials.secret_key, credentials.token) == ("test", "test", None)
    assert sqs.meta.region_name == "us-east-1" and sqs.meta.endpoint_url == FAKE.url
    assert session.profile_name == "default" and session.available_profiles == []
    assert client(FAKE, "dynamodb", region="eu-west-2").meta.region_name == "eu-west-2"
    assert session.resource("dynamodb").meta.client.meta.endpoint_url == FAKE.url
    assert not sentinel.exists()  # no credential process ran


def test_a_session_refuses_clients_for_other_endpoints():
    session = aws_session(FAKE)
    with pytest.raises(EndpointRefused, match="only talks to http://127.0.0.1:4566"):
        session.client("sqs", endpoint_url="https://sqs.us-east-1.amazonaws.com")
    with pytest.raises(EndpointRefused):
        session.resource("s3", endpoint_url="https://s3.amazonaws.com")
    assert session.client("sqs", endpoint_url=FAKE.url).meta.endpoint_url == FAKE.url


def test_client_options_merge_with_the_defaults():
    sqs = client(FAKE, "sqs", config=botocore.config.Config(read_timeout=7))
    assert sqs.meta.config.read_timeout == 7 and sqs.meta.config.proxies == {}


def test_ports_and_marked_processes(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        assert not port_is_free(held.getsockname()[1])
    assert port_is_free(free_port())

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                               env={**os.environ, localstack_module.RUN_ENV_VAR: "token-under-test"})
    try:
        assert wait_until(lambda: marked_processes("token-under-test") == [sleeper.pid], 5)
        kill_all([sleeper.pid])
        sleeper.wait(5)
        kill_all([sleeper.pid])  # already gone: no error
    finally:
        sleeper.kill()
    assert marked_processes("token-under-test") == []
    assert tail(tmp_path / "absent.log") == "(no log)"


def test_leftovers_after_a_stop_are_an_error(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                               env={**os.environ, localstack_module.RUN_ENV_VAR: "leftover"})
    try:
        assert wait_until(lambda: marked_processes("leftover"), 5)
        with pytest.raises(LiveError, match=f"processes \\[{sleeper.pid}\\] are still running.*kill -9 {sleeper.pid}"):
            ensure_nothing_left("leftover", None)
    finally:
        sleeper.kill()
        sleeper.wait()
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(LiveError, match=f"port {port} still listens"):
            ensure_nothing_left("leftover", port)
    ensure_nothing_left("leftover", port)


def test_only_abandoned_run_folders_are_removed(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    folders = {name: tmp_path / f"{localstack_module.RUN_DIR_PREFIX}{name}" for name in ("gone", "alive", "new")}
    for folder in folders.values():
        folder.mkdir()
    (folders["gone"] / "owners.json").write_text(json.dumps({"starter": dead.pid}))
    (folders["alive"] / "owners.json").write_text(json.dumps({"starter": dead.pid, "localstack": os.getpid()}))
    remove_abandoned_run_dirs(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(folders[n].name for n in ("alive", "new"))
    assert pid_alive(1)  # init: alive (possibly another user's)


def test_an_interpreter_that_cannot_run_is_a_start_error(tmp_path):
    server = EmbeddedLocalStack(log_path=tmp_path / "ls.log", python=tmp_path / "no-python")
    with pytest.raises(LocalStackStartError, match="Cannot run LocalStack's interpreter"):
        server.start()
    assert server.process is None


def test_an_environment_without_localstack_fails_with_the_log(tmp_path):
    # stackgrade's own interpreter has no localstack package: the process exits at once.
    server = EmbeddedLocalStack(log_path=tmp_path / "ls.log", python=Path(sys.executable))
    with pytest.raises(LocalStackStartError, match="(?s)exited during start-up.*No module named 'localstack'"):
        server.start()
    with pytest.raises(LocalStackDied, match="exit None"):
        server.check()  # stopped: no process any more


def test_a_localstack_that_never_gets_ready_times_out_and_is_stopped(tmp_path):
    never_ready = tmp_path / "python"
    # A helper in a process group of its own (as LocalStack starts kinesis-local) is found by the run's token.
    never_ready.write_text("#!/bin/sh\nsetsid sleep 60 &\nexec sleep 60\n")
    never_ready.chmod(0o755)
    server = EmbeddedLocalStack(log_path=tmp_path / "ls.log", python=never_ready, start_timeout=1)
    with pytest.raises(LocalStackStartError, match="not ready within 1 s"):
        server.start()
    assert marked_processes(server.token) == []


def test_a_localstack_that_ignores_sigterm_is_killed(tmp_path):
    stubborn = tmp_path / "python"
    stubborn.write_text("#!/bin/sh\ntrap '' TERM\nexec sleep 60\n")
    stubborn.chmod(0o755)
    server = EmbeddedLocalStack(log_path=tmp_path / "ls.log", python=stubborn, start_timeout=0.5, stop_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(LocalStackStartError, match="not ready"):
        server.start()
    assert time.monotonic() - started < 5 and marked_processes(server.token) == []


# With LocalStack


@pytest.mark.live
def test_start_and_stop_leave_nothing_behind(tmp_path):
    server = EmbeddedLocalStack(log_path=tmp_path / "localstack.log")
    with server as endpoint:
        pid, run_dir = server.process.pid, server._run_dir
        assert endpoint.kind == "embedded" and endpoint.url == f"http://127.0.0.1:{server.port}"
        assert health(endpoint.url)["services"]["dynamodb"] in ("available", "running")
        server.check()
        print(f"\nEmbedded LocalStack ready in {endpoint.start_seconds:.2f} s")
        assert endpoint.start_seconds < 30  # goal < 5 s (about 3 s measured); generous for a busy machine
    assert nothing_left(server.token, server.port) and not run_dir.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert "Ready." in (tmp_path / "localstack.log").read_text()
    server.stop()  # twice is harmless


@pytest.mark.live
def test_a_port_taken_before_localstack_binds_it_is_retried_once(tmp_path, monkeypatch):
    held = [socket.socket(), socket.socket()]
    for sock in held:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
    taken = iter(sock.getsockname()[1] for sock in held)
    try:
        monkeypatch.setattr(localstack_module, "free_port", lambda host="127.0.0.1": next(taken))
        server = EmbeddedLocalStack(log_path=tmp_path / "twice.log")
        with pytest.raises(LocalStackStartError, match="was taken before LocalStack could bind it"):
            server.start()  # both attempts find their port taken
        assert marked_processes(server.token) == []

        taken = iter([held[0].getsockname()[1], free_port()])
        server = EmbeddedLocalStack(log_path=tmp_path / "once.log")
        with server as endpoint:  # the second port is free
            assert endpoint.url.endswith(f":{server.port}") and server.port != held[0].getsockname()[1]
            health(endpoint.url)
        assert nothing_left(server.token, server.port)
    finally:
        for sock in held:
            sock.close()


@pytest.mark.live
def test_another_localstack_answering_on_the_port_is_not_taken_for_ours(localstack, tmp_path, monkeypatch):
    session_port = int(localstack.url.rsplit(":", 1)[1])
    monkeypatch.setattr(localstack_module, "free_port", lambda host="127.0.0.1": session_port)
    server = EmbeddedLocalStack(log_path=tmp_path / "ls.log")
    with pytest.raises(LocalStackStartError, match="taken|Another process answers"):
        server.start()
    assert marked_processes(server.token) == []
    health(localstack.url)  # the session's LocalStack is untouched


@pytest.mark.live
def test_localstack_killed_mid_run_is_a_clear_error_and_leaves_nothing(tmp_path, wait_for):
    server = EmbeddedLocalStack(log_path=tmp_path / "killed.log")
    endpoint = server.start()
    try:
        lam = client(endpoint, "lambda")
        role = client(endpoint, "iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam.create_function(FunctionName="echo", Runtime="python3.14", Role=role, Handler="echo.echo",
                            Code={"ZipFile": zip_files({"echo.py": FIXTURES / "handlers" / "echo.py"})})
        lam.get_waiter("function_active_v2").wait(FunctionName="echo")
        handler_pid = json.loads(lam.invoke(FunctionName="echo")["Payload"].read())["pid"]

        os.kill(server.process.pid, signal.SIGKILL)
        # The handler process notices that LocalStack is gone and ends by itself.
        wait_for(lambda: not marked_processes(server.token), timeout=10, what="the handler process to exit")
        assert not pid_alive(handler_pid)
        with pytest.raises(LocalStackDied, match=r"stopped during the run \(exit -9\)"):
            server.check()
        with pytest.raises(botocore.exceptions.EndpointConnectionError):
            no_retries = botocore.config.Config(retries={"max_attempts": 1})
            client(endpoint, "sqs", config=no_retries).list_queues()
    finally:
        server.stop()
    assert nothing_left(server.token, server.port)


@pytest.mark.live
def test_ctrl_c_stops_localstack(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    server = EmbeddedLocalStack(log_path=tmp_path / "interrupted.log")
    with pytest.raises(KeyboardInterrupt):
        with server:
            raise KeyboardInterrupt
    assert nothing_left(server.token, server.port)
    assert signal.getsignal(signal.SIGTERM) is before  # a SIGTERM handler of ours is removed again


@pytest.mark.live
def test_sigterm_inside_the_block_unwinds_and_stops_localstack(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    server = EmbeddedLocalStack(log_path=tmp_path / "terminated.log")
    with pytest.raises(SystemExit) as exited:
        with server:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this ends
    assert exited.value.code == 128 + signal.SIGTERM
    assert nothing_left(server.token, server.port) and signal.getsignal(signal.SIGTERM) is before


def start_embedded_process(log: Path) -> tuple[subprocess.Popen, dict]:
    starter = subprocess.Popen([sys.executable, str(FIXTURES / "run_embedded.py"), str(log)], cwd=PROJECT_ROOT,
                               stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    line = starter.stdout.readline()
    assert line, f"the starter exited: {tail(log)}"
    return starter, json.loads(line)


@pytest.mark.live
def test_sigterm_to_the_starter_stops_localstack(tmp_path):
    starter, started = start_embedded_process(tmp_path / "sigterm.log")
    health(started["url"])
    starter.send_signal(signal.SIGTERM)
    assert starter.wait(30) == 128 + signal.SIGTERM
    assert nothing_left(started["token"], int(started["url"].rsplit(":", 1)[1]))


@pytest.mark.live
def test_a_starter_killed_outright_takes_localstack_down(tmp_path):
    starter, started = start_embedded_process(tmp_path / "orphaned.log")
    starter.kill()  # no chance to stop LocalStack: the plugin notices and shuts LocalStack down
    starter.wait()
    port = int(started["url"].rsplit(":", 1)[1])
    try:
        assert wait_until(lambda: nothing_left(started["token"], port), 30)
    finally:
        kill_all(marked_processes(started["token"]))
    assert wait_until(lambda: not pid_alive(started["pid"]), 10)
    remove_abandoned_run_dirs()  # what the next start does: its run folder is removed
    assert not Path(started["run_dir"]).exists()


@pytest.mark.live
def test_an_external_endpoint_is_health_checked(localstack):
    port = localstack.url.rsplit(":", 1)[1]
    for url in (localstack.url, f"http://localhost:{port}/"):
        endpoint = external_endpoint(url)
        assert endpoint.kind == "external" and endpoint.url.endswith(f":{port}")
    with pytest.raises(LiveError, match="lacks services the live step needs: no-such-service \\(missing\\)"):
        external_endpoint(localstack.url, services=("no-such-service",))
    identity = client(endpoint, "sts").get_caller_identity()
    assert identity["Account"] == "000000000000"  # LocalStack's account for the fake credentials
