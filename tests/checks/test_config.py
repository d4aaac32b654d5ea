"""stackgrade settings: defaults, where they are read from, and errors that name the file and the key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from checks.config import (
    DEFAULT_REQUIRED_OUTPUT_TYPES,
    DEFAULT_WILDCARD_RESOURCE_ACTIONS,
    ConfigError,
    GateSettings,
    StackgradeConfig,
    SuppressionSetting,
    Thresholds,
    load_config,
    parse_config,
)


def test_defaults():
    config = StackgradeConfig()
    assert config.environment_suffix is None
    assert config.required_tags == ()
    assert config.required_output_types == DEFAULT_REQUIRED_OUTPUT_TYPES
    assert "AWS::SQS::Queue" in config.required_output_types
    assert config.iam_wildcard_resource_actions == DEFAULT_WILDCARD_RESOURCE_ACTIONS
    assert "xray:PutTraceSegments" in config.iam_wildcard_resource_actions
    assert config.rules == {}
    assert config.thresholds == Thresholds(
        dlq_min_retention_days=14, max_receive_count_min=1, max_receive_count_max=10,
        visibility_timeout_factor=6.0, function_timeout_default_seconds=3, queue_visibility_default_seconds=30,
    )
    assert isinstance(config.thresholds.visibility_timeout_factor, float)


def test_settings_are_frozen():
    config = StackgradeConfig()
    with pytest.raises(ValidationError):
        config.environment_suffix = "prod"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.thresholds.max_receive_count_max = 3  # type: ignore[misc]


def test_enabled():
    config = parse_config({"rules": {"SG-DLQ-001": False, "SG-LOG-001": True}})
    assert config.enabled("SG-DLQ-001") is False
    assert config.enabled("SG-LOG-001") is True
    assert config.enabled("SG-ALM-001") is True  # not mentioned: on
    assert StackgradeConfig().enabled("SG-DLQ-001") is True


def test_no_settings_file_gives_defaults(tmp_path):
    assert load_config(tmp_path) == StackgradeConfig()


def test_load_config_defaults_to_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "stackgrade.toml").write_text('environment_suffix = "cwd"\n')
    monkeypatch.chdir(tmp_path)
    assert load_config().environment_suffix == "cwd"


def test_pyproject_table(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n'
        "[tool.stackgrade]\n"
        'environment_suffix = "qa7"\n'
        'required_tags = ["Project", "Environment"]\n'
        'rules = { "SG-DLQ-001" = false }\n\n'
        "[tool.stackgrade.thresholds]\n"
        "max_receive_count_max = 5\n"
        "visibility_timeout_factor = 3\n"
    )
    config = load_config(str(tmp_path))
    assert config.environment_suffix == "qa7"
    assert config.required_tags == ("Project", "Environment")
    assert config.rules == {"SG-DLQ-001": False}
    assert config.thresholds.max_receive_count_max == 5
    assert config.thresholds.visibility_timeout_factor == 3.0
    assert config.thresholds.dlq_min_retention_days == 14  # untouched keys keep their defaults
    assert config.required_output_types == DEFAULT_REQUIRED_OUTPUT_TYPES


def test_stackgrade_toml_wins_over_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.stackgrade]\nenvironment_suffix = "from-pyproject"\n')
    (tmp_path / "stackgrade.toml").write_text('environment_suffix = "from-stackgrade"\nrequired_tags = ["Owner"]\n')
    config = load_config(tmp_path)
    assert config.environment_suffix == "from-stackgrade"
    assert config.required_tags == ("Owner",)


def test_empty_stackgrade_toml_still_wins(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.stackgrade]\nenvironment_suffix = "from-pyproject"\n')
    (tmp_path / "stackgrade.toml").write_text("# nothing set\n")
    assert load_config(tmp_path) == StackgradeConfig()


@pytest.mark.parametrize("text", [
    "",
    '[project]\nname = "app"\n',
    "[tool.black]\nline-length = 100\n",
    "[tool.stackgrade]\n",
])
def test_pyproject_without_settings_gives_defaults(tmp_path, text):
    (tmp_path / "pyproject.toml").write_text(text)
    assert load_config(tmp_path) == StackgradeConfig()


@pytest.mark.parametrize(("text", "problem"), [
    ('rulez = { "SG-DLQ-001" = false }\n', "rulez: Extra inputs are not permitted"),
    ("[thresholds]\nmax_receive = 3\n", "thresholds.max_receive: Extra inputs are not permitted"),
    ('[thresholds]\ndlq_min_retention_days = "14"\n', "thresholds.dlq_min_retention_days: Input should be a valid integer"),
    ("[thresholds]\ndlq_min_retention_days = 14.0\n", "thresholds.dlq_min_retention_days: Input should be a valid integer"),
    ("[thresholds]\nmax_receive_count_min = true\n", "thresholds.max_receive_count_min: Input should be a valid integer"),
    ('[thresholds]\nvisibility_timeout_factor = "6"\n', "thresholds.visibility_timeout_factor: Input should be a valid number"),
    ('[rules]\nSG-DLQ-001 = "no"\n', "rules.SG-DLQ-001: Input should be a valid boolean"),
    ("[rules]\nSG-DLQ-001 = 0\n", "rules.SG-DLQ-001: Input should be a valid boolean"),
    ('required_tags = "Project"\n', "required_tags: Input should be a valid tuple"),
    ('required_tags = ["Project", 7]\n', "required_tags.1: Input should be a valid string"),
    ("environment_suffix = 7\n", "environment_suffix: Input should be a valid string"),
    ('thresholds = "strict"\n', "thresholds: Input should be a valid dictionary or instance of Thresholds"),
    ("[thresholds]\ndlq_min_retention_days = 15\n",
     "thresholds.dlq_min_retention_days: Input should be less than or equal to 14"),
    ("[thresholds]\nvisibility_timeout_factor = 0\n",
     "thresholds.visibility_timeout_factor: Input should be greater than 0"),
    ('environment_suffix = "  "\n', "environment_suffix: Value error, must not be blank"),
    ("[thresholds]\nmax_receive_count_min = 5\nmax_receive_count_max = 4\n",
     "thresholds: Value error, max_receive_count_min must not exceed max_receive_count_max"),
])
def test_stackgrade_toml_errors_name_the_file_and_the_key(tmp_path, text, problem):
    (tmp_path / "stackgrade.toml").write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert str(error.value) == f"{tmp_path / 'stackgrade.toml'}: {problem}"


def test_pyproject_errors_name_the_table(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.stackgrade]\nenvironment_suffix = ""\nunknown = 1\n')
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert str(error.value) == (
        f"{tmp_path / 'pyproject.toml'} [tool.stackgrade]: environment_suffix: Value error, must not be blank; "
        "unknown: Extra inputs are not permitted"
    )


@pytest.mark.parametrize("value", ['"on"', "[]", "3"])
def test_pyproject_setting_that_is_not_a_table(tmp_path, value):
    (tmp_path / "pyproject.toml").write_text(f"[tool]\nstackgrade = {value}\n")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert str(error.value) == f"{tmp_path / 'pyproject.toml'} [tool.stackgrade]: must be a table"


@pytest.mark.parametrize("name", ["stackgrade.toml", "pyproject.toml"])
def test_invalid_toml(tmp_path, name):
    (tmp_path / name).write_text("[tool.stackgrade\nenvironment_suffix = 'x'\n")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert str(error.value) == f"{tmp_path / name}: not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 17)"


def test_toml_that_is_not_utf8(tmp_path):
    (tmp_path / "stackgrade.toml").write_bytes(b'environment_suffix = "\xff"\n')
    with pytest.raises(ConfigError, match=r"stackgrade\.toml: not valid TOML: 'utf-8' codec can't decode byte 0xff"):
        load_config(tmp_path)


def test_settings_paths_that_are_not_files_are_skipped(tmp_path):
    (tmp_path / "stackgrade.toml").symlink_to(tmp_path / "stackgrade.toml")  # a loop: is_file() is False
    (tmp_path / "pyproject.toml").mkdir()  # a directory: is_file() is False
    assert load_config(tmp_path) == StackgradeConfig()


def test_settings_file_that_cannot_be_read(tmp_path, monkeypatch):
    path = tmp_path / "stackgrade.toml"
    path.write_text("")

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(path), "read_text", refuse)
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert str(error.value) == f"{path}: cannot read: Permission denied"


def test_parse_config_names_its_origin_and_the_top_level():
    with pytest.raises(ConfigError) as error:
        parse_config(["not", "a", "table"], "fixture.yaml")  # type: ignore[arg-type]
    assert str(error.value) == "fixture.yaml: (top level): Input should be a valid dictionary or instance of StackgradeConfig"
    with pytest.raises(ConfigError) as error:
        parse_config({"environment_suffix": None, "thresholds": {"max_receive_count_max": 0}})
    assert str(error.value) == "settings: thresholds.max_receive_count_max: Input should be greater than or equal to 1"


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


# --- gate and suppressions --------------------------------------------------------------------------


def test_gate_and_suppression_defaults():
    config = StackgradeConfig()
    assert config.gate == GateSettings(min_score=7.0, fail_on=("critical", "high"))
    assert config.suppressions == ()


def test_gate_and_suppressions_from_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.stackgrade.gate]\nmin_score = 8\nfail_on = ["critical"]\n\n'
        '[[tool.stackgrade.suppressions]]\nrule = "CKV_AWS_117"\nresource = "*/Handler*"\n'
        'reason = "functions stay outside a VPC"\n\n'
        '[[tool.stackgrade.suppressions]]\nrule = "AwsSolutions-IAM4"\nstack = "*-dev"\nreason = "   "\n'
    )
    config = load_config(tmp_path)
    assert config.gate.min_score == 8.0 and isinstance(config.gate.min_score, float)
    assert config.gate.fail_on == ("critical",)
    assert config.suppressions == (
        SuppressionSetting(rule="CKV_AWS_117", resource="*/Handler*", stack="*", reason="functions stay outside a VPC"),
        SuppressionSetting(rule="AwsSolutions-IAM4", resource="*", stack="*-dev", reason=None),  # blank: no reason
    )


def test_an_empty_fail_on_gates_on_the_score_alone():
    assert parse_config({"gate": {"fail_on": []}}).gate.fail_on == ()


@pytest.mark.parametrize(("settings", "message"), [
    ({"gate": {"min_score": 10.5}}, "gate.min_score: Input should be less than or equal to 10"),
    ({"gate": {"min_score": -1}}, "gate.min_score: Input should be greater than or equal to 0"),
    ({"gate": {"min_score": "7"}}, "gate.min_score: Input should be a valid number"),
    ({"gate": {"fail_on": ["severe"]}},
     "gate.fail_on.0: Input should be 'critical', 'high', 'medium', 'low' or 'info'"),
    ({"gate": {"fail_on": "high"}}, "gate.fail_on: Input should be a valid tuple"),
    ({"gate": {"fail_on": ["high", "high"]}}, "gate.fail_on: Value error, lists a severity twice"),
    ({"gate": {"min": 7}}, "gate.min: Extra inputs are not permitted"),
    ({"suppressions": [{"resource": "Queue*", "reason": "r"}]}, "suppressions.0.rule: Field required"),
    ({"suppressions": [{"rule": "X", "why": "r"}]}, "suppressions.0.why: Extra inputs are not permitted"),
    ({"suppressions": [{"rule": " "}]}, "suppressions.0.rule: Value error, must not be blank"),
    ({"suppressions": [{"rule": "X", "resource": ""}]}, "suppressions.0.resource: Value error, must not be blank"),
    ({"suppressions": [{"rule": "X", "reason": 3}]}, "suppressions.0.reason: Input should be a valid string"),
    ({"suppressions": {"rule": "X"}}, "suppressions: Input should be a valid tuple"),
])
def test_bad_gate_and_suppression_settings_name_the_key(settings, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(settings, "stackgrade.toml")
    assert str(caught.value).startswith("stackgrade.toml: ")
    assert message in str(caught.value)
