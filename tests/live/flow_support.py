"""Helpers shared by the probe and flow tests: deploy a fixture template or a reference system, read results.

Not a test module. A fixture template becomes a one-stack cloud assembly (what ``deploy_assembly``
takes); a reference system is synthesized in-process with an environment suffix unique to the test
session, so its explicitly named resources never collide with another deployment of the same system.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from checks.assembly import load_template
from checks.live.deploy import Deployment, deploy_assembly, teardown
from checks.live.probes import ProbeResult, run_probes

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "probes"
SESSION_SUFFIX = f"lv{uuid.uuid4().hex[:4]}"


def fixture_assembly(name: str, directory: Path) -> Path:
    """``fixtures/probes/<name>.yaml`` as a one-stack cloud assembly in ``directory``."""
    template = load_template(FIXTURES / f"{name}.yaml")
    stack = f"Probe{name.title().replace('_', '')}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{stack}.template.json").write_text(json.dumps(template))
    (directory / "manifest.json").write_text(json.dumps({"version": "36.0.0", "artifacts": {stack: {
        "type": "aws:cloudformation:stack", "environment": "aws://unknown-account/unknown-region",
        "properties": {"templateFile": f"{stack}.template.json"}}}}))
    return directory


def reference_assembly(system: str, variant: str, outdir: Path) -> Path:
    """The reference system synthesized into ``outdir`` with this session's environment suffix.

    Each system and variant gets its own suffix: both variants may be deployed at the same time, and two
    systems name some resources alike (order_pipeline's and order_processing_fargate's ``order-dlq-<suffix>``),
    so one system's messages must never move another's alarm.
    """
    from reference_stacks.app import build_app

    initials = "".join(word[0] for word in system.split("_"))
    suffix = SESSION_SUFFIX + initials + ("b" if variant == "baseline" else "")
    build_app(system, variant, suffix, outdir=str(outdir)).synth()
    return outdir


@dataclass
class Deployed:
    """A deployment with its probe results and timings, for a test module."""

    deployment: Deployment
    outputs: dict[str, str]
    deploy_seconds: float
    results: list[ProbeResult] = field(default_factory=list)
    probe_seconds: float = 0.0

    def probe(self, timeout: float = 60.0) -> list[ProbeResult]:
        started = time.perf_counter()
        self.results = run_probes(self.deployment, timeout=timeout)
        self.probe_seconds = time.perf_counter() - started
        return self.results

    def physical_id(self, logical_id: str, stack: str | None = None) -> str:
        name = stack or self.deployment.stacks[0].name
        physical = self.deployment.physical_id(name, logical_id)
        assert physical, f"{logical_id} was not deployed in {name}"
        return physical

    def client(self, service: str):
        return self.deployment.client(service)


def deploy(assembly_dir: Path, endpoint, outputs_dir: Path) -> Deployed:
    """Deploy an assembly and read back ``cfn-outputs/flat-outputs.json`` as the seeds' tests do."""
    started = time.perf_counter()
    deployment = deploy_assembly(assembly_dir, endpoint, outputs_dir=outputs_dir)
    seconds = time.perf_counter() - started
    outputs = json.loads((outputs_dir / "cfn-outputs" / "flat-outputs.json").read_text())
    return Deployed(deployment, outputs, seconds)


@contextlib.contextmanager
def deployed_reference(system: str, variant: str, endpoint, base: Path) -> Iterator[Deployed]:
    """The reference system synthesized and deployed under ``base``; torn down afterwards."""
    deployed = deploy(reference_assembly(system, variant, base / "cdk.out"), endpoint, base / "live")
    try:
        yield deployed
    finally:
        teardown(deployed.deployment)


def results_by(results: list[ProbeResult], kind: str | None = None) -> dict[str, ProbeResult]:
    """Probe results by logical id (of one kind)."""
    return {r.logical_id: r for r in results if kind is None or r.kind == kind}


def verdicts(results: list[ProbeResult], kind: str) -> dict[str, str]:
    """``{logical id: result}`` of one kind, to compare with an expectation in one assert."""
    return {r.logical_id: r.result for r in results if r.kind == kind}


@dataclass(frozen=True)
class Response:
    status: int
    body: str
    headers: dict

    def json(self):
        return json.loads(self.body)


def api_request(endpoint, url: str, method: str = "GET", body: dict | str | None = None,
                headers: dict | None = None) -> Response:
    """Call an API Gateway URL from the outputs through the endpoint (path-style; no DNS, no proxy)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    api_id = parts.netloc.split(".", 1)[0]
    target = f"{endpoint.url}/_aws/execute-api/{api_id}{parts.path}"
    data = None if body is None else (body if isinstance(body, str) else json.dumps(body)).encode()
    request = urllib.request.Request(target, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return Response(response.status, response.read().decode(), dict(response.headers))
    except urllib.error.HTTPError as exc:
        return Response(exc.code, exc.read().decode(), dict(exc.headers))


def wait_until(check, timeout: float = 30.0, interval: float = 0.25, what: str = "the condition"):
    """Poll ``check()`` until it returns something truthy (returned); AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def shorten_visibility(deployed, queue_url: str) -> None:
    """Make a failed message come back after 1 s instead of the queue's 300 s (three retries would take 15 min).

    Only the deployed queue's visibility timeout changes; the consumer, its batch failure report and the
    redrive stay as deployed. A receive the consumer started before the change still hides its messages for
    the old timeout, so wait until it has returned (at most the mapping's batching window).
    """
    sqs, lam = deployed.client("sqs"), deployed.client("lambda")
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "1"})
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mappings = lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    time.sleep(max([m.get("MaximumBatchingWindowInSeconds") or 0 for m in mappings], default=0) + 1)


@contextlib.contextmanager
def inbox(deployed, prefix: str = "flow-inbox") -> Iterator[tuple[str, str]]:
    """A temporary SQS queue (URL, ARN) that a test subscribes or targets; deleted afterwards."""
    sqs = deployed.client("sqs")
    url = sqs.create_queue(QueueName=f"{prefix}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    try:
        yield url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    finally:
        sqs.delete_queue(QueueUrl=url)


def received(deployed, queue_url: str, match, wait: int = 1) -> list[dict]:
    """Messages of a queue whose body satisfies ``match``; others are released at once (visibility 0)."""
    sqs = deployed.client("sqs")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                                   AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
    found = []
    for message in messages:
        if match(message["Body"]):
            found.append(message)
        else:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=0)
    return found


def queue_alarm(deployed, queue_url: str) -> dict:
    """The deployed alarm on the queue's ApproximateNumberOfMessagesVisible (a DLQ's first-message alarm)."""
    name = queue_url.rsplit("/", 1)[-1]
    return next(alarm for page in deployed.client("cloudwatch").get_paginator("describe_alarms").paginate()
                for alarm in page["MetricAlarms"] if alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible"
                and {"Name": "QueueName", "Value": name} in alarm.get("Dimensions", []))


def wait_for_alarm(deployed, inbox_url: str, alarm: dict, timeout: float = 30) -> dict:
    """The alarm's ALARM notification, evaluated by LocalStack from the DLQ metric it reports (every 5 s here).

    LocalStack evaluates an alarm when it is (re)defined and then once per period (here 5 minutes). Once the
    queue metric crossing the threshold is in (nothing else of this run put a message in the DLQ before: the
    probes run last), the alarm is defined again with its own settings every few seconds, which evaluates it
    then and there, until it notifies.
    """
    cloudwatch, sqs = deployed.client("cloudwatch"), deployed.client("sqs")
    deadline = time.monotonic() + timeout
    settings = {key: alarm[key] for key in (
        "AlarmName", "AlarmActions", "MetricName", "Namespace", "Statistic", "Dimensions", "Period",
        "EvaluationPeriods", "Threshold", "ComparisonOperator", "TreatMissingData") if key in alarm}
    while time.monotonic() < deadline:
        if crossed(cloudwatch, alarm):
            cloudwatch.put_metric_alarm(**settings)
        for message in sqs.receive_message(QueueUrl=inbox_url, MaxNumberOfMessages=10, WaitTimeSeconds=5).get(
                "Messages", []):
            notification = json.loads(json.loads(message["Body"])["Message"])
            if notification.get("AlarmName") == alarm["AlarmName"] and notification["NewStateValue"] == "ALARM":
                return notification
    raise AssertionError(f"no ALARM notification of {alarm['AlarmName']} within {timeout:g} s")


def crossed(cloudwatch, alarm: dict) -> bool:
    """Whether the alarm's metric has a datapoint at or over its threshold in the last ten minutes."""
    points = cloudwatch.get_metric_statistics(
        Namespace=alarm["Namespace"], MetricName=alarm["MetricName"], Dimensions=alarm["Dimensions"],
        StartTime=time.time() - 600, EndTime=time.time() + 60, Period=60, Statistics=[alarm["Statistic"]],
    )["Datapoints"]
    return any(point[alarm["Statistic"]] >= alarm["Threshold"] for point in points)
