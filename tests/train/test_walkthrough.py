"""docs/training.md's five-minute walkthrough runs as written: its commands, with the
corpus swapped for the toy one and the run shortened, in a temporary folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = "../shared/data/fra-eng/fra.txt"


def walkthrough_commands() -> list[str]:
    """The bash block under the walkthrough's heading, a command per line."""
    text = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    section = text[text.index("## Five minutes"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def shortened(command: str, corpus: Path, runs: Path) -> str:
    """The command on the toy corpus, writing under `runs`, with a tiny short run."""
    command = command.replace(CORPUS, str(corpus)).replace("runs/", f"{runs}/")
    command = re.sub(r"--max-pairs \d+", "--max-pairs 400", command)
    command = re.sub(r"--epochs \d+", "--epochs 1", command)
    command = re.sub(r"--hidden-size \d+ --embed-size \d+", "--hidden-size 16 --embed-size 8", command)
    return command


def test_the_walkthrough_runs_as_written(tmp_path):
    from tests.toy import toy_corpus_text

    corpus = tmp_path / "toy.txt"
    corpus.write_text(toy_corpus_text(), encoding="utf-8")
    commands = walkthrough_commands()
    assert [c.split()[0] for c in commands] == ["s2s-train", "s2s-export", "python", "s2s-batch", "s2s-batch"]
    bin_dir = str(Path(sys.executable).parent)  # the console scripts of this environment
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    for command in commands:
        line = shortened(command, corpus, tmp_path).replace("python ", f"{sys.executable} ", 1)
        run = subprocess.run(["bash", "-c", line], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, (command, run.stderr[-2000:])
    test_lines = (tmp_path / "walk-heldout" / "test.en").read_text().splitlines()
    assert len((tmp_path / "walk-test.fr").read_text().splitlines()) == len(test_lines) > 0
    assert "BLEU = " in run.stdout  # the last command scored the translations
