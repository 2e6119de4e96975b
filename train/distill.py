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

from sacrebleu.metrics import BLEU

from s2s_batch.runtime.bundle.ensemble import check_members
from s2s_batch.runtime.bundle.manifest import load_manifest
from s2s_batch.runtime.bundle.tokens import tokenize
from s2s_batch.runtime.files.job import read_nbest
from s2s_batch.runtime.files.output import atomic_write, discard_unfinished, lines_saved
from s2s_batch.runtime.translator import Translator
from s2s_batch.train.config import DISTILL_SELECTIONS, check_choice
from s2s_batch.train.data import split_of

# The distinct training sources, the teacher's translations line for line, and what made them.
SOURCES, CACHE, CACHE_KEY = "distill-sources.txt", "distilled.txt", "distilled.json"
CACHE_NBEST = "distilled.nbest"  # the teacher's n-best lists instead, for select="closest"
CHUNK_LINES = 2000  # the teacher's translations are saved (and resumable) this many at a time
_SENTENCE_BLEU = BLEU(effective_order=True)


def _one_line(text: str) -> str:
    """The text with its whitespace runs as single spaces: a sentence stays one line of
    the teacher's input file, and the key it is looked up by."""
    return " ".join(text.split())


def teacher_bundles(distill_from: str) -> list[Path]:
    """The bundle folders of --distill-from: one, or several separated by commas (an
    ensemble teacher, the first one's tables serving)."""
    paths = [Path(part.strip()) for part in distill_from.split(",") if part.strip()]
    if not paths:
        raise ValueError(f"--distill-from {distill_from!r}: name a teacher bundle folder")
    return paths


def teacher_targets(sources: list[str], teacher: Path | list[Path], beam_size: int, length_penalty: float,
                    cache_dir: Path | None = None, log=print,
                    references: dict[str, list[str]] | None = None) -> dict[str, str]:
    """The teacher's translation of each distinct source sentence: its best hypothesis, or
    with `references` (source → its reference translations), the one of its n-best list
    (beam_size hypotheses) closest to them (see closest_hypothesis). `teacher` is a bundle
    folder, or a list of them decoded as one ensemble (runtime/bundle/ensemble.py).

    The sentences are translated as a resumable file job (Translator.translate_file with
    resume): a run cut off while translating continues after its last saved chunk, and a
    finished translation is read back instead of translated again, as long as the
    teacher's files and the search settings are the same.
    """
    members = [Path(teacher)] if isinstance(teacher, (str, Path)) else [Path(t) for t in teacher]
    manifests = [load_manifest(member) for member in members]
    check_members(manifests, option="--distill-from")  # before any cache file is written
    files = [manifest.files for manifest in manifests]
    n_best = beam_size if references is not None else 1
    key = {"teacher": files[0] if len(files) == 1 else files, "beam_size": beam_size, "length_penalty": length_penalty,
           "length_penalty_type": "power", **({"num_hypotheses": n_best} if n_best > 1 else {})}
    distinct = list(dict.fromkeys(_one_line(s) for s in sources))
    with contextlib.ExitStack() as stack:
        work = cache_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="s2s-distill-")))
        work.mkdir(parents=True, exist_ok=True)
        src, key_file = work / SOURCES, work / CACHE_KEY
        dst = work / (CACHE if n_best == 1 else CACHE_NBEST)
        text = "".join(line + "\n" for line in distinct)
        if not (key_file.is_file() and json.loads(key_file.read_text(encoding="utf-8")) == key
                and src.is_file() and src.read_text(encoding="utf-8") == text):
            dst.unlink(missing_ok=True)
            discard_unfinished(dst)  # another teacher's or sentences' partial pass
            with atomic_write(src) as f:
                f.write(text.encode("utf-8"))
            with atomic_write(key_file) as f:
                f.write(json.dumps(key).encode("utf-8"))
        if dst.is_file():
            log(f"distillation: {len(distinct)} teacher translations read from {dst}")
        else:
            done = lines_saved(dst)
            log(f"distillation: {f'resuming after {done} of ' if done else 'translating '}"
                f"{len(distinct)} training sentences with {' + '.join(map(str, members))} "
                f"(beam {beam_size}, length penalty {length_penalty}), saved to {dst} every "
                f"{CHUNK_LINES} lines")
            nbest = {"num_hypotheses": n_best, "output_format": "nbest"} if n_best > 1 else {}
            with Translator(members[0], ensemble=members[1:], split_sentences=False) as translator:
                translator.translate_file(src, dst, resume=True, chunk_lines=CHUNK_LINES,
                                          beam_size=beam_size, length_penalty=length_penalty, **nbest)
        translated = dst.read_text(encoding="utf-8")
    if n_best == 1:
        return dict(zip(distinct, map(_one_line, translated.split("\n")[:-1])))
    hypotheses = read_nbest(translated, len(distinct))
    return {line: closest_hypothesis(hyps, references.get(line, [])) for line, hyps in zip(distinct, hypotheses)}


def closest_hypothesis(hypotheses: list[str], references: list[str]) -> str:
    """The hypothesis with the highest sentence BLEU (sacreBLEU, 13a, exp smoothing) against
    the references, the earlier (the teacher's preferred) one on a tie: Kim & Rush's
    Seq-Inter, a target both near the people's translations and within the teacher's beam.
    The first hypothesis when there are no references."""
    hypotheses = [h for h in hypotheses if h] or [""]
    if not references or len(hypotheses) == 1:
        return hypotheses[0]
    scores = [_SENTENCE_BLEU.sentence_score(h, references).score for h in hypotheses]
    return hypotheses[scores.index(max(scores))]


def distilled_corpus(raw: list[tuple[str, str]], teacher: Path | list[Path], dev_permille: int, test_permille: int,
                     beam_size: int = 4, length_penalty: float = 1.0, keep_references: bool = False,
                     cache_dir: Path | None = None, log=print, select: str = "best") -> list[tuple[str, str]]:
    """`raw` with the training split's targets replaced by the teacher's translations (one
    pair per distinct English sentence; with keep_references, added after the corpus's
    own pairs). `select`: "best", the teacher's best hypothesis (Seq-KD), or "closest",
    the one of its n-best list nearest the sentence's references (Seq-Inter). Dev and test
    pairs are left as they are. Sources the teacher leaves empty keep their references."""
    check_choice("distill_select", select, DISTILL_SELECTIONS)
    in_train = [split_of(tokenize(en), dev_permille, test_permille) == "train" for en, _ in raw]
    sources = [en for (en, _), train in zip(raw, in_train) if train]
    reference_texts: dict[str, list[str]] | None = None  # per source, for select="closest"
    if select == "closest":
        reference_texts = {}
        for (en, fr), train in zip(raw, in_train):
            if train:
                reference_texts.setdefault(_one_line(en), []).append(fr.strip())
    targets = teacher_targets(sources, teacher, beam_size, length_penalty, cache_dir, log,
                              reference_texts)
    held_out = [pair for pair, train in zip(raw, in_train) if not train]
    references = [pair for pair, train in zip(raw, in_train) if train]
    distilled = [(en, targets[key]) for en in dict.fromkeys(sources)
                 if targets.get(key := _one_line(en))]
    kept = references if keep_references else [p for p in references
                                                if not targets.get(_one_line(p[0]))]
    return kept + distilled + held_out
