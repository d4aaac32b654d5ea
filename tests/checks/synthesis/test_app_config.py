"""Reading cdk.json and parsing the app command, as the CDK CLI would."""

from __future__ import annotations

import json
import os

import pytest

from checks.synthesis.app_config import AppInputError, PythonCommand, python_command, read_app_config


def app(tmp_path, cdk_json, files=("app.py",), context_json=None):
    (tmp_path / "cdk.json").write_text(cdk_json if isinstance(cdk_json, str) else json.dumps(cdk_json))
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    if context_json is not None:
        (tmp_path / "cdk.context.json").write_text(json.dumps(context_json))
    return tmp_path


def test_context_precedence_is_caller_then_cdk_json_then_cdk_context_json(tmp_path):
    config = read_app_config(app(tmp_path, {"app": "python app.py", "context": {"a": "cdk.json", "b": "cdk.json"},
                                            "output": "out"},
                                 context_json={"a": "saved", "c": "saved", "aws:cdk:enable-path-metadata": False}),
                             {"b": "caller"})
    assert config.command == "python app.py" and config.output == "out"
    assert config.context["a"] == "cdk.json" and config.context["b"] == "caller" and config.context["c"] == "saved"
    # Findings point at resources by construct path: path metadata is always on.
    assert config.context["aws:cdk:enable-path-metadata"] is True
    assert config.context["aws:cdk:enable-asset-metadata"] is True


@pytest.mark.parametrize(("cdk_json", "message"), [
    (None, "no cdk.json in"),
    ("{not json", "is not valid JSON"),
    ("[]", "must hold a JSON object"),
    ({"context": {}}, 'has no "app" command'),
    ({"app": "python app.py", "context": []}, '"context" must be a JSON object'),
    ({"app": "cdk.out"}, "grade that directory instead"),
])
def test_unusable_cdk_json_says_what_to_do(tmp_path, cdk_json, message):
    (tmp_path / "cdk.out").mkdir()
    if cdk_json is not None:
        app(tmp_path, cdk_json)
    with pytest.raises(AppInputError, match=message):
        read_app_config(tmp_path)


def test_missing_or_non_directory_app_dir(tmp_path):
    with pytest.raises(AppInputError, match="does not exist"):
        read_app_config(tmp_path / "nope")
    (tmp_path / "file").write_text("")
    with pytest.raises(AppInputError, match="is not a directory"):
        read_app_config(tmp_path / "file")


def test_unreadable_cdk_json(tmp_path):
    (tmp_path / "cdk.json").write_bytes(b"\xff\xfe")
    with pytest.raises(AppInputError, match="cannot read"):
        read_app_config(tmp_path)


@pytest.mark.parametrize(("command", "expected"), [
    ("python app.py", PythonCommand("/py", (), "app.py", False)),
    ("python3 -u -W ignore app.py --stage prod", PythonCommand("/py", ("-u", "-W", "ignore"), "app.py", False,
                                                               ("--stage", "prod"))),
    (".venv/bin/python -m pkg.app -c x=1", PythonCommand("/py", (), "pkg.app", True, ("-c", "x=1"))),
    ("npx ts-node --prefer-ts-exts bin/app.ts", None),
    ("uv run app.py", None),
])
def test_python_commands_are_split_and_others_are_not_python(tmp_path, command, expected):
    config = read_app_config(app(tmp_path, {"app": command}))
    assert python_command(config, "/py") == expected


@pytest.mark.parametrize(("command", "message"), [
    ("python -c 'print(1)'", "runs inline code"),
    ("python -m", "names no module"),
    ("python -u", "names no script"),
    ("python missing.py", "missing.py, which is not a file"),
    ("python 'unclosed", "cannot be parsed"),
])
def test_unusable_python_commands(tmp_path, command, message):
    config = read_app_config(app(tmp_path, {"app": command}))
    with pytest.raises(AppInputError, match=message):
        python_command(config, "/py")


def test_interpreter_is_the_apps_venv_then_the_named_path_then_path_lookup(tmp_path, monkeypatch):
    config = read_app_config(app(tmp_path, {"app": "bin/python3 app.py"}, files=("app.py", "bin/python3")))
    assert python_command(config).interpreter == str(tmp_path / "bin" / "python3")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").write_text("")
    assert python_command(config).interpreter == str(tmp_path / ".venv" / "bin" / "python")

    other = tmp_path / "other"
    other.mkdir()
    bin_dir = tmp_path / "path-bin"
    bin_dir.mkdir()
    (bin_dir / "python3.11").write_text("")
    (bin_dir / "python3.11").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    config = read_app_config(app(other, {"app": "python3.11 app.py"}))
    assert python_command(config).interpreter == str(bin_dir / "python3.11")
    assert python_command(read_app_config(app(other, {"app": f"{os.sep}nowhere/python app.py"})), "/py").interpreter == "/py"


@pytest.mark.parametrize(("command", "message"), [
    ("python9 app.py", "is not on PATH; pass --python"),
    ("venv/bin/python app.py", "does not exist; create it or pass --python"),
])
def test_interpreter_not_found(tmp_path, monkeypatch, command, message):
    monkeypatch.setenv("PATH", str(tmp_path))
    config = read_app_config(app(tmp_path, {"app": command}))
    with pytest.raises(AppInputError, match=message):
        python_command(config)
