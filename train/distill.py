"""Sequence-level knowledge distillation (Kim & Rush 2016): a teacher's translations as targets.

The teacher is a bundle, translated through our own runtime (onnxruntime, beam search):
each distinct English sentence of the training split gets the teacher's best
hypothesis, which becomes its training target (with `keep_references`, an extra target
beside the corpus's own). Dev and test keep the corpus's references, so a student is
scored against people, not against its teacher. The translations are kept in the run
folder (`distilled.txt`, line for line with `distill-sources.txt`; the teacher's
checksums and the search settings in `distilled.json`), written chunk by chunk as a
resumable job, so a run cut off while translating continues where it stopped, and a
resumed run reads them instead of translating again.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

from s2s_batch.runtime.manifest import load_manifest
from s2s_batch.runtime.output import atomic_write
from s2s_batch.runtime.tokenize import tokenize
from s2s_batch.runtime.translator import Translator
from s2s_batch.train.data import split_of

# The distinct training sources, the teacher's translations line for line, and what made them.
SOURCES, CACHE, CACHE_KEY = "distill-sources.txt", "distilled.txt", "distilled.json"
CHUNK_LINES = 2000  # the teacher's translations are saved (and resumable) this many at a time


def _one_line(text: str) -> str:
    """The text with its whitespace runs as single spaces: a sentence stays one line of
    the teacher's input file, and the key it is looked up by."""
    return " ".join(text.split())


def teacher_targets(sources: list[str], teacher: Path, beam_size: int, length_penalty: float,
                    cache_dir: Path | None = None, log=print) -> dict[str, str]:
    """The teacher's best translation of each distinct source sentence.

    The sentences are translated as a resumable file job (Translator.translate_file with
    resume): a run cut off while translating continues after its last saved chunk, and a
    finished translation is read back instead of translated again, as long as the
    teacher's files and the search settings are the same.
    """
    manifest = load_manifest(teacher)
    key = {"teacher": manifest.files, "beam_size": beam_size, "length_penalty": length_penalty,
           "length_penalty_type": "power"}
    distinct = list(dict.fromkeys(_one_line(s) for s in sources))
    with contextlib.ExitStack() as stack:
        work = cache_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="s2s-distill-")))
        work.mkdir(parents=True, exist_ok=True)
        src, dst, key_file = work / SOURCES, work / CACHE, work / CACHE_KEY
        text = "".join(line + "\n" for line in distinct)
        if not (key_file.is_file() and json.loads(key_file.read_text(encoding="utf-8")) == key
                and src.is_file() and src.read_text(encoding="utf-8") == text):
            dst.unlink(missing_ok=True)
            with atomic_write(src) as f:
                f.write(text.encode("utf-8"))
            with atomic_write(key_file) as f:
                f.write(json.dumps(key).encode("utf-8"))
        if dst.is_file():
            log(f"distillation: {len(distinct)} teacher translations read from {dst}")
        else:
            log(f"distillation: translating {len(distinct)} training sentences with {teacher} "
                f"(beam {beam_size}, length penalty {length_penalty}), saved to {dst} every "
                f"{CHUNK_LINES} lines")
            with Translator(teacher, split_sentences=False) as translator:
                translator.translate_file(src, dst, resume=True, chunk_lines=CHUNK_LINES,
                                          beam_size=beam_size, length_penalty=length_penalty)
        targets = dst.read_text(encoding="utf-8").split("\n")[:-1]
    return dict(zip(distinct, map(_one_line, targets)))


def distilled_corpus(raw: list[tuple[str, str]], teacher: Path, dev_permille: int, test_permille: int,
                     beam_size: int = 4, length_penalty: float = 1.0, keep_references: bool = False,
                     cache_dir: Path | None = None, log=print) -> list[tuple[str, str]]:
    """`raw` with the training split's targets replaced by the teacher's translations (one
    pair per distinct English sentence; with keep_references, added after the corpus's
    own pairs). Dev and test pairs are left as they are. Sources the teacher leaves empty
    keep their references."""
    in_train = [split_of(tokenize(en), dev_permille, test_permille) == "train" for en, _ in raw]
    sources = [en for (en, _), train in zip(raw, in_train) if train]
    targets = teacher_targets(sources, Path(teacher), beam_size, length_penalty, cache_dir, log)
    held_out = [pair for pair, train in zip(raw, in_train) if not train]
    references = [pair for pair, train in zip(raw, in_train) if train]
    distilled = [(en, targets[key]) for en in dict.fromkeys(sources)
                 if targets.get(key := _one_line(en))]
    kept = references if keep_references else [p for p in references
                                                if not targets.get(_one_line(p[0]))]
    return kept + distilled + held_out
