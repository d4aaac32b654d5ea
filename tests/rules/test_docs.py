"""Generated rule docs (``rules/docs.py``): up to date in the repository, and rendered from metadata."""

from __future__ import annotations

from pathlib import Path

import dataclasses

import pytest

from rules import all_rules
from rules.docs import (
    DOCS,
    Fixture,
    check_unique,
    differences,
    load_guard_tests,
    main,
    render_all,
    render_guard_page,
    render_page,
    strip_test_metadata,
)
from rules.guard import guard_rules


def test_docs_are_up_to_date():
    problems = differences(DOCS, render_all())
    assert not problems, "docs/ is out of date with the rules; run `nox -s docs`:\n" + "\n".join(problems)


def test_index_links_every_rule_page_of_both_engines():
    files = render_all()
    index = files["rules.md"]
    for rule, engine in [*((r, "stackgrade") for r in all_rules()), *((r, "cfn-guard") for r in guard_rules())]:
        concerns = ", ".join(f"`{c}`" for c in rule.concerns)
        assert (f"| [{rule.id}](rules/{rule.id}.md) | {rule.title} | {rule.severity} | {rule.category} | "
                f"{concerns} | {engine} |") in index
        assert f"rules/{rule.id}.md" in files
    assert f"{len(all_rules())} in Python" in index and f"{len(guard_rules())} in cfn-guard" in index
    rows = [line.split(" | ")[0] for line in index.splitlines() if line.startswith("| [SG-")]
    assert rows == sorted(rows)  # one table, by id, whichever engine runs the rule


def test_guard_page_shows_metadata_test_cases_and_the_rule():
    rule = next(r for r in guard_rules() if r.id == "SG-ECS-001")
    page = render_all()["rules/SG-ECS-001.md"]
    for text in (f"# SG-ECS-001: {rule.title}", "| Severity | high", "| Category | reliability |",
                 "| Concerns | `deployment` |", "| Applies to | `AWS::ECS::Service` |",
                 "| Engine | cfn-guard (Guard rule `ecs_service_deployment_rollback`) |",
                 "(../../rules/guard/ecs_service_deployment_rollback.guard)", rule.rationale, rule.remediation,
                 *(f"- {seed}" for seed in rule.seeds), "rule ecs_service_deployment_rollback when %services !empty",
                 "- circuit breaker that stops but does not roll back: FAIL", "SuppressedRules"):
        assert text in page
    bad, good = page.index("### Bad: no rollback configured"), page.index("### Good: circuit breaker with rollback")
    assert bad < good
    assert "The rule fails." in page[bad:good] and "DeploymentCircuitBreaker:\n          Enable: true" in page[good:]
    assert "# id: SG-ECS-001" not in page  # the header is shown as the table, not as Guard code
    assert "| Engine | stackgrade |" in render_all()["rules/SG-DLQ-001.md"]


def test_a_guard_rule_without_test_cases_says_so(tmp_path):
    rule = dataclasses.replace(guard_rules()[0], path=tmp_path / "untested.guard", name="untested")
    rule.path.write_text(guard_rules()[0].path.read_text())
    assert load_guard_tests(rule) == []
    assert "No test cases yet." in render_guard_page(rule, [])


def test_catalogue_and_guard_rules_must_not_share_ids_or_titles():
    guard = guard_rules()[0]
    catalogue = all_rules()[0]
    with pytest.raises(ValueError, match=f"share an id: \\['{catalogue.id}'\\]"):
        check_unique(all_rules(), [dataclasses.replace(guard, id=catalogue.id)])
    with pytest.raises(ValueError, match="share a title"):
        check_unique(all_rules(), [dataclasses.replace(guard, title=catalogue.title)])


def test_page_shows_metadata_and_fixtures_as_examples():
    page = render_all()["rules/SG-DLQ-001.md"]
    rule = next(r for r in all_rules() if r.id == "SG-DLQ-001")
    for text in (f"# SG-DLQ-001: {rule.title}", "| Severity | high", "| Category | reliability |",
                 "| Concerns | `dlq` |", "| Applies to | `AWS::SQS::Queue` |", rule.rationale, rule.remediation,
                 *(f"- {seed}" for seed in rule.seeds)):
        assert text in page
    bad, good = page.index("### Bad: [`no-redrive.fail.yaml`]"), page.index("### Good: [`redrive.pass.yaml`]")
    assert bad < good
    assert "The rule flags `Orders`, `Payments`." in page
    assert "deadLetterTargetArn: !GetAtt OrdersDlq.Arn" in page[good:]
    assert "stackgrade-test" not in page  # the harness's metadata is not part of the example


def test_settings_of_an_example_are_shown_as_toml():
    fixture = Fixture(Path("strict.fail.yaml"), passes=False, text="Resources: {}", offending=("Orders",),
                      settings={"environment_suffix": "dev", "thresholds": {"max_receive_count_max": 5}})
    rule = next(r for r in all_rules() if r.id == "SG-DLQ-001")
    page = render_page(rule, "queue_has_dlq", [fixture])
    assert "The rule flags `Orders`." in page
    toml = '[tool.stackgrade]\nenvironment_suffix = "dev"\nthresholds = { max_receive_count_max = 5 }'
    assert f"```toml\n{toml}\n```" in page
    assert "No fixtures yet." in render_page(rule, "queue_has_dlq", [])


def test_settings_of_every_toml_type_are_written_as_toml():
    fixture = Fixture(Path("typed.pass.yaml"), passes=True, text="Resources: {}", offending=(),
                      settings={"strict": True, "lenient": False, "days": 14, "ratio": 0.5,
                                "required_tags": ["Owner", "CostCenter"], "rules": {"SG-DLQ-001": False}})
    rule = next(r for r in all_rules() if r.id == "SG-DLQ-001")
    toml = ('[tool.stackgrade]\nstrict = true\nlenient = false\ndays = 14\nratio = 0.5\n'
            'required_tags = ["Owner", "CostCenter"]\nrules = { SG-DLQ-001 = false }')
    assert f"```toml\n{toml}\n```" in render_page(rule, "queue_has_dlq", [fixture])


def test_strip_test_metadata_keeps_everything_else():
    text = (
        "# why\nMetadata:\n  Owner: team\n  stackgrade-test:\n    offending: [A]\n\n    config: {x: 1}\n"
        "  Other: {y: 2}\nResources:\n  A: {Type: AWS::SQS::Queue}\n"
    )
    assert strip_test_metadata(text) == (
        "# why\nMetadata:\n  Owner: team\n  Other: {y: 2}\nResources:\n  A: {Type: AWS::SQS::Queue}"
    )
    only_test = "Metadata:\n  stackgrade-test:\n    offending: [A]\nResources: {}\n"
    assert strip_test_metadata(only_test) == "Resources: {}"
    assert strip_test_metadata("Metadata: {stackgrade-test: {offending: [A]}}\nResources: {}\n") == "Resources: {}"


def test_check_reports_missing_stale_and_extra_files_and_write_fixes_them(tmp_path, capsys):
    assert main(["--check", "--docs-dir", str(tmp_path)]) == 1
    assert "missing:" in capsys.readouterr().out
    assert main(["--docs-dir", str(tmp_path)]) == 0
    assert main(["--check", "--docs-dir", str(tmp_path)]) == 0
    (tmp_path / "rules" / "SG-DLQ-001.md").write_text("edited by hand\n")
    (tmp_path / "rules" / "SG-OLD-001.md").write_text("a removed rule\n")
    capsys.readouterr()
    assert main(["--check", "--docs-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "stale:" in out and "SG-DLQ-001.md" in out and "extra:" in out and "SG-OLD-001.md" in out
    assert "nox -s docs" in out
    assert main(["--docs-dir", str(tmp_path)]) == 0
    assert not (tmp_path / "rules" / "SG-OLD-001.md").exists()
    assert main(["--check", "--docs-dir", str(tmp_path)]) == 0
