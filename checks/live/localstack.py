"""LocalStack for the live step: the embedded one (started and stopped here) or an existing endpoint.

The embedded LocalStack runs on the host from the environment ``environment`` builds, on a free
loopback port, in its own process group, with its log in a file, our plugins selected (DynamoDB via
moto, the local-process Lambda executor) and nothing of the user's environment that LocalStack or
botocore would read as configuration. Stopping it (on exit, Ctrl-C, SIGTERM or failure) ends its
process group and anything it started, then checks that no process and no listening port is left.

Every AWS client comes from ``aws_session``/``client``: fake credentials, the endpoint forced, and
a botocore session that reads no AWS profile, config or credentials file and no AWS_* variable.
"""

from __future__ import annotations

import atexit
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from checks.live import (
    Endpoint,
    EndpointRefused,
    LiveError,
    LocalStackDied,
    LocalStackStartError,
    Progress,
)
from checks.live.environment import (
    LOCALSTACK_VERSION,
    LocalStackEnvironment,
    environments_dir,
    prepare_environment,
)

DEFAULT_REGION = "us-east-1"
FAKE_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
ENDPOINT_ENV_VAR = "LOCALSTACK_ENDPOINT"
RUN_ENV_VAR = "STACKGRADE_LOCALSTACK_RUN"  # marks LocalStack and everything it starts, for the clean-up
# The services the live step uses; health waits for them (LocalStack loads each on first use).
SERVICES = ("cloudformation", "lambda", "sqs", "sns", "dynamodb", "dynamodbstreams", "apigateway", "stepfunctions",
            "events", "logs", "cloudwatch", "iam", "sts", "s3", "kinesis", "ssm", "kms", "secretsmanager")
# Variables of the user's shell that the LocalStack process may keep: the system's and its network settings
# (certificates, proxies: LocalStack installs kinesis-local from npm at first use). Everything else (AWS_*,
# LocalStack's own settings such as DEBUG or PERSISTENCE) is left out so a run is the same on every machine.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS",
             "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
             "https_proxy", "no_proxy")
START_TIMEOUT = 90.0
STOP_TIMEOUT = 5.0  # LocalStack's shutdown waits on each function's pollers; with many it takes longer
HTTP_TIMEOUT = 2.0
LOG_TAIL_LINES = 25
RUN_DIR_PREFIX = "stackgrade-localstack-"
OWNERS_FILE = "owners.json"  # the pids of the starter and of LocalStack, for remove_abandoned_run_dirs


# Endpoints and health


def http_json(url: str, timeout: float = HTTP_TIMEOUT) -> dict:
    """GET a JSON document, never through a proxy (the endpoints are local)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as response:
        return json.loads(response.read().decode())


def health(url: str, services: tuple[str, ...] = SERVICES, timeout: float = HTTP_TIMEOUT) -> dict:
    """LocalStack's health document; ``LiveError`` if it does not answer or lacks a needed service."""
    try:
        document = http_json(f"{url.rstrip('/')}/_localstack/health", timeout)
    except (OSError, ValueError) as exc:
        raise LiveError(f"No LocalStack answers at {url} ({exc}).") from exc
    states = document.get("services", {})
    broken = [f"{name} ({states.get(name, 'missing')})" for name in services
              if states.get(name) not in ("available", "running")]
    if broken:
        raise LiveError(f"LocalStack at {url} lacks services the live step needs: {', '.join(broken)}.")
    return document


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8 and ::1, or ``localhost`` when every address it resolves to is loopback."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    if host.lower() != "localhost":
        return False  # any other name could resolve elsewhere by the time a client connects
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def external_endpoint(url: str, allow_remote: bool = False, services: tuple[str, ...] = SERVICES,
                      region: str = DEFAULT_REGION) -> Endpoint:
    """An existing LocalStack at ``url``: loopback only unless ``allow_remote``, and healthy."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise LiveError(f"Endpoint {url!r} is not an http(s) URL with a host, e.g. http://127.0.0.1:4566.")
    if not allow_remote and not is_loopback_host(parsed.hostname):
        raise EndpointRefused(
            f"Refusing endpoint {url}: {parsed.hostname} is not a loopback address (127.0.0.0/8, ::1, localhost). "
            "The live step deploys to whatever answers there; pass --allow-remote-endpoint if it really is a "
            "LocalStack you mean to use."
        )
    base = f"{parsed.scheme}://{parsed.netloc}"
    try:
        document = health(base, services)
    except LiveError as exc:
        raise LiveError(f"{exc} Start it (e.g. `docker run -p 4566:4566 localstack/localstack:{LOCALSTACK_VERSION}`) "
                        "or leave out --endpoint to use the embedded one.") from exc
    return Endpoint(url=base, kind="external", region=region, version=document.get("version"))


def endpoint_from_env(allow_remote: bool = False) -> Endpoint | None:
    """The external endpoint named by ``$LOCALSTACK_ENDPOINT``, or None when it is not set."""
    url = os.environ.get(ENDPOINT_ENV_VAR, "").strip()
    return external_endpoint(url, allow_remote) if url else None


# AWS clients


def botocore_session():
    """A botocore session that reads no AWS_* variable and no profile, config or credentials file."""
    import botocore.session

    isolated = {name: (config_name, None, default, convert)
                for name, (config_name, _env, default, convert) in botocore.session.Session.SESSION_VARIABLES.items()}
    session = botocore.session.Session(session_vars=isolated)
    session.set_config_variable("config_file", os.devnull)
    session.set_config_variable("credentials_file", os.devnull)
    return session


def aws_session(endpoint: Endpoint, region: str | None = None):
    """A boto3 session bound to ``endpoint``: its clients and resources can only talk to it."""
    import boto3
    import botocore.config

    defaults = botocore.config.Config(
        proxies={}, retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=120,
        s3={"addressing_style": "path"},
    )

    class LocalStackSession(boto3.session.Session):
        def _bind(self, service_name: str, kwargs: dict) -> dict:
            given = kwargs.pop("endpoint_url", None)
            if given not in (None, endpoint.url):
                raise EndpointRefused(f"A client for {service_name} asked for {given}; this session only talks to "
                                      f"{endpoint.url}.")
            config = kwargs.pop("config", None)
            return {**kwargs, "endpoint_url": endpoint.url,
                    "config": defaults.merge(config) if config else defaults}

        def client(self, service_name, *args, **kwargs):
            return super().client(service_name, *args, **self._bind(service_name, kwargs))

        def resource(self, service_name, *args, **kwargs):
            return super().resource(service_name, *args, **self._bind(service_name, kwargs))

    return LocalStackSession(botocore_session=botocore_session(), region_name=region or endpoint.region,
                             **FAKE_CREDENTIALS)


def client(endpoint: Endpoint, service: str, region: str | None = None, **kwargs):
    """A boto3 client for ``service`` at ``endpoint`` (fake credentials, no user configuration)."""
    return aws_session(endpoint, region).client(service, **kwargs)


# Processes and ports


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on the port (connections in TIME_WAIT do not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def marked_processes(token: str) -> list[int]:
    """Processes whose environment carries this run's token: LocalStack and all it started (Linux /proc)."""
    marker = f"{RUN_ENV_VAR}={token}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def kill_all(pids: list[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def pid_alive(pid: int) -> bool:
    """Running: it exists and is not a zombie (orphans' exits may never be reaped in a container)."""
    if not Path("/proc/self").is_dir():  # pragma: no cover - no /proc (macOS): existence is all we can tell
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False  # gone


def remove_abandoned_run_dirs(root: Path | None = None) -> None:
    """Remove run folders whose starter and LocalStack are both gone (a starter killed outright cannot)."""
    for run_dir in Path(root or tempfile.gettempdir()).glob(f"{RUN_DIR_PREFIX}*"):
        try:
            owners = json.loads((run_dir / OWNERS_FILE).read_text())
        except (OSError, ValueError):
            continue  # being set up, or not ours to judge
        if not any(pid_alive(pid) for pid in owners.values()):
            shutil.rmtree(run_dir, ignore_errors=True)


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def ensure_nothing_left(token: str, port: int | None) -> None:
    """Raise ``LiveError`` if a process of the run is alive or its port still listens."""
    left = marked_processes(token)
    if left:
        raise LiveError(f"After stopping LocalStack, its processes {left} are still running; end them by hand "
                        f"(kill -9 {' '.join(map(str, left))}).")
    if port is not None and not port_is_free(port):
        raise LiveError(f"After stopping LocalStack, port {port} still listens; find the process with "
                        f"`lsof -i :{port}` and end it.")


class PortTaken(LocalStackStartError):
    """Another process took the chosen port before LocalStack bound it."""


class EmbeddedLocalStack:
    """Start LocalStack on the host for the duration of a ``with`` block (or ``start()``/``stop()``).

    ``with EmbeddedLocalStack() as endpoint:`` yields an ``Endpoint``; leaving the block in any way
    (including KeyboardInterrupt, and SIGTERM while it runs in the main thread) stops LocalStack and
    everything it started. ``check()`` raises ``LocalStackDied`` if it ended meanwhile.
    """

    def __init__(self, log_path: Path | None = None, progress: Progress | None = None,
                 python: Path | None = None, cache_dir: Path | None = None, services: tuple[str, ...] = SERVICES,
                 start_timeout: float = START_TIMEOUT, stop_timeout: float = STOP_TIMEOUT,
                 region: str = DEFAULT_REGION, extra_env: dict[str, str] | None = None) -> None:
        self.log_path = Path(log_path or Path("build") / "live" / "localstack.log").resolve()
        self.progress = progress or (lambda _message: None)
        self.python = python
        self.cache_dir = cache_dir
        self.services = services
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.region = region
        self.extra_env = dict(extra_env or {})
        self.token = secrets.token_hex(8)
        self.process: subprocess.Popen | None = None
        self.port: int | None = None
        self.endpoint: Endpoint | None = None
        self.environment: LocalStackEnvironment | None = None  # built or reused by start(), unless python given
        self._run_dir: Path | None = None
        self._log = None
        self._previous_sigterm = None
        self._sigterm_installed = False
        self._listening = False  # our LocalStack answered on self.port (so the port is ours to check)
        self._log_start = 0

    # Context manager

    def __enter__(self) -> Endpoint:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # Starting

    def start(self) -> Endpoint:
        """Start LocalStack and wait until it is healthy; on any failure nothing is left running."""
        if self.python is None:
            self.environment = prepare_environment(self.progress, self.cache_dir)
        python = self.python or self.environment.python
        started = time.perf_counter()  # the start proper, without building the environment
        self._watch_for_exit()
        try:
            for attempt in (1, 2):
                try:
                    self._launch(python, retry=attempt > 1)
                    self._wait_until_healthy(started)
                    break
                except PortTaken:
                    self._terminate(graceful=False)  # it never served anything; its shutdown would hang
                    self._listening = False
                    if attempt == 2:
                        raise
                    self.progress(f"Port {self.port} was taken before LocalStack bound it; trying another")
        except BaseException:
            self.stop()
            raise
        seconds = time.perf_counter() - started
        self.endpoint = Endpoint(url=f"http://127.0.0.1:{self.port}", kind="embedded", log_path=self.log_path,
                                 start_seconds=seconds, region=self.region)
        self.progress(f"LocalStack {LOCALSTACK_VERSION} ready at {self.endpoint.url} in {seconds:.1f} s "
                      f"(log: {self.log_path})")
        return self.endpoint

    def process_env(self) -> dict[str, str]:
        """LocalStack's environment: only what it needs, so the user's settings cannot change a run."""
        run_dir = self._run_dir
        shared = environments_dir(self.cache_dir)
        env = {key: os.environ[key] for key in INHERITED if key in os.environ}
        env.update({
            "GATEWAY_LISTEN": f"127.0.0.1:{self.port}",
            # Host mode even inside a container: LocalStack's folders under FILESYSTEM_ROOT, not /var/lib.
            "OVERRIDE_IN_DOCKER": "0",
            "FILESYSTEM_ROOT": str(run_dir / "filesystem"),
            "LOCALSTACK_VOLUME_DIR": str(run_dir / "volume"),
            # Lambda code and every temporary file of this run (TEMP: LocalStack warns about TMPDIR, an old setting).
            "TEMP": str(run_dir / "tmp"),
            "DNS_ADDRESS": "0",  # no DNS server (it would want port 53)
            "DISABLE_EVENTS": "1",  # no analytics calls home
            "SKIP_SSL_CERT_DOWNLOAD": "1",  # no certificate download at start (offline-safe, faster)
            "PROVIDER_OVERRIDE_DYNAMODB": "moto",
            "PROVIDER_OVERRIDE_DYNAMODBSTREAMS": "moto",
            "LAMBDA_RUNTIME_EXECUTOR": "stackgrade",
            # One LocalStack account holds every deployment of a run (the reference systems reserve up to 300
            # each, applied by our CloudFormation patch): lift the 1,000 account limit so they cannot exhaust
            # it together, where on AWS each system would have an account of its own.
            "LAMBDA_LIMITS_CONCURRENT_EXECUTIONS": "100000",
            # SQS queue-depth metrics reach CloudWatch (and so the alarms on them) every 5 s, not every 60 s
            # (LocalStack's default, in whole seconds): a DLQ alarm is driven by its first message in seconds.
            "SQS_CLOUDWATCH_METRICS_REPORT_INTERVAL": "5",
            "XDG_CACHE_HOME": str(shared / "xdg-cache"),  # plux's entry-point index, reused across runs
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            RUN_ENV_VAR: self.token,
        })
        env.update(self.extra_env)
        return env

    def _prepare_run_dir(self) -> Path:
        remove_abandoned_run_dirs()
        run_dir = Path(tempfile.mkdtemp(prefix=RUN_DIR_PREFIX))
        (run_dir / OWNERS_FILE).write_text(json.dumps({"starter": os.getpid()}))
        for sub in ("filesystem/var/lib/localstack", "volume", "tmp"):
            (run_dir / sub).mkdir(parents=True)
        # Packages LocalStack installs at first use (kinesis-local from npm) are kept across runs.
        packages = environments_dir(self.cache_dir) / "packages"
        packages.mkdir(parents=True, exist_ok=True)
        (run_dir / "filesystem/var/lib/localstack/lib").symlink_to(packages, target_is_directory=True)
        return run_dir

    def _launch(self, python: Path, retry: bool = False) -> None:
        self.port = free_port()
        self._run_dir = self._run_dir or self._prepare_run_dir()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # A run's log starts empty; a retry on another port appends, and reads only its own part.
        self._log = open(self.log_path, "ab" if retry else "wb")
        self._log_start = self._log.tell()
        self.progress(f"Starting LocalStack {LOCALSTACK_VERSION} on 127.0.0.1:{self.port}")
        # Its own session: Ctrl-C in a terminal reaches us, not LocalStack, and we stop it in order.
        # cwd is the run folder: a folder in the caller's cwd named like a plugin package would shadow it.
        try:
            self.process = subprocess.Popen(
                [str(python), "-m", "localstack.runtime.main"], cwd=self._run_dir, env=self.process_env(),
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        except OSError as exc:
            raise LocalStackStartError(f"Cannot run LocalStack's interpreter {python}: {exc}. Delete "
                                       f"{environments_dir(self.cache_dir)} to rebuild its environment.") from exc
        (self._run_dir / OWNERS_FILE).write_text(json.dumps({"starter": os.getpid(), "localstack": self.process.pid}))

    def _wait_until_healthy(self, started: float) -> None:
        url = f"http://127.0.0.1:{self.port}"
        deadline = started + self.start_timeout
        while True:
            # LocalStack logs a failed bind and keeps running without a gateway; it does not exit.
            if "address already in use" in self._launch_log().lower():
                raise PortTaken(f"Port {self.port} was taken before LocalStack could bind it.")
            if self.process.poll() is not None:
                raise LocalStackStartError(f"LocalStack exited during start-up (exit {self.process.returncode}); "
                                           f"log {self.log_path}:\n{tail(self.log_path)}")
            if self._answers(url):
                return
            if time.perf_counter() > deadline:
                raise LocalStackStartError(f"LocalStack was not ready within {self.start_timeout:.0f} s; "
                                           f"log {self.log_path}:\n{tail(self.log_path)}")
            time.sleep(0.1)

    def _launch_log(self) -> str:
        with open(self.log_path, "rb") as log:
            log.seek(self._log_start)
            return log.read().decode("utf-8", errors="replace")

    def _answers(self, url: str) -> bool:
        """Ready: our own LocalStack answers (its run token), has finished starting and has the services."""
        try:
            if http_json(f"{url}/_stackgrade/run").get("run") != self.token:
                raise PortTaken(f"Another process answers on port {self.port}.")
            self._listening = True
            ready = bool(http_json(f"{url}/_localstack/init/ready").get("completed"))
        except (OSError, ValueError):
            return False  # not listening yet
        return ready and bool(health(url, self.services))

    # Supervision

    def check(self) -> None:
        """Raise ``LocalStackDied`` (with the log's tail) when LocalStack is no longer running."""
        if self.process is not None and self.process.poll() is None:
            return
        code = self.process.returncode if self.process is not None else None
        raise LocalStackDied(
            f"The embedded LocalStack stopped during the run (exit {code}); nothing can be deployed or probed. "
            f"Log {self.log_path}:\n{tail(self.log_path)}"
        )

    def _watch_for_exit(self) -> None:
        """Stop on interpreter exit; while running, SIGTERM raises SystemExit so ``with`` blocks unwind (the
        previous handler is restored by ``stop``; only the main thread can set one)."""
        atexit.register(self.stop)
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)
            self._sigterm_installed = True

    @staticmethod
    def _on_sigterm(signum, _frame) -> None:
        raise SystemExit(128 + signum)

    # Stopping

    def _terminate(self, graceful: bool = True) -> None:
        """End LocalStack's process group gracefully (it stops its services), then force what remains."""
        process, self.process = self.process, None
        if process is not None:
            if graceful and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    # Nothing is lost: no state persists. (`kill -USR2 <pid>` shows where a LocalStack hangs.)
                    self._log.write(f"stackgrade: LocalStack did not stop within {self.stop_timeout:.0f} s; "
                                    "killing it\n".encode())
            try:
                os.killpg(process.pid, signal.SIGKILL)  # stragglers in its group (handler processes ...)
            except ProcessLookupError:
                pass
            process.wait()
        # Helpers that started their own process group (kinesis-local under node) carry the run's token.
        deadline = time.monotonic() + 5
        while (left := marked_processes(self.token)) and time.monotonic() < deadline:
            kill_all(left)
            time.sleep(0.05)
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        """Stop LocalStack and everything it started; raise ``LiveError`` if a process or the port is left."""
        atexit.unregister(self.stop)
        if self._sigterm_installed and threading.current_thread() is threading.main_thread():
            # None: the previous handler was not set from Python; the default is the closest.
            signal.signal(signal.SIGTERM, signal.SIG_DFL if self._previous_sigterm is None else self._previous_sigterm)
            self._sigterm_installed = False
        self._terminate()
        if self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None
        ensure_nothing_left(self.token, self.port if self._listening else None)
