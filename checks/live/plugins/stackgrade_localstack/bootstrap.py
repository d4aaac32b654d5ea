"""The handler side of the local-process Lambda executor: one process per execution environment.

Runs as ``python -m stackgrade_localstack.bootstrap <result-fd> [<layer path> ...]`` with the function's code folder as
its working directory and the function's environment. Standard library only: the handler shares this
interpreter, and nothing of ours may shadow or pre-import what the handler brings.

Protocol (JSON lines): the executor writes invocations to stdin; this process writes messages to the
result pipe ``<result-fd>``:
- ``{"type": "log", "data": ...}``: output of the handler, streamed as it is written (a timed-out
  invocation keeps what it printed);
- ``{"type": "ready", "init_ms": ...}`` or ``{"type": "init-error", "error": {...}}`` once, after
  importing the handler (as AWS's init phase does, before the first invocation);
- ``{"type": "result", "request_id": ..., "payload": "...", "is_error": bool, "report": "..."}`` per invocation.
"""

from __future__ import annotations

import decimal
import importlib
import io
import json
import logging
import os
import sys
import threading
import time
import traceback

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows, where LocalStack does not run on the host anyway
    resource = None

PARENT_POLL_SECONDS = 0.5


class Channel:
    """The result pipe: whole JSON lines, from any thread."""

    def __init__(self, fd: int) -> None:
        self._file = os.fdopen(fd, "w", encoding="utf-8", closefd=True)
        self._lock = threading.Lock()

    def send(self, message: dict) -> None:
        line = json.dumps(message) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()


class StreamedOutput(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: every write goes to the executor as a log message."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text:
            self._channel.send({"type": "log", "data": text})
        return len(text)


class RequestIdFilter(logging.Filter):
    """Adds ``aws_request_id`` to every record, as the AWS Python runtime does."""

    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = RequestIdFilter.request_id
        return True


class CurrentStdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time (the streamed output during an invocation)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass  # StreamHandler.__init__ assigns it; the current sys.stdout always wins


def install_root_handler() -> None:
    """A root handler in the AWS runtime's format; the root level stays WARNING, as in AWS."""
    handler = CurrentStdoutHandler()
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
    ))
    handler.formatter.converter = time.gmtime
    handler.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(handler)


class LambdaContext:
    """The context object handlers receive (the attributes and method of AWS's)."""

    def __init__(self, request_id: str, invoked_arn: str, deadline: float) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def error_document(exc: BaseException, error_type: str | None = None, request_id: str = "") -> dict:
    """The payload AWS returns for an unhandled error."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename != __file__]
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


def log_error(document: dict) -> None:
    """The ``[ERROR]`` line and traceback the AWS runtime logs for an unhandled error."""
    trace = "".join(document["stackTrace"])
    print(f"[ERROR] {document['errorType']}: {document['errorMessage']}\nTraceback (most recent call last):\n{trace}",
          file=sys.stdout)


def load_handler(name: str):
    """Import ``module.function`` (``path/module.function`` too) as the AWS runtime does."""
    module_name, _, function_name = name.rpartition(".")
    if not module_name or not function_name:
        raise HandlerError("Runtime.MalformedHandlerName", f"Bad handler '{name}': not enough values to unpack")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HandlerError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from exc
    except SyntaxError as exc:
        raise HandlerError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}") from exc
    handler = getattr(module, function_name, None)
    if handler is None:
        raise HandlerError("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return handler


class HandlerError(Exception):
    """An init failure with AWS's error type."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def to_json(value) -> str:
    """JSON for the response; Decimals (as from DynamoDB) become numbers, as in the AWS runtime."""

    def default(obj):
        if isinstance(obj, decimal.Decimal):
            return int(obj) if obj == obj.to_integral_value() else float(obj)
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    return json.dumps(value, default=default)


def max_memory_mb() -> int:
    """Peak resident memory of this process (Linux: VmHWM; ru_maxrss would include the forking parent's)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    if resource is None:  # pragma: no cover - see the import
        return 0
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024)  # bytes on macOS


def exit_when_orphaned(parent: int) -> None:
    """End this process when LocalStack is gone, even while a handler runs (it never returns otherwise)."""
    while True:
        time.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != parent:
            os._exit(1)


def invoke(handler, request: dict, channel: Channel) -> None:
    """Run one invocation and send its result (and its REPORT line)."""
    request_id = request["invoke-id"]
    os.environ["_X_AMZN_TRACE_ID"] = request.get("trace-id") or ""
    RequestIdFilter.request_id = request_id
    timeout = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
    started = time.time()
    context = LambdaContext(request_id, request.get("invoked-function-arn", ""), started + timeout)
    is_error = False
    try:
        event = json.loads(request.get("payload") or "null")
        payload = to_json(handler(event, context))
    except Exception as exc:  # the handler's error becomes the function error
        is_error = True
        error_type = "Runtime.MarshalError" if isinstance(exc, TypeError) and "JSON serializable" in str(exc) else None
        document = error_document(exc, error_type, request_id)
        log_error(document)
        payload = json.dumps(document)
    duration_ms = (time.time() - started) * 1000
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
    report = (f"Duration: {duration_ms:.2f} ms\tBilled Duration: {int(duration_ms) + 1} ms\t"
              f"Memory Size: {memory} MB\tMax Memory Used: {max_memory_mb()} MB")
    channel.send({"type": "result", "request_id": request_id, "payload": payload, "is_error": is_error,
                  "report": report})


def main(argv: list[str]) -> int:
    channel = Channel(int(argv[1]))
    threading.Thread(target=exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    # The function's code first, then its layers (AWS's /opt/python), then this interpreter's packages.
    task_root = os.getcwd()
    sys.path[:1] = [task_root, *argv[2:]]
    sys.stdout = sys.stderr = StreamedOutput(channel)
    install_root_handler()
    started = time.time()
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except Exception as exc:  # import-time errors of the handler's module are function errors, not ours
        error_type = exc.error_type if isinstance(exc, HandlerError) else None
        document = error_document(exc, error_type)
        document["stackTrace"] = [] if isinstance(exc, HandlerError) else document["stackTrace"]
        log_error(document)
        channel.send({"type": "init-error", "error": document})
        return 1
    channel.send({"type": "ready", "init_ms": (time.time() - started) * 1000})
    for line in sys.__stdin__:
        invoke(handler, json.loads(line), channel)
    return 0  # stdin closed: the executor stopped this environment


if __name__ == "__main__":
    sys.exit(main(sys.argv))
