"""Sequence-level knowledge distillation (Kim & Rush 2016): a teacher's translations as targets.

The teacher is a bundle, translated through our own runtime (onnxruntime, beam search):
each distinct English sentence of the training split gets the teacher's best
hypothesis, which becomes its training target (with `keep_references`, an extra target
beside the corpus's own). Dev and test keep the corpus's references, so a student is
scored against people, not against its teacher. The translations are cached in the run
folder (`distilled.tsv`, with the teacher's checksums and the search settings in
`distilled.json`), so a resumed run reads them instead of translating again.
"""

from __future__ import annotations

import json
from pathlib import Path

from s2s_batch.runtime.manifest import load_manifest
from s2s_batch.runtime.output import atomic_write
from s2s_batch.runtime.tokenize import tokenize
from s2s_batch.runtime.translator import Translator
from s2s_batch.train.data import split_of

CACHE, CACHE_KEY = "distilled.tsv", "distilled.json"


def teacher_targets(sources: list[str], teacher: Path, beam_size: int, length_penalty: float,
                    cache_dir: Path | None = None, log=print) -> dict[str, str]:
    """The teacher's best translation of each distinct source sentence."""
    manifest = load_manifest(teacher)
    key = {"teacher": manifest.files, "beam_size": beam_size, "length_penalty": length_penalty}
    distinct = list(dict.fromkeys(sources))
    if cache_dir is not None and (cache_dir / CACHE).is_file() and (cache_dir / CACHE_KEY).is_file():
        if json.loads((cache_dir / CACHE_KEY).read_text(encoding="utf-8")) == key:
            lines = (cache_dir / CACHE).read_text(encoding="utf-8").split("\n")[:-1]
            cached = dict(line.split("\t", 1) for line in lines)
            if all(s in cached for s in distinct):
                log(f"distillation: {len(distinct)} teacher translations read from {cache_dir / CACHE}")
                return cached
    log(f"distillation: translating {len(distinct)} training sentences with {teacher} "
        f"(beam {beam_size}, length penalty {length_penalty})")
    translator = Translator(teacher, split_sentences=False)
    hyps = translator.translate_lines(distinct, beam_size=beam_size, length_penalty=length_penalty)
    targets = dict(zip(distinct, (" ".join(h.split()) for h in hyps)))
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(cache_dir / CACHE) as f:
            f.write("".join(f"{s}\t{t}\n" for s, t in targets.items()).encode("utf-8"))
        with atomic_write(cache_dir / CACHE_KEY) as f:
            f.write(json.dumps(key).encode("utf-8"))
    return targets


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
    distilled = [(en, targets[en]) for en in dict.fromkeys(sources) if targets.get(en)]
    kept = references if keep_references else [p for p in references if not targets.get(p[0])]
    return kept + distilled + held_out
