"""A file pair scored line for line: each target line's log-probability given its source line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from s2s_batch.runtime.errors import InputError
from s2s_batch.runtime.files.job import open_input, read_lines
from s2s_batch.runtime.files.output import atomic_write

SCORE_FORMATS = ("text", "jsonl")


def read_text_lines(path: str) -> list[str]:
    """A whole text file's lines ('-': stdin), read with the translate command's rules."""
    with open_input(path) as f:
        return list(read_lines(f, path))


def score_files(translator, src_path: str, tgt_path: str, output: str = "-", output_format: str = "text") -> None:
    """Write, for each line of TGT, its log-probability as a translation of the same line
    of SRC (Translator.score_batch: forced decoding): text, one total per line; jsonl, the
    total, the tokens and their log-probabilities. A blank pair scores 0. The output is
    written whole or not at all ('-': stdout)."""
    sources, targets = read_text_lines(src_path), read_text_lines(tgt_path)
    if len(sources) != len(targets):
        raise InputError(f"{src_path} has {len(sources)} lines but {tgt_path} has {len(targets)}; "
                         "give one target line per source line")
    results = translator.score_batch(sources, targets)
    if output_format == "jsonl":
        lines = [json.dumps({"score": round(r.score, 6), "tokens": r.tokens,
                             "log_probs": [round(x, 6) for x in r.log_probs]}, ensure_ascii=False)
                 for r in results]
    else:
        lines = [f"{r.score:.6f}" for r in results]
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    if output == "-":
        sys.stdout.buffer.write(data)
    else:
        with atomic_write(Path(output)) as f:
            f.write(data)
