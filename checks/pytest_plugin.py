"""pytest plugin: grade cloud assemblies with the rule catalogue, one test per (stack, rule).

``pytest --stackgrade-assembly cdk.out`` (repeatable; a cdk.out directory or a
template) collects ``stackgrade[<stack>::<rule id>]`` for every top-level stack
and rule; nested stacks count toward their top-level stack. An item fails when
the rule fails in that stack, is skipped when the rule applied to nothing
there, and passes otherwise. Settings come from ``--stackgrade-config DIR``
(default: the invocation directory's stackgrade.toml or pyproject.toml).
Items carry their rule's severity and concerns as keywords, so ``-k "critical
or high"`` gates on the serious rules only.

Without test paths on the command line such a run collects only these items
(``pytest --stackgrade-assembly cdk.out`` grades; ``pytest tests
--stackgrade-assembly cdk.out`` runs both). Without the option the plugin adds
nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    from checks.assembly import Assembly
    from checks.config import StackgradeConfig
    from checks.own_rules import Evaluation
    from rules.rule import Outcome, Rule

# The engine (pydantic, the catalogue) is imported only when the option is given: the plugin loads
# in every pytest run of an environment that has stackgrade installed.

ASSEMBLY_OPTION = "--stackgrade-assembly"
CONFIG_OPTION = "--stackgrade-config"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackgrade", "stackgrade production-readiness rules")
    group.addoption(
        ASSEMBLY_OPTION, action="append", default=[], metavar="PATH", dest="stackgrade_assemblies",
        help="grade this cloud assembly (cdk.out directory) or template with the rule catalogue (repeatable)",
    )
    group.addoption(
        CONFIG_OPTION, default=None, metavar="DIR", dest="stackgrade_config",
        help="directory whose stackgrade.toml or pyproject.toml [tool.stackgrade] holds the settings "
             "(default: the current directory)",
    )


def _active(config: pytest.Config) -> bool:
    return bool(config.getoption("stackgrade_assemblies"))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # testpaths / the current directory are defaults, not a request: grade only. Explicit paths still run.
    if _active(config) and config.args_source != pytest.Config.ArgsSource.ARGS:
        return True
    return None


@dataclass(frozen=True)
class _Graded:
    """One ``--stackgrade-assembly``: loaded and evaluated once, at configure time."""

    raw_path: str
    assembly: Assembly
    evaluation: Evaluation


_GRADED = pytest.StashKey[tuple["StackgradeConfig", tuple["Rule", ...], list[_Graded]]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "stackgrade: a rule of the catalogue over one stack (added by the plugin)")
    if not _active(config):
        return
    # Here rather than at collection, so a usage error stops the run before the session header.
    settings = _settings(config)
    rules = _rules()
    graded = []
    for raw_path in config.getoption("stackgrade_assemblies"):
        assembly = _load(raw_path)
        graded.append(_Graded(raw_path, assembly, _evaluate(assembly, settings, rules)))
    config.stash[_GRADED] = (settings, rules, graded)


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselection, so they select among our items too
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if _GRADED not in config.stash:
        return
    settings, rules, graded = config.stash[_GRADED]
    for one in graded:
        node = AssemblyNode.from_parent(
            session, name=one.raw_path, nodeid=one.raw_path, path=Path(one.raw_path).resolve(),
            assembly=one.assembly, evaluation=one.evaluation, settings=settings, rules=rules,
        )
        # genitems reports the collection, so "collected N items" and --collect-only count these.
        items.extend(session.genitems(node))


def _settings(config: pytest.Config) -> StackgradeConfig:
    from checks.config import ConfigError, load_config

    given = config.getoption("stackgrade_config")
    directory = Path(given) if given else config.invocation_params.dir
    if given and not directory.is_dir():
        raise pytest.UsageError(f"{CONFIG_OPTION} {given}: not a directory (give the folder holding "
                                "stackgrade.toml or pyproject.toml)")
    try:
        return load_config(directory)
    except ConfigError as error:
        raise pytest.UsageError(f"{CONFIG_OPTION}: {error}") from None


def _rules() -> tuple[Rule, ...]:
    from rules import all_rules

    return all_rules()


def _evaluate(assembly: Assembly, settings: StackgradeConfig, rules: tuple[Rule, ...]) -> Evaluation:
    from checks.config import ConfigError
    from checks.own_rules import evaluate

    try:
        return evaluate(assembly, settings, rules)
    except ConfigError as error:  # settings that name unknown rule ids
        raise pytest.UsageError(f"{CONFIG_OPTION}: {error}") from None


def _load(raw_path: str) -> Assembly:
    from checks.assembly import Assembly, AssemblyError

    try:
        return Assembly.load(raw_path)
    except AssemblyError as error:
        raise pytest.UsageError(f"{ASSEMBLY_OPTION} {raw_path}: {error}") from None


class AssemblyNode(pytest.Collector):
    """One graded assembly; evaluated once, its outcomes shared out to per-(stack, rule) items."""

    def __init__(self, *, assembly: Assembly, evaluation: Evaluation, settings: StackgradeConfig,
                 rules: tuple[Rule, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self.assembly = assembly
        self.evaluation = evaluation
        self.settings = settings
        self.rules = rules

    def collect(self) -> Iterator[pytest.Item]:
        by_subject: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
        for outcome in self.evaluation.outcomes:
            by_subject[(outcome.stack.top_level.name, outcome.rule.id)].append(outcome)
        # App-wide rules report on the first stack (as findings do); say so on the others.
        first_stack = self.assembly.stacks[0].top_level.name
        for stack in (s for s in self.assembly.stacks if not s.nested):
            for rule in self.rules:
                yield RuleItem.from_parent(
                    self, name=f"stackgrade[{stack.name}::{rule.id}]", rule=rule, stack_name=stack.name,
                    outcomes=by_subject.get((stack.name, rule.id), []),
                    enabled=self.settings.enabled(rule.id), reported_on=first_stack,
                )


class RuleFailed(Exception):
    """A rule failed in a stack; the message is the whole report (no traceback is useful)."""


class RuleItem(pytest.Item):
    """One rule over one top-level stack (its nested stacks included)."""

    def __init__(self, *, rule: Rule, stack_name: str, outcomes: list[Outcome], enabled: bool,
                 reported_on: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rule = rule
        self.stack_name = stack_name
        self.outcomes = outcomes
        self.enabled = enabled
        self.reported_on = reported_on
        self.add_marker(pytest.mark.stackgrade)
        # `-k "critical or high"` or `-k dlq` select by severity or concern.
        self.extra_keyword_matches.update((rule.severity, *rule.concerns))
        self.user_properties.append(("severity", rule.severity))

    def runtest(self) -> None:
        rule = self.rule
        if not self.enabled:
            pytest.skip(f"{rule.id} is disabled in the stackgrade settings")
        if not self.outcomes:
            if rule.scope == "assembly" and self.stack_name != self.reported_on:
                pytest.skip(f"{rule.id} checks the whole app once; see stack {self.reported_on}")
            pytest.skip(f"{rule.id} applies to nothing in {self.stack_name}")
        failures = [o for o in self.outcomes if not o.passed]
        if failures:
            raise RuleFailed(failure_text(rule, self.stack_name, failures, len(self.outcomes)))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None):
        if isinstance(excinfo.value, RuleFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if isinstance(item, RuleItem) and report.skipped and isinstance(report.longrepr, tuple):
        # A skip points at the line of this plugin that raised it; the assembly is the useful place.
        report.longrepr = (item.parent.name, None, report.longrepr[2])
    return report


def failure_text(rule: Rule, stack_name: str, failures: list[Outcome], applied: int) -> str:
    """The failure report: the rule, each offending resource and its message, then the fix."""
    lines = [
        f"{rule.id} {rule.title} ({rule.severity}, {', '.join(rule.concerns)}): "
        f"{len(failures)} of {applied} failed in {stack_name}",
    ]
    lines += [f"  {subject(o)}: {o.message}" for o in failures]
    lines.append(f"Fix: {rule.remediation}")
    return "\n".join(lines)


def subject(outcome: Outcome) -> str:
    """The construct path, else stack/logical ID, else the stack (stack- and app-level rules)."""
    resource = outcome.resource
    if resource is None:
        return f"stack {outcome.stack.top_level.name}"
    return resource.construct_path or f"{resource.stack.name}/{resource.logical_id}"
