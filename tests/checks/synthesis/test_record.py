"""The synthesis record: reading it and finding a construct's source line."""

from __future__ import annotations

import pytest

from checks.engines import SYNTH_RECORD
from checks.synthesis import RecordError, read_record, source_of

RECORD = {"cdk_nag": {}, "sources": {"App/Stack": {"file": "app.py", "line": 3},
                                     "App/Stack/Queue": {"file": "stack.py", "line": 12}}}


@pytest.mark.parametrize(("path", "expected"), [
    ("App/Stack/Queue/Resource", ("stack.py", 12)),
    ("/App/Stack/Queue", ("stack.py", 12)),
    ("App/Stack/Api/Deployment/Resource", ("app.py", 3)),
    ("Other/Thing", None),
    (None, None),
])
def test_source_of_takes_the_nearest_recorded_ancestor(path, expected):
    assert source_of(RECORD, path) == expected


def test_source_of_without_a_record():
    assert source_of(None, "App/Stack") is None


def test_read_record(tmp_path):
    assert read_record(tmp_path) is None
    (tmp_path / SYNTH_RECORD).write_text('{"cdk_nag": {"status": "ok"}, "sources": {}}')
    assert read_record(tmp_path)["cdk_nag"] == {"status": "ok"}
    (tmp_path / SYNTH_RECORD).write_text("[1]")
    with pytest.raises(RecordError, match="not a stackgrade synthesis record"):
        read_record(tmp_path)
    (tmp_path / SYNTH_RECORD).write_text("{")
    with pytest.raises(RecordError, match="unreadable"):
        read_record(tmp_path)
