"""Vocabulary shortlist against the full output layer: agreement, BLEU and speed.

    python bench/shortlist.py --bundle BUNDLE --input runs/heldout/test.en \
        --refs 'runs/heldout/test.ref*' [--sizes 200:50,200:100] [--batch-sizes 8,64,256]

Both sides run greedy search on the same bundle and batches in one process; the
shortlist side chooses among each batch's shortlist (F most frequent target words + the
first k candidates of every source word). Prints one JSON line per (F:k, batch size).
"""

from __future__ import annotations

import argparse
import glob
import json
import time

import numpy as np
import sacrebleu

from s2s_batch.runtime.bundle.shortlist import DEFAULT_FREQUENT, DEFAULT_PER_SOURCE, Shortlist
from s2s_batch.runtime.translator import Translator


def timed(fn, repeats: int):
    """(best seconds of `repeats` runs, the last result), after one untimed warm-up run."""
    result, best = fn(), float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--refs", default=None, help="glob of reference files (for BLEU)")
    parser.add_argument("--sizes", default=f"{DEFAULT_FREQUENT}:{DEFAULT_PER_SOURCE}",
                        help="comma-separated F:k shortlist sizes")
    parser.add_argument("--batch-sizes", default="256")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    lines = open(args.input, encoding="utf-8").read().splitlines()
    refs = [open(p, encoding="utf-8").read().splitlines() for p in sorted(glob.glob(args.refs or ""))]
    streams = [[r or None for r in ref] for ref in refs]

    def bleu(hyps):
        return round(sacrebleu.corpus_bleu(hyps, streams).score, 2) if streams else None

    full = Translator(args.bundle)
    short = Translator(args.bundle, shortlist=True)
    width = full.config.tgt_vocab_size
    rows = [full.source_ids(line) for line in lines]
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        full_s, full_out = timed(lambda size=batch_size: full.translate_lines(lines, max_batch_size=size),
                                 args.repeats)
        for spec in args.sizes.split(","):
            frequent, per_source = (int(x) for x in spec.split(":"))
            short.shortlist = Shortlist(short.shortlist.table, frequent, per_source)
            short_s, short_out = timed(lambda size=batch_size: short.translate_lines(lines, max_batch_size=size),
                                       args.repeats)
            sizes = [len(short.shortlist.candidates(
                np.array([v for i in order[s : s + batch_size] for v in rows[i]]), width))
                for s in range(0, len(order), batch_size)]
            print(json.dumps({
                "batch_size": batch_size, "frequent": frequent, "per_source": per_source,
                "mean_shortlist": round(float(np.mean(sizes))), "vocabulary": width,
                "same_output": round(float(np.mean([a == b for a, b in zip(full_out, short_out)])), 4),
                "bleu_full": bleu(full_out), "bleu_shortlist": bleu(short_out),
                "full_sentences_per_s": round(len(lines) / full_s),
                "shortlist_sentences_per_s": round(len(lines) / short_s),
                "speedup": round(full_s / short_s, 3)}), flush=True)


if __name__ == "__main__":
    main()
