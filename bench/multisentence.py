"""Lines of several sentences: BLEU with and without sentence splitting, and its cost.

    python bench/multisentence.py [--bundle DIR] [--heldout runs/heldout-cased] [--split test]

Groups the split's sentences into lines of 2-4 (seeded, in order), joins their
references the same way (reference k of a line joins reference k of each sentence, or
its first where it has fewer), and scores three systems with sacreBLEU against them:
each sentence on its own line then rejoined in the same groups (the bar), the joined
lines with sentence splitting (the default), and the joined lines read whole
(`split_sentences=False`). Then times the plain split (one sentence per line) with
splitting on and off, best of `--rounds`, to show what splitting costs where there is
nothing to split. Prints JSON lines and a table.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from decoding import read_split  # noqa: E402  (bench/decoding.py)

from s2s_batch.runtime.bleu import corpus_bleu  # noqa: E402
from s2s_batch.runtime.translator import Translator  # noqa: E402


def groups_of(count: int, seed: int = 0) -> list[range]:
    """Consecutive groups of 2-4 sentence indices covering 0..count-1 (the last may be 1)."""
    rng, groups, start = random.Random(seed), [], 0
    while start < count:
        size = rng.randint(2, 4)
        groups.append(range(start, min(start + size, count)))
        start += size
    return groups


def joined_references(refs: list[list[str | None]], groups: list[range]) -> list[list[str]]:
    """Reference streams for the joined lines."""
    streams = []
    for stream in refs:
        streams.append([" ".join(stream[i] if stream[i] is not None else refs[0][i] for i in g)
                        for g in groups])
    return streams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--heldout", type=Path, default=Path("runs/heldout-cased"))
    parser.add_argument("--split", default="test")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not (args.heldout / f"{args.split}.en").is_file():
        raise SystemExit(f"multisentence.py: {args.heldout / args.split}.en not found; run "
                         "python bench/heldout.py --data ../shared/data/fra-eng/fra.txt "
                         f"--out {args.heldout} --cased --split {args.split}")
    sources, refs = read_split(args.heldout, args.split)
    groups = groups_of(len(sources))
    joined_sources = [" ".join(sources[i] for i in g) for g in groups]
    joined_refs = joined_references(refs, groups)
    split_on = Translator(args.bundle)
    split_off = Translator(args.bundle, split_sentences=False)
    one_per_line = split_on.translate_lines(sources)
    systems = {
        "one per line, rejoined": [" ".join(one_per_line[i] for i in g) for g in groups],
        "joined, split (default)": split_on.translate_lines(joined_sources),
        "joined, read whole": split_off.translate_lines(joined_sources),
    }
    rows = []
    for name, hyps in systems.items():
        row = {"system": name, "lines": len(hyps), "bleu": round(corpus_bleu(hyps, joined_refs).score, 2)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    speeds = {}
    for name, translator in (("split on", split_on), ("split off", split_off)):
        best = min(_timed(translator, sources) for _ in range(args.rounds))
        speeds[name] = len(sources) / best
        print(json.dumps({"plain split": name, "sentences_per_s": round(speeds[name], 1)}), flush=True)
    print(f"\n{'system':<26}{'BLEU':>8}")
    for r in rows:
        print(f"{r['system']:<26}{r['bleu']:>8.2f}")
    print(f"\nplain {args.split} split: {speeds['split on']:,.0f} sentences/s with splitting, "
          f"{speeds['split off']:,.0f} without ({speeds['split on'] / speeds['split off']:.3f}x)")


def _timed(translator: Translator, sources: list[str]) -> float:
    start = time.perf_counter()
    translator.translate_lines(sources)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
