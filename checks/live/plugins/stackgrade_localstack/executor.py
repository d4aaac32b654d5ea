"""A LocalStack Lambda runtime executor that runs Python handlers as local processes (no Docker).

Chosen with ``LAMBDA_RUNTIME_EXECUTOR=stackgrade`` (plux group ``localstack.lambda.runtime_executor``).
Each execution environment is one process of this interpreter running ``stackgrade_localstack.bootstrap``
in the function's unzipped code folder with the function's environment (what LocalStack computes for a
function: its variables, region, name, memory, timeout, handler, credentials and ``AWS_ENDPOINT_URL``
pointing back at this LocalStack), never LocalStack's own settings. Invocations and results travel as
JSON lines over a pipe pair, so there is no port to choose and no callback to route.

The handler runs on this interpreter (Python 3.13), whatever newer Python runtime the function declares.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

from localstack import config
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException, RuntimeExecutor

LOG = logging.getLogger(__name__)

# Variables of the process itself that a handler's process also needs (not configuration of LocalStack).
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT", "STACKGRADE_LOCALSTACK_RUN")
STOP_GRACE_SECONDS = 2.0


def gateway_host() -> str:
    """Where handler processes reach this LocalStack: the gateway's address, loopback if it listens on all."""
    host = config.GATEWAY_LISTEN[0].host
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def init_error(error_type: str, message: str) -> dict:
    """An init-phase failure the executor detects itself, shaped as the bootstrap reports its own."""
    return {"type": "init-error", "error": {"errorType": error_type, "errorMessage": message}}


def init_timeout() -> float:
    """How long a handler's import may take: AWS's 10 s, within LocalStack's own start-up limit."""
    return float(min(10, max(1, config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT - 2)))


def layer_paths(function_version: FunctionVersion) -> list[str]:
    """The layers' Python folders, in order, as AWS puts them under /opt/python."""
    paths = []
    for layer in function_version.config.layers:
        root = layer.code.get_unzipped_code_location() / "python"
        paths += [str(p) for p in sorted(root.glob("lib/python3*/site-packages")) if p.is_dir()]
        paths.append(str(root))
    return paths


class HandlerProcess:
    """One running bootstrap process: its pipes, the reader of its messages and its stray output."""

    def __init__(self, executor_id: str, code_dir: str, env: dict[str, str], layers: list[str]) -> None:
        self.messages: queue.Queue[dict | None] = queue.Queue()
        self.stopped = False
        self.output = tempfile.NamedTemporaryFile(prefix=f"lambda-{executor_id}-", suffix=".log", delete=False)
        read_fd, write_fd = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "stackgrade_localstack.bootstrap", str(write_fd), *layers],
                cwd=code_dir, env=env, stdin=subprocess.PIPE, stdout=self.output, stderr=subprocess.STDOUT,
                pass_fds=(write_fd,), text=True, encoding="utf-8",
            )
        finally:
            os.close(write_fd)  # the child holds the only write end: its exit means EOF here
        self.results = os.fdopen(read_fd, "r", encoding="utf-8")
        threading.Thread(target=self._read, name=f"lambda-reader-{executor_id}", daemon=True).start()

    def _read(self) -> None:
        with self.results:
            for line in self.results:
                self.messages.put(json.loads(line))
        self.messages.put(None)  # the process is gone

    def next_message(self, timeout: float | None) -> dict | None:
        """The next message, None when the process ended; ``queue.Empty`` after ``timeout`` seconds."""
        return self.messages.get(timeout=timeout)

    def send(self, request: dict) -> None:
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError:
            pass  # the process is gone; its reader reports that as the next message

    def stray_output(self) -> str:
        """What the process wrote outside the handler's streams (interpreter crashes, C-level output)."""
        try:
            with open(self.output.name, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return ""  # stopped meanwhile (its file is removed)

    def stop(self, kill: bool = False) -> None:
        """End the process: closing stdin ends it between invocations; ``kill`` (or a process that does not
        end within a grace period) kills it. Idempotent."""
        if self.stopped:
            return
        self.stopped = True
        if kill:
            self.process.kill()
        try:
            self.process.stdin.close()
        except OSError:
            pass  # already gone
        try:
            self.process.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.output.close()
        os.unlink(self.output.name)


class LocalProcessExecutor(RuntimeExecutor):
    """Runs a Python function's handler in a local process that lives as long as the environment."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self._lock = threading.Lock()
        self._env: dict[str, str] = {}
        self._process: HandlerProcess | None = None
        self._pending_logs = ""  # the init phase's output, shown with the first invocation
        self._init_error: dict | None = None

    # The environment's life cycle

    def start(self, env_vars: dict[str, str]) -> None:
        self._env = {key: os.environ[key] for key in PASSED_THROUGH if key in os.environ}
        # A handler's boto3 must never read the user's AWS files (HOME is the user's when unset).
        self._env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        self._env["TMPDIR"] = tempfile.gettempdir()  # LocalStack's, which the embedded one keeps per run
        self._env.update({key: str(value) for key, value in env_vars.items() if value is not None})
        self._env["LAMBDA_TASK_ROOT"] = self._code_dir()
        self._env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{self.function_version.config.runtime}"
        with self._lock:
            self._spawn()

    def _code_dir(self) -> str:
        return str(self.function_version.config.code.get_unzipped_code_location())

    def _spawn(self) -> None:
        """Start a fresh process and wait for its init phase: the handler imported, or an init error
        (which the next invocation returns as a function error, as AWS does)."""
        started = time.perf_counter()
        layers = layer_paths(self.function_version)
        process = self._process = HandlerProcess(self.id, self._code_dir(), self._env, layers)
        logs = [f"INIT_START Runtime Version: python:{sys.version.split()[0]} (local process; declared runtime "
                f"{self.function_version.config.runtime})\n"]
        self._init_error = None
        while True:
            try:
                message = process.next_message(init_timeout())
            except queue.Empty:
                message = init_error("Sandbox.Timedout", f"Init timed out after {init_timeout():.2f} seconds")
            if message is None:
                logs.append(process.stray_output()[-4000:])
                message = init_error("Runtime.ExitError",
                                     f"Runtime exited during init: exit status {process.process.wait()}")
            if message["type"] == "log":
                logs.append(message["data"])
                continue
            if message["type"] == "init-error":
                self._init_error = message["error"]
                self._stop_process(kill=True)
            break
        error = self._init_error
        status = "" if error is None else f"\tStatus: error\tError Type: {error['errorType']}"
        logs.append(f"INIT_REPORT Init Duration: {(time.perf_counter() - started) * 1000:.2f} ms{status}\n")
        self._pending_logs = "".join(logs)

    def _stop_process(self, kill: bool = False) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.stop(kill)

    def stop(self) -> None:
        # No lock: LocalStack stops environments from other threads (startup timer, deletion) mid-call.
        self._stop_process()

    # Invocations

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        with self._lock:
            if self._process is not None and self._process.process.poll() is not None:
                self._stop_process()  # it died while idle
            if self._process is None and self._init_error is None:
                self._spawn()  # the previous process timed out or died: start fresh, like AWS
            version = self.function_version.id.qualifier
            logs = [self._pending_logs, f"START RequestId: {request_id} Version: {version}\n"]
            self._pending_logs = ""
            if self._init_error is not None:
                result = self._failed(request_id, logs, self._init_error)
                self._init_error = None
                return result
            return self._run(self._process, payload, request_id, logs)

    def _run(self, process: HandlerProcess, payload: dict[str, str], request_id: str,
             logs: list[str]) -> InvocationResult:
        timeout = float(self.function_version.config.timeout)
        deadline = time.monotonic() + timeout
        process.send(payload)
        while True:
            try:
                message = process.next_message(max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
                logs.append(f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds\n")
                return self._failed(request_id, logs, {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"})
            if message is None:
                output = process.stray_output()
                code = process.process.wait()
                return self._failed(request_id, logs + [output[-4000:]], {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}"})
            if message["type"] == "log":
                logs.append(message["data"])
                continue
            logs.append(f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\t{message['report']}\n")
            return InvocationResult(request_id, message["payload"].encode(), message["is_error"], "".join(logs))

    def _failed(self, request_id: str, logs: list[str], error: dict) -> InvocationResult:
        """An error that ends the process (timeout, crash, failed init): the next invocation starts afresh."""
        self._stop_process(kill=True)
        logs.append(f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\tStatus: error\t"
                    f"Error Type: {error['errorType']}\n")
        return InvocationResult(request_id, json.dumps(error).encode(), True, "".join(logs))

    # What LocalStack asks of every executor

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return gateway_host()

    def get_runtime_endpoint(self) -> str:
        # Not called back by this executor (results come over the pipe); LocalStack only puts it in the env.
        return f"http://{gateway_host()}:{config.GATEWAY_LISTEN[0].port}/_localstack_lambda/{self.id}"

    def get_logs(self) -> str:
        process = self._process
        return process.stray_output() if process else ""

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        """Unzip the function's code and layers; refuse what this executor cannot run."""
        runtime = function_version.config.runtime or ""
        if not runtime.startswith("python"):
            raise LambdaRuntimeException(
                f"stackgrade's local Lambda executor runs Python functions only, not {runtime or 'container images'}"
            )
        function_version.config.code.prepare_for_execution()
        for layer in function_version.config.layers:
            layer.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass  # nothing beyond LocalStack's own unzipped code, which LocalStack removes


class LocalProcessExecutorPlugin(RuntimeExecutorPlugin):
    name = "stackgrade"

    def load(self, *args, **kwargs):
        return LocalProcessExecutor
