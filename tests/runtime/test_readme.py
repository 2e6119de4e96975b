"""The README's Python API examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_python_api_examples_run(tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API"):]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) >= 5  # the constructor and one per function
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec("\n".join(blocks), namespace)  # noqa: S102 - our own README
    results = namespace["results"]
    assert len(results) == 2 and len(results[0].hypotheses) == 2 and len(results[0].scores) == 2
    assert results[1].pieces == 2
    assert namespace["scored"].tokens[-1] == "<eos>"
    assert len((tmp_path / "output.txt").read_text(encoding="utf-8").splitlines()) == 2
