"""Builders for hand-made cloud assemblies and small lookups shared by the tests of ``checks``."""

from __future__ import annotations

import json
from pathlib import Path

from checks.assembly import Assembly

FIXTURES = Path(__file__).parent / "fixtures"


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    return path


def queue(**properties) -> dict:
    return {"Type": "AWS::SQS::Queue", "Properties": properties} if properties else {"Type": "AWS::SQS::Queue"}


def nested_stack_resource(asset: str | None, parameters: dict | None = None, template_url: object = None) -> dict:
    """An AWS::CloudFormation::Stack resource as CDK writes it (asset metadata when ``asset`` is given)."""
    resource: dict = {"Type": "AWS::CloudFormation::Stack", "Properties": {}}
    if template_url is not None:
        resource["Properties"]["TemplateURL"] = template_url
    if parameters:
        resource["Properties"]["Parameters"] = parameters
    if asset:
        resource["Metadata"] = {"aws:asset:path": asset, "aws:asset:property": "TemplateURL"}
    return resource


def stack_artifact(template_file: str, **extra) -> dict:
    properties = {"templateFile": template_file}
    properties.update(extra.pop("properties", {}))
    return {"type": "aws:cloudformation:stack", "properties": properties, **extra}


def write_manifest(directory: Path, artifacts: dict) -> Path:
    return write_json(directory / "manifest.json", {"version": "48.0.0", "artifacts": artifacts})


def by_id(assembly: Assembly, logical_id: str, stack: str | None = None):
    """The one resource with that logical ID (in the named stack when given)."""
    matches = [r for r in assembly.resources() if r.logical_id == logical_id and (stack is None or r.stack.name == stack)]
    assert len(matches) == 1, f"{logical_id}: {matches}"
    return matches[0]


def ids(resources) -> list[str]:
    return [r.logical_id for r in resources]
