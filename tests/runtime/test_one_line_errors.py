"""Inputs a careless or hostile user can give end in one line and a documented exit code,
never a traceback: non-finite numbers, huge counts, config values of the wrong type,
JSON that is not JSON, non-string lines, manifests with odd fields."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from s2s_batch.runtime.cli.main import main
from s2s_batch.runtime.translator import Translator


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("I see the dog.\n", encoding="utf-8")
    return path


def _one_line(result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output, result.output


@pytest.mark.parametrize("flags", [
    ["--sampling-topk", "0", "--sampling-temperature", "inf"], ["--max-len-a", "inf"],
    ["--sampling-topk", "0", "--sampling-topp", "nan"], ["--threads", str(10**12)],
    ["--inter-threads", str(10**9)], ["--beam-size", "5000"]])
def test_numbers_out_of_reach(bundle, source, flags):
    result = run("translate", source, "--bundle", bundle(), *flags)
    if "threads" in flags[0]:  # click's own range check: its usage line, then one error line
        assert result.exit_code == 2 and f"Error: Invalid value for '{flags[0]}'" in result.output
        assert "Traceback" not in result.output
    else:
        _one_line(result, 2)


@pytest.mark.parametrize("line", ["beam-size = [1, 2]", "batch-size = 1.5", "bundle = 3", 'device = "tpu"',
                                  "beam-size = 0", "quiet = 1", "length-penalty = true"])
def test_config_values_of_the_wrong_type(bundle, source, tmp_path, line):
    config = tmp_path / "s2s-batch.toml"
    config.write_text(line + "\n", encoding="utf-8")
    result = run("translate", source, "--bundle", bundle(), env={"S2S_CONFIG": str(config)})
    _one_line(result, 2)
    assert "s2s-batch.toml" in result.output


@pytest.mark.parametrize("record", ['{"text": "Hello.", "x": NaN}', '{"text": "Hello.", "x": 1e999999}',
                                    '{"text": "Hello \\ud800"}', "[" * 100_000 + "]" * 100_000])
def test_jsonl_that_is_not_json(bundle, tmp_path, record):
    path = tmp_path / "in.jsonl"
    path.write_text(record + "\n", encoding="utf-8")
    result = run("translate", path, "--bundle", bundle(), "--input-format", "jsonl", "--output-format", "jsonl")
    _one_line(result, 3)
    assert "line 1: not valid JSON" in result.output


@pytest.mark.parametrize("entry", [None, b"I see.", 3])
def test_translate_batch_names_an_entry_that_is_not_a_string(bundle, entry):
    translator = Translator(bundle(), threads=1)
    with pytest.raises(TypeError, match=r"lines\[1\] is (NoneType|bytes|int), not a string"):
        translator.translate_batch(["I see the dog.", entry])


def test_info_reads_a_manifest_whose_free_fields_have_odd_types(bundle, tmp_path):
    root = tmp_path / "b"
    shutil.copytree(bundle(), root)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    manifest.update(recipe=5, metrics="x", exported_with=[1])
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = run("info", "--bundle", root)
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert "trained       None epochs" in result.output


def _cli(args, **kwargs):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "s2s_batch.runtime.cli.main", *map(str, args)], text=True,
                          timeout=120, **kwargs)


def test_stdout_full_or_closed_is_one_line(bundle, source, tmp_path):
    import os
    import stat

    full = tmp_path / "full"
    try:
        os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # what /dev/full is
    except PermissionError:
        pytest.skip("no permission to make a device node here")
    with open(full, "w") as out:
        result = _cli(["translate", source, "--bundle", bundle(), "-q"], stdout=out, stderr=-1)
    assert result.returncode == 6 and result.stderr.count("\n") == 1, result.stderr
    assert "No space left" in result.stderr
    closed = _cli(["translate", source, "--bundle", bundle(), "-q"], stderr=-1,
                  preexec_fn=lambda: os.close(1))
    assert closed.returncode == 6 and "stdout is closed" in closed.stderr and "Traceback" not in closed.stderr


def test_a_closed_or_full_stderr_loses_only_the_messages(bundle, source, tmp_path):
    import os

    out = tmp_path / "out.txt"
    result = _cli(["translate", source, "--bundle", bundle(), "-o", out], preexec_fn=lambda: os.close(2))
    assert result.returncode == 0 and len(out.read_text(encoding="utf-8").splitlines()) == 1
    refused = _cli(["translate", source, "--bundle", bundle(), "-o", tmp_path],
                   preexec_fn=lambda: os.close(2))
    assert refused.returncode == 2  # the exit code still says what happened
