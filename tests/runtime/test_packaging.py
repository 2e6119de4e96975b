"""What a user reads about the package: metadata, extras, versions, completion, and the
figures the README quotes from the shipped bundle's manifest."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from click.testing import CliRunner

from s2s_batch.runtime.bundle.manifest import load_manifest
from s2s_batch.runtime.cli.main import main
from s2s_batch.runtime.translator import default_bundle_dir

ROOT = Path(__file__).resolve().parents[2]


def test_the_metadata_and_extras_hang_together():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["authors"] and len(project["classifiers"]) >= 8 and project["keywords"]
    extras = project["optional-dependencies"]
    assert "gpu" not in extras and "spm" not in extras  # a swap, not an extra; sentencepiece is core
    assert any(d.startswith("sentencepiece") for d in project["dependencies"])
    pin = re.search(r"pip install torch==([\d.]+)", (ROOT / "README.md").read_text()).group(1)
    torch = next(d for d in extras["train"] if d.startswith("torch"))
    assert torch == f"torch>={pin.rsplit('.', 1)[0]}"  # the README's pin satisfies it, no older torch
    readme = (ROOT / "README.md").read_text() + "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    assert "pip install s2s-batch" not in readme and "s2s-batch[" not in readme  # not on PyPI: from a clone


def test_every_command_has_a_version_and_completes():
    runner = CliRunner()
    assert re.match(r"s2s-batch, version \S+", runner.invoke(main, ["--version"], prog_name="s2s-batch").output)
    completed = runner.invoke(main, [], prog_name="s2s-batch",
                              env={"_S2S_BATCH_COMPLETE": "bash_complete", "COMP_WORDS": "s2s-batch tr",
                                   "COMP_CWORD": "1"})
    assert completed.output.strip() == "plain,translate"
    script = runner.invoke(main, [], prog_name="s2s-batch", env={"_S2S_BATCH_COMPLETE": "bash_source"}).output
    assert "_s2s_batch_completion" in script
    assert "_S2S_BATCH_COMPLETE=bash_source s2s-batch" in (ROOT / "docs" / "cli.md").read_text()


def test_the_readme_quotes_the_manifests_dev_bleu():
    dev_bleu = load_manifest(default_bundle_dir()).data["metrics"]["dev_bleu"]
    assert f"dev BLEU {dev_bleu}" in (ROOT / "README.md").read_text()
    info = CliRunner().invoke(main, ["info"])
    assert f"dev BLEU      {dev_bleu}" in info.output
