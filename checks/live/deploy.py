"""Deploy a cloud assembly to LocalStack the way the CDK CLI would, and tear it down again.

:func:`deploy_assembly` reads the assembly's manifest (nested assemblies such as stages too),
publishes the file assets the asset manifests describe (a directory zipped, a file uploaded, to the
bucket and key of each destination; the CDK bootstrap bucket is created when missing), creates every
stack in dependency order under a name unique to the run, waits for it with a timeout, and collects
outputs, physical resource ids (nested stacks' too) and the resources LocalStack does not emulate.
A failure raises :class:`DeployError` naming each failing resource and its reason from the stack
events (nested stacks' events included) after deleting what the run created. :func:`teardown`
deletes the stacks in reverse order (emptying their buckets first), then the buckets and parameters
the run created.

Deployed templates differ from the assembly's in one way: ``Retain``/``Snapshot`` deletion policies
become ``Delete``, so a teardown leaves nothing behind and a second run against the same LocalStack
does not collide with a table or key the first one kept. Docker image assets cannot be built here;
they are noted per stack, and the stack still deploys (LocalStack does not run containers anyway).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterator

from checks.assembly import NESTED_STACK_TYPE, Assembly, AssemblyError, Stack
from checks.live import Endpoint, LiveError, LocalStackDied, Progress
from checks.live.localstack import aws_session
from checks.live.not_emulated import is_emulated

STACK_TIMEOUT = 300.0  # seconds one stack may take to create or delete
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
TEMPLATE_BODY_LIMIT = 51_200  # CloudFormation's (and LocalStack's) limit for an inline template
BOOTSTRAP_VERSION = "30"  # what `cdk bootstrap` of today writes; templates check it is >= their need
RETAINING_POLICIES = ("Retain", "RetainExceptOnCreate", "Snapshot")
STACK_NAME_LIMIT = 128
POLL_FIRST, POLL_MAX = 0.1, 1.0
SUB_REFERENCE = re.compile(r"\$\{(?!!)([^}]+)\}")  # ${Name} or ${Name.Attribute} in Fn::Sub (not ${!Literal})
DELETE_SETTLE = 5.0  # seconds a DELETE_FAILED status is given to turn into DELETE_COMPLETE (see delete_stack)

StandIns = dict  # logical id -> {"Ref" or attribute name: value}, per template
ELASTIC_IP = "AWS::EC2::EIP"

Alive = Callable[[], None]
"""Raises ``LocalStackDied`` when the LocalStack serving the run is gone (``EmbeddedLocalStack.check``)."""


class DeployError(LiveError):
    """A stack did not deploy; ``failures`` holds each failing resource and its reason.

    ``deployment`` is what the run had deployed when it failed (emptied by the clean-up, unless kept).
    """

    def __init__(self, message: str, stack: str | None = None,
                 failures: list[ResourceFailure] | None = None) -> None:
        super().__init__(message)
        self.stack = stack
        self.failures = failures or []
        self.deployment: Deployment | None = None
        self.cleanup_error: LiveError | None = None  # what deleting the failed deploy's leftovers raised


class TeardownError(LiveError):
    """Something the run created could not be deleted; the message names it."""


@dataclass(frozen=True)
class ResourceFailure:
    """One resource that failed, from the stack events (``path``: ``<Nested>/<LogicalId>`` in nested stacks)."""

    path: str
    resource_type: str
    status: str
    reason: str
    physical_id: str | None = None

    def __str__(self) -> str:
        named = f" {self.physical_id}" if self.physical_id and self.status == "DELETE_FAILED" else ""
        return f"{self.path}{named} ({self.resource_type}) {self.status}: {self.reason or 'no reason given'}"


@dataclass(frozen=True)
class DeployedResource:
    path: str  # the logical id, or "<NestedLogicalId>/<LogicalId>" for a nested stack's resource
    resource_type: str
    physical_id: str | None


@dataclass
class DeployedStack:
    """One top-level stack of the assembly as it was deployed (nested stacks' resources included)."""

    name: str  # the assembly's stack name
    deployed_name: str  # unique per run
    stack_id: str
    outputs: dict[str, str] = field(default_factory=dict)
    resources: list[DeployedResource] = field(default_factory=list)
    not_emulated: list[tuple[str, str]] = field(default_factory=list)  # (path, type)
    notes: list[str] = field(default_factory=list)  # e.g. a docker image asset not built
    seconds: float = 0.0

    @property
    def physical_ids(self) -> dict[str, str]:
        """Path (``LogicalId`` or ``<NestedLogicalId>/<LogicalId>``) -> physical resource id."""
        return {r.path: r.physical_id for r in self.resources if r.physical_id}

    @property
    def nested_paths(self) -> list[str]:
        return [r.path for r in self.resources if r.resource_type == NESTED_STACK_TYPE]


@dataclass
class Deployment:
    """What a run deployed, for the probes and the teardown."""

    assembly: Assembly
    endpoint: Endpoint
    run_id: str
    directory: Path
    stacks: list[DeployedStack] = field(default_factory=list)
    assets_seconds: float = 0.0
    outputs_path: Path | None = None
    created_buckets: list[str] = field(default_factory=list)
    created_parameters: list[str] = field(default_factory=list)
    created_addresses: list[str] = field(default_factory=list)  # stand-in Elastic IPs (allocation ids)
    alive: Alive | None = field(default=None, repr=False)

    @cached_property
    def session(self):
        return aws_session(self.endpoint)

    def client(self, service: str):
        """A boto3 client for this endpoint (fake credentials), one per service."""
        clients = self.__dict__.setdefault("_clients", {})
        if service not in clients:
            clients[service] = self.session.client(service)
        return clients[service]

    @property
    def seconds(self) -> float:
        return self.assets_seconds + sum(s.seconds for s in self.stacks)

    @property
    def outputs(self) -> dict[str, str]:
        """Every stack's outputs in one flat mapping (the seeds' ``flat-outputs.json``)."""
        flat: dict[str, str] = {}
        for stack in self.stacks:
            flat.update(stack.outputs)
        return flat

    def stack(self, name: str) -> DeployedStack | None:
        """The deployed stack of an assembly stack name (a nested stack's name gives its top-level stack)."""
        for stack in self.stacks:
            if name in (stack.name, stack.deployed_name) or name.startswith(stack.name + "/"):
                return stack
        return None

    def physical_id(self, stack_name: str, logical_id: str) -> str | None:
        """The physical id of ``logical_id`` in the assembly stack ``stack_name`` (nested names too:
        ``Parent/NestedLogicalId``, as :class:`checks.assembly.Assembly` names nested stacks)."""
        stack = self.stack(stack_name)
        if stack is None:
            return None
        prefix = "" if stack_name in (stack.name, stack.deployed_name) else stack_name[len(stack.name) + 1:] + "/"
        return stack.physical_ids.get(prefix + logical_id)

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc_info) -> None:
        teardown(self)


# The manifest


@dataclass(frozen=True)
class StackArtifact:
    """A stack artifact of the manifest (or of a nested assembly's manifest)."""

    key: str  # unique across nested assemblies: "<dir>::<artifact id>"
    name: str
    template_path: Path
    dependencies: tuple[str, ...]
    tags: dict
    parameters: dict
    bootstrap_parameter: str | None
    asset_manifests: tuple[Path, ...]  # the asset manifests the stack depends on


def read_manifest(directory: Path, stacks: list[StackArtifact] | None = None) -> list[StackArtifact]:
    """The stack artifacts of an assembly directory, nested assemblies (stages) included."""
    stacks = stacks if stacks is not None else []
    try:
        document = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeployError(f"Cannot read {directory / 'manifest.json'} ({exc}); give a synthesized cloud "
                          "assembly (cdk.out) to deploy.") from exc
    artifacts = document.get("artifacts") or {}
    scope = str(directory)
    for artifact_id, artifact in artifacts.items():
        properties = artifact.get("properties") or {}
        kind = artifact.get("type")
        if kind == "aws:cloudformation:stack":
            stacks.append(StackArtifact(
                key=f"{scope}::{artifact_id}",
                name=properties.get("stackName") or artifact.get("displayName") or artifact_id,
                template_path=(directory / properties.get("templateFile", f"{artifact_id}.template.json")).resolve(),
                dependencies=tuple(f"{scope}::{d}" for d in artifact.get("dependencies") or ()
                                   if (artifacts.get(d) or {}).get("type") == "aws:cloudformation:stack"),
                tags=dict(properties.get("tags") or {}),
                parameters=dict(properties.get("parameters") or {}),
                bootstrap_parameter=properties.get("bootstrapStackVersionSsmParameter"),
                asset_manifests=tuple(directory / artifacts[d]["properties"]["file"]
                                      for d in artifact.get("dependencies") or ()
                                      if (artifacts.get(d) or {}).get("type") == "cdk:asset-manifest"),
            ))
        elif kind == "cdk:cloud-assembly":
            read_manifest(directory / properties["directoryName"], stacks)
    return stacks


def deployment_order(stacks: list[StackArtifact]) -> list[StackArtifact]:
    """Dependencies first, otherwise in manifest order; a cycle is a DeployError."""
    by_key = {s.key: s for s in stacks}
    ordered: list[StackArtifact] = []
    state: dict[str, str] = {}

    def visit(stack: StackArtifact, chain: tuple[str, ...]) -> None:
        if state.get(stack.key) == "done":
            return
        if state.get(stack.key) == "visiting":
            raise DeployError(f"The stacks depend on each other in a cycle: {' -> '.join((*chain, stack.name))}.")
        state[stack.key] = "visiting"
        for dependency in stack.dependencies:
            if dependency in by_key:
                visit(by_key[dependency], (*chain, stack.name))
        state[stack.key] = "done"
        ordered.append(stack)

    for stack in stacks:
        visit(stack, ())
    return ordered


# Templates as deployed


def live_template(template: dict, stand_ins: StandIns | None = None) -> dict:
    """The template as deployed: retaining deletion policies made ``Delete``, and every reference to a
    resource LocalStack does not emulate replaced by its stand-in's value (``stand_ins``: logical id ->
    ``{"Ref" or attribute: value}``) or else a placeholder ARN.

    LocalStack resolves such references to the string "unknown", which breaks the intrinsics around
    them (CDK's ALB alarm dimension is ``Fn::Select`` over ``Fn::Split`` of the listener's ARN) and then
    the resources that use them, or even the stack's deletion. The placeholder has an ARN's shape
    (``arn:aws:<service>:<region>:<account>:<type>/not-emulated/<LogicalId>/<attribute>/0``), so those
    intrinsics work and the value says what it is. An Elastic IP, which NAT gateways need for real, gets a
    stand-in address allocated through the EC2 API (see :class:`Publisher`).
    """
    copy = json.loads(json.dumps(template))
    resources = copy.get("Resources") or {}
    for definition in resources.values():
        for key in ("DeletionPolicy", "UpdateReplacePolicy"):
            if definition.get(key) in RETAINING_POLICIES:
                definition[key] = "Delete"
    missing = {name for name, definition in resources.items() if not is_emulated(definition.get("Type", ""))}
    if missing:
        types = {name: resources[name]["Type"] for name in missing}
        for section in ("Resources", "Outputs"):
            if section in copy:
                copy[section] = _without_references(copy[section], types, stand_ins or {})
    return copy


def placeholder(resource_type: str, logical_id: str, attribute: str | None = None,
                stand_ins: StandIns | None = None) -> str:
    """The ``Fn::Sub`` text that replaces a not-emulated resource's ``Ref`` (``attribute`` None) or attribute."""
    value = ((stand_ins or {}).get(logical_id) or {}).get(attribute or "Ref")
    if value is not None:
        return value.replace("${", "${!")  # a literal inside Fn::Sub
    _, service, kind = (resource_type.split("::") + ["", ""])[:3]
    return (f"arn:${{AWS::Partition}}:{service.lower()}:${{AWS::Region}}:${{AWS::AccountId}}:{kind.lower()}/"
            f"not-emulated/{logical_id}/{attribute or 'ref'}/0")


def _without_references(value, types: dict[str, str], stand_ins: StandIns):
    if isinstance(value, list):
        return [_without_references(item, types, stand_ins) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, argument), = value.items()
        if key == "Ref" and argument in types:
            return {"Fn::Sub": placeholder(types[argument], argument, None, stand_ins)}
        if key == "Fn::GetAtt":
            name, attribute = (argument.split(".", 1) if isinstance(argument, str) else (list(argument) + [""])[:2])
            if name in types:
                return {"Fn::Sub": placeholder(types[name], name, str(attribute), stand_ins)}
        if key == "Fn::Sub" and isinstance(argument, (str, list)):
            text, variables = (argument, None) if isinstance(argument, str) else (argument[0], argument[1])
            text = SUB_REFERENCE.sub(lambda m: _sub_placeholder(m, types, variables or {}, stand_ins), text)
            return {"Fn::Sub": text if variables is None else [text, _without_references(variables, types, stand_ins)]}
    return {key: _without_references(item, types, stand_ins) for key, item in value.items()}


def _sub_placeholder(match, types: dict[str, str], variables: dict, stand_ins: StandIns) -> str:
    name, _, attribute = match.group(1).partition(".")
    if match.group(1) in variables or name not in types:
        return match.group(0)
    return placeholder(types[name], name, attribute or None, stand_ins)


def not_emulated(assembly: Assembly, top: Stack) -> list[tuple[str, str]]:
    """(path, type) of every resource of ``top`` and its nested stacks that LocalStack does not emulate."""
    found = []
    for stack in assembly.stacks:
        if stack.top_level is not top:
            continue
        prefix = stack.name[len(top.name) + 1:] + "/" if stack is not top else ""
        found.extend((prefix + r.logical_id, r.type) for r in stack.resources.values() if not is_emulated(r.type))
    return found


# Assets


def substitute(text: str, account: str, region: str) -> str:
    """The asset manifest's placeholders (``${AWS::AccountId}`` ...) for this endpoint."""
    return (text.replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
            .replace("${AWS::Partition}", "aws"))


def archive(source: Path, workdir: Path) -> Path:
    """A directory as a zip file (a file as it is, e.g. an existing zip)."""
    if source.is_file():
        return source
    target = workdir / f"{hashlib.sha256(str(source).encode()).hexdigest()[:16]}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                zipped.write(path, path.relative_to(source).as_posix())
    return target


class Publisher:
    """Publishes an assembly's assets to the endpoint's S3, creating buckets that are missing."""

    def __init__(self, deployment: Deployment, progress: Progress) -> None:
        self.deployment = deployment
        self.progress = progress
        self.s3 = deployment.client("s3")
        self.account = deployment.client("sts").get_caller_identity()["Account"]
        self.region = deployment.endpoint.region
        self.buckets: set[str] = set()
        self.published: set[Path] = set()
        # Templates (top-level and nested) are published as deployed, not as synthesized.
        self.templates = {s.path.resolve(): s.template for s in deployment.assembly.stacks if s.path is not None}
        self.stand_ins: dict[Path, StandIns] = {}

    def deployed(self, path: Path) -> dict:
        """The template at ``path`` as it is deployed (:func:`live_template`), with its stand-ins."""
        if path not in self.stand_ins:
            self.stand_ins[path] = self.allocate_stand_ins(self.templates[path])
        return live_template(self.templates[path], self.stand_ins[path])

    def allocate_stand_ins(self, template: dict) -> StandIns:
        """A real address (EC2 API) for each Elastic IP, which LocalStack's CloudFormation does not create but
        a NAT gateway needs; released by the teardown after the stacks are gone."""
        stand_ins: StandIns = {}
        for logical_id, definition in (template.get("Resources") or {}).items():
            if definition.get("Type") == ELASTIC_IP:
                address = self.deployment.client("ec2").allocate_address(Domain="vpc")
                self.deployment.created_addresses.append(address["AllocationId"])
                stand_ins[logical_id] = {"Ref": address["PublicIp"], "PublicIp": address["PublicIp"],
                                         "AllocationId": address["AllocationId"]}
        return stand_ins

    def ensure_bucket(self, bucket: str) -> None:
        if bucket in self.buckets:
            return
        try:
            self.s3.head_bucket(Bucket=bucket)
        except self.s3.exceptions.ClientError:
            config = {} if self.region == "us-east-1" else {
                "CreateBucketConfiguration": {"LocationConstraint": self.region}}
            self.s3.create_bucket(Bucket=bucket, **config)
            self.deployment.created_buckets.append(bucket)
        self.buckets.add(bucket)

    def publish(self, asset_manifest: Path) -> list[str]:
        """Upload every file asset of one asset manifest (once per run); notes for assets not published."""
        if asset_manifest in self.published:
            return []
        self.published.add(asset_manifest)
        try:
            document = json.loads(asset_manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DeployError(f"Cannot read the asset manifest {asset_manifest} ({exc}); synthesize again.") from exc
        notes = []
        with tempfile.TemporaryDirectory(prefix="stackgrade-assets-") as workdir:
            for asset_id, asset in (document.get("files") or {}).items():
                source = asset.get("source") or {}
                name = asset.get("displayName") or asset_id
                if "path" not in source:
                    notes.append(f"file asset {name} is built by a command; not supported live, not published")
                    continue
                path = (asset_manifest.parent / source["path"]).resolve()
                if not path.exists():
                    raise DeployError(f"Asset {name}: {path} does not exist; synthesize the app again.")
                for destination in (asset.get("destinations") or {}).values():
                    self.upload(path, source.get("packaging", "file"), destination, Path(workdir))
        for asset_id, asset in (document.get("dockerImages") or {}).items():
            notes.append(f"docker image asset {asset.get('displayName') or asset_id} is not supported live "
                         "(no Docker here); not built, resources using it are deployed without it")
        return notes

    def upload(self, path: Path, packaging: str, destination: dict, workdir: Path) -> None:
        bucket = substitute(destination["bucketName"], self.account, self.region)
        key = substitute(destination["objectKey"], self.account, self.region)
        self.ensure_bucket(bucket)
        if path in self.templates:
            self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(self.deployed(path)).encode())
        elif packaging == "zip":
            self.s3.upload_file(str(archive(path, workdir)), bucket, key)
        else:
            self.s3.upload_file(str(path), bucket, key)

    def template_url(self, path: Path, stack_name: str) -> dict:
        """``TemplateBody`` when it fits, else the template uploaded and its ``TemplateURL``."""
        body = json.dumps(self.deployed(path))
        if len(body) <= TEMPLATE_BODY_LIMIT:
            return {"TemplateBody": body}
        bucket = f"cdk-hnb659fds-assets-{self.account}-{self.region}"
        key = f"stackgrade-live/{self.deployment.run_id}/{stack_name}.json"
        self.ensure_bucket(bucket)
        self.s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
        return {"TemplateURL": f"https://s3.{self.region}.amazonaws.com/{bucket}/{key}"}


# Deploying


def new_run_id() -> str:
    return secrets.token_hex(3)


def deployed_name(name: str, run_id: str) -> str:
    """``<name>-<run id>``: CloudFormation's characters only, within its length limit."""
    clean = "".join(c if c.isalnum() or c == "-" else "-" for c in name).strip("-") or "stack"
    if not clean[0].isalpha():
        clean = "s-" + clean
    return f"{clean[:STACK_NAME_LIMIT - len(run_id) - 1]}-{run_id}"


@contextlib.contextmanager
def endpoint_errors(endpoint: Endpoint, alive: Alive | None) -> Iterator[None]:
    """Connection failures as ``LocalStackDied`` (the embedded one's own check first: it has the log)."""
    import botocore.exceptions

    try:
        yield
    except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as exc:
        if alive is not None:
            alive()
        raise LocalStackDied(f"LocalStack at {endpoint.url} stopped answering ({exc}); nothing more can be "
                             "deployed or deleted there.") from exc


@contextlib.contextmanager
def refusals(endpoint: Endpoint) -> Iterator[None]:
    """An AWS error where none was expected (publishing assets, reading the stack) as a ``DeployError``."""
    import botocore.exceptions

    try:
        yield
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        raise DeployError(f"LocalStack at {endpoint.url} refused {exc.operation_name}: {error.get('Code')}: "
                          f"{error.get('Message')}; is it a LocalStack (and a healthy one)?") from exc


def deploy_assembly(assembly_dir: str | Path, endpoint: Endpoint, *, run_id: str | None = None,
                    keep: bool = False, progress: Progress | None = None, outputs_dir: str | Path | None = None,
                    timeout: float = STACK_TIMEOUT, alive: Alive | None = None) -> Deployment:
    """Deploy every stack of the assembly at ``assembly_dir``; see the module docstring.

    ``keep`` only matters on failure: the stacks created so far are kept for inspection instead of
    deleted. ``outputs_dir`` receives ``cfn-outputs/flat-outputs.json``. ``alive`` is called while
    waiting and on connection errors (pass ``EmbeddedLocalStack.check``).
    """
    progress = progress or (lambda _message: None)
    directory = Path(assembly_dir)
    try:
        assembly = Assembly.load(directory)
    except AssemblyError as exc:
        raise DeployError(f"Cannot deploy {directory}: {exc}") from exc
    if not directory.is_dir():
        raise DeployError(f"{directory} is a template, not a cloud assembly; live deployment needs cdk.out.")
    artifacts = read_manifest(directory)
    deployment = Deployment(assembly=assembly, endpoint=endpoint, run_id=run_id or new_run_id(),
                            directory=directory, alive=alive)
    try:
        with endpoint_errors(endpoint, alive), refusals(endpoint):
            _deploy(deployment, artifacts, progress, timeout)
    except LocalStackDied:
        raise  # nothing can be deleted from a LocalStack that is gone
    except BaseException as exc:  # a failure, a timeout or Ctrl-C: delete what was created, then re-raise
        if isinstance(exc, DeployError):
            exc.deployment = deployment
        if keep:
            progress(f"Keeping what was deployed for inspection (run {deployment.run_id})")
        else:
            _cleanup_after_failure(deployment, progress, timeout, exc)
        raise
    if outputs_dir is not None:
        deployment.outputs_path = write_outputs(deployment.outputs, Path(outputs_dir))
    return deployment


def _cleanup_after_failure(deployment: Deployment, progress: Progress, timeout: float, error: BaseException) -> None:
    try:
        teardown(deployment, progress=progress, timeout=timeout)
    except LiveError as cleanup_error:
        if isinstance(error, LiveError):
            error.args = (f"{error.args[0]}\nCleaning up also failed: {cleanup_error}",)
        if isinstance(error, DeployError):
            error.cleanup_error = cleanup_error


def _deploy(deployment: Deployment, artifacts: list[StackArtifact], progress: Progress, timeout: float) -> None:
    publisher = Publisher(deployment, progress)
    _bootstrap_parameters(deployment, artifacts)
    by_path = {s.path.resolve(): s for s in deployment.assembly.stacks if not s.nested and s.path is not None}
    for artifact in deployment_order(artifacts):
        started = time.perf_counter()
        notes = [note for path in artifact.asset_manifests for note in publisher.publish(path)]
        deployment.assets_seconds += time.perf_counter() - started
        stack = by_path[artifact.template_path]
        deployed = _deploy_stack(deployment, publisher, artifact, stack, progress, timeout)
        deployed.notes = notes
        deployed.not_emulated = not_emulated(deployment.assembly, stack)


def _bootstrap_parameters(deployment: Deployment, artifacts: list[StackArtifact]) -> None:
    """The SSM parameter a CDK template's BootstrapVersion parameter reads, as `cdk bootstrap` leaves it."""
    ssm = deployment.client("ssm")
    for name in sorted({s.bootstrap_parameter for s in artifacts if s.bootstrap_parameter}):
        try:
            ssm.get_parameter(Name=name)
        except ssm.exceptions.ParameterNotFound:
            ssm.put_parameter(Name=name, Value=BOOTSTRAP_VERSION, Type="String")
            deployment.created_parameters.append(name)


def _deploy_stack(deployment: Deployment, publisher: Publisher, artifact: StackArtifact, stack: Stack,
                  progress: Progress, timeout: float) -> DeployedStack:
    cfn = deployment.client("cloudformation")
    name = deployed_name(artifact.name, deployment.run_id)
    count = sum(len(s.resources) for s in deployment.assembly.stacks if s.top_level is stack)
    progress(f"Deploying {artifact.name} as {name} ({count} resources)")
    started = time.perf_counter()
    try:
        response = cfn.create_stack(
            StackName=name, Capabilities=CAPABILITIES, OnFailure="DO_NOTHING",
            Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in artifact.parameters.items()],
            Tags=[{"Key": k, "Value": str(v)} for k, v in artifact.tags.items()],
            **publisher.template_url(artifact.template_path, name),
        )
    except cfn.exceptions.ClientError as exc:
        raise DeployError(f"CloudFormation refused stack {artifact.name}: {exc.response['Error'].get('Message')}",
                          stack=artifact.name) from exc
    deployed = DeployedStack(name=artifact.name, deployed_name=name, stack_id=response["StackId"])
    deployment.stacks.append(deployed)
    status, reason = wait_for_stack(deployment, deployed.stack_id, timeout)
    # LocalStack 4.14 can report CREATE_COMPLETE when a resource failed and the rest were never
    # attempted: the events and the resources created are checked too.
    failures = stack_failures(cfn, deployed.stack_id)
    if status == "CREATE_COMPLETE":
        deployed.resources = list_resources(cfn, deployed.stack_id)
        if not failures:
            failures = not_created(deployment.assembly, stack, deployed.resources)
    if status != "CREATE_COMPLETE" or failures:
        lines = "\n".join(f"  - {f}" for f in failures) or f"  (no failing resource reported: {reason})"
        raise DeployError(f"Stack {artifact.name} (deployed as {name}) ended {status}"
                          f"{' with failed resources' if status == 'CREATE_COMPLETE' else ''}; failing resources:\n"
                          f"{lines}", stack=artifact.name, failures=failures)
    description = cfn.describe_stacks(StackName=deployed.stack_id)["Stacks"][0]
    deployed.outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in description.get("Outputs") or []}
    deployed.seconds = time.perf_counter() - started
    progress(f"Deployed {artifact.name} in {deployed.seconds:.1f} s")
    return deployed


def not_created(assembly: Assembly, top: Stack, deployed: list[DeployedResource]) -> list[ResourceFailure]:
    """Resources of the template (and its nested templates) the stack does not have; conditional ones aside."""
    paths = {r.path for r in deployed}
    missing = []
    for stack in assembly.stacks:
        if stack.top_level is not top:
            continue
        prefix = stack.name[len(top.name) + 1:] + "/" if stack is not top else ""
        if prefix and prefix[:-1] not in paths:
            continue  # the nested stack itself is missing (reported) or conditional
        missing.extend(ResourceFailure(prefix + r.logical_id, r.type, "NOT_CREATED",
                                       "LocalStack reported the stack complete without creating it")
                       for r in stack.resources.values()
                       if "Condition" not in r.definition and prefix + r.logical_id not in paths)
    return missing


def wait_for_stack(deployment: Deployment, stack_id: str, timeout: float) -> tuple[str, str]:
    """Poll until the stack leaves its ``*_IN_PROGRESS`` status; (status, reason). Times out as DeployError."""
    cfn = deployment.client("cloudformation")
    deadline = time.monotonic() + timeout
    delay = POLL_FIRST
    while True:
        description = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        status = description["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            return status, description.get("StackStatusReason", "")
        if deployment.alive is not None:
            deployment.alive()
        if time.monotonic() > deadline:
            raise DeployError(f"Stack {description['StackName']} was still {status} after {timeout:.0f} s; "
                              "give it more time (--stack-timeout) or look at the LocalStack log.",
                              stack=description["StackName"])
        time.sleep(delay)
        delay = min(delay * 2, POLL_MAX)


def stack_failures(cfn, stack_id: str, prefix: str = "", status: str = "_FAILED") -> list[ResourceFailure]:
    """The resources whose status in the stack's events ends with ``status``, oldest first, each once; a failed
    nested stack by its own failures."""
    events = list(reversed(stack_events(cfn, stack_id)))  # the API lists the newest first
    stack_name = next((e["StackName"] for e in events if e.get("StackName")), "")
    first: dict[str, dict] = {}
    for event in events:
        if event["ResourceStatus"].endswith(status) and event.get("PhysicalResourceId") != stack_id:
            first.setdefault(event["LogicalResourceId"], event)
    failures: list[ResourceFailure] = []
    for logical_id, event in first.items():
        nested: list[ResourceFailure] = []
        if event.get("ResourceType") == NESTED_STACK_TYPE:
            nested_id = event.get("PhysicalResourceId") or find_nested_stack(cfn, stack_name, logical_id)
            nested = stack_failures(cfn, nested_id, f"{prefix}{logical_id}/", status) if nested_id else []
        failures.extend(nested or [ResourceFailure(prefix + logical_id, event.get("ResourceType", "?"),
                                                   event["ResourceStatus"], event.get("ResourceStatusReason") or "",
                                                   event.get("PhysicalResourceId"))])
    return failures


def stack_events(cfn, stack_id: str) -> list[dict]:
    return [e for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id)
            for e in page["StackEvents"]]


def find_nested_stack(cfn, parent_name: str, logical_id: str) -> str | None:
    """The id of a nested stack whose creation failed, which LocalStack leaves out of the parent's events.

    LocalStack names a nested stack ``<parent name, cut>-<logical id, cut to 24>-<8 random characters>``
    (``generate_default_name`` in its CloudFormation provider); the newest stack with that prefix is it.
    """
    resource_part = logical_id[:24]
    prefix = f"{parent_name[:63 - 2 - 8 - len(resource_part)]}-{resource_part}-"
    candidates = [s for page in cfn.get_paginator("list_stacks").paginate() for s in page["StackSummaries"]
                  if s["StackName"].startswith(prefix) and len(s["StackName"]) == len(prefix) + 8]
    candidates.sort(key=lambda s: s["CreationTime"])
    return candidates[-1]["StackId"] if candidates else None


def list_resources(cfn, stack_id: str, prefix: str = "") -> list[DeployedResource]:
    """Every resource of a stack and (recursively) of its nested stacks."""
    found = []
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_id):
        for summary in page["StackResourceSummaries"]:
            path = prefix + summary["LogicalResourceId"]
            resource = DeployedResource(path, summary["ResourceType"], summary.get("PhysicalResourceId"))
            found.append(resource)
            if resource.resource_type == NESTED_STACK_TYPE and resource.physical_id:
                found.extend(list_resources(cfn, resource.physical_id, path + "/"))
    return found


def write_outputs(outputs: dict[str, str], outputs_dir: Path) -> Path:
    """``<outputs_dir>/cfn-outputs/flat-outputs.json``: ``{OutputKey: value}`` as the seeds' tests read it."""
    path = outputs_dir / "cfn-outputs" / "flat-outputs.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(outputs, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


# Teardown


def teardown(deployment: Deployment, *, progress: Progress | None = None, timeout: float = STACK_TIMEOUT) -> float:
    """Delete what the run created (stacks in reverse order, then buckets, parameters, stand-in addresses);
    its seconds.

    Goes on past a failure and raises ``TeardownError`` naming everything left at the end.
    """
    import botocore.exceptions

    progress = progress or (lambda _message: None)
    started = time.perf_counter()
    left: list[str] = []

    def attempt(what: str, action: Callable[[], str | None]) -> None:
        try:
            problem = action()
        except botocore.exceptions.ClientError as exc:
            problem = f"{exc.operation_name}: {exc.response['Error'].get('Message')}"
        if problem:
            left.append(f"{what} ({problem})")

    with endpoint_errors(deployment.endpoint, deployment.alive):
        for stack in reversed(deployment.stacks):
            progress(f"Deleting {stack.deployed_name}")
            attempt(f"stack {stack.deployed_name}", lambda: empty_buckets(deployment, stack)
                    or delete_stack(deployment, stack.stack_id, timeout))
        s3, ssm, ec2 = (deployment.client(service) for service in ("s3", "ssm", "ec2"))
        for bucket in deployment.created_buckets:
            attempt(f"bucket {bucket}", lambda: delete_bucket(s3, bucket))
        for name in deployment.created_parameters:
            attempt(f"parameter {name}", lambda: ssm.delete_parameter(Name=name) and None)
        for allocation in deployment.created_addresses:
            attempt(f"address {allocation}", lambda: ec2.release_address(AllocationId=allocation) and None)
    for created in (deployment.stacks, deployment.created_buckets, deployment.created_parameters,
                    deployment.created_addresses):
        created.clear()
    if left:
        raise TeardownError(f"Teardown left {', '.join(left)}; delete them by hand at {deployment.endpoint.url}.")
    return time.perf_counter() - started


def delete_stack(deployment: Deployment, stack_id: str, timeout: float) -> str | None:
    """Delete one stack and wait; None when it and its resources are gone, else what is left.

    LocalStack 4.14 reports ``DELETE_FAILED`` for a moment when a resource cannot be deleted, then goes on
    and ends ``DELETE_COMPLETE`` even when that resource still exists; so the status is given a moment to
    settle, and a resource whose deletion failed after it had been created (it has a physical id) is
    reported as left behind. One that failed to create and never existed is not.
    """
    cfn = deployment.client("cloudformation")
    cfn.delete_stack(StackName=stack_id)
    try:
        status, reason = wait_for_stack(deployment, stack_id, timeout)
        settle = time.monotonic() + DELETE_SETTLE
        while status == "DELETE_FAILED" and time.monotonic() < settle:
            time.sleep(POLL_FIRST)
            status, reason = wait_for_stack(deployment, stack_id, timeout)
    except DeployError as exc:
        return str(exc)
    left = [f for f in stack_failures(cfn, stack_id, status="DELETE_FAILED") if f.physical_id]
    if status == "DELETE_COMPLETE" and not left:
        return None
    return f"{status}: {'; '.join(str(f) for f in left) or reason or 'no reason given'}"


def empty_buckets(deployment: Deployment, stack: DeployedStack) -> None:
    """Delete every object of the stack's buckets (CloudFormation cannot delete a bucket that is not empty)."""
    s3 = deployment.session.resource("s3")
    for resource in stack.resources:
        if resource.resource_type == "AWS::S3::Bucket" and resource.physical_id:
            with contextlib.suppress(s3.meta.client.exceptions.NoSuchBucket):
                s3.Bucket(resource.physical_id).object_versions.delete()


def delete_bucket(s3, bucket: str) -> None:
    with contextlib.suppress(s3.exceptions.NoSuchBucket):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents") or []]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        s3.delete_bucket(Bucket=bucket)


__all__ = [
    "DeployError", "Deployment", "DeployedResource", "DeployedStack", "ResourceFailure", "TeardownError",
    "deploy_assembly", "live_template", "not_emulated", "teardown", "write_outputs",
]
