"""BLEU and speed of greedy search and beam search on a held-out split, in one run.

    python bench/decoding.py [--bundle DIR] [--heldout runs/heldout-cased] [--split test]
                             [--beams 2 4 8] [--penalties 0 0.6 1.0] [--baseline DIR]

Reads SPLIT.en and SPLIT.ref* written by bench/heldout.py: with --cased there (the
default folder here), the output is truecased; otherwise (references lowercased and
seed-tokenized) pass --no-truecase. Prints one JSON line per
configuration (sacreBLEU, seed BLEU, sentences/s, speed relative to greedy) and a table.

With --baseline DIR (e.g. the previous default bundle), the greedy search of both bundles
is also timed in turn, round after round, so that their ratio is taken at the same
moments; the last line is then `greedy_speed_vs_baseline=X.XX` (ratio of the medians of
five rounds).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from timing import timed_together  # bench/timing.py, beside this script

from s2s_batch.runtime.bleu import corpus_bleu, mean_seed_bleu
from s2s_batch.runtime.translator import Translator


def read_split(folder: Path, split: str) -> tuple[list[str], list[list[str | None]]]:
    sources = (folder / f"{split}.en").read_text(encoding="utf-8").splitlines()
    refs = [[line or None for line in path.read_text(encoding="utf-8").splitlines()]
            for path in sorted(folder.glob(f"{split}.ref*"), key=lambda p: int(p.suffix[4:]))]
    return sources, refs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--heldout", type=Path, default=Path("runs/heldout-cased"))
    parser.add_argument("--no-truecase", action="store_true",
                        help="write lowercase words (for references from heldout.py without --cased)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--beams", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--penalties", type=float, nargs="+", default=[0.0, 0.6, 1.0])
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another bundle whose greedy speed is timed in turn with this one's")
    args = parser.parse_args()
    sources, refs = read_split(args.heldout, args.split)
    translator = Translator(args.bundle, truecase=not args.no_truecase)
    translator.translate_lines(sources[:64])  # warm-up
    configs = [("greedy", {})] + [(f"beam{k}_lp{a:g}", {"beam_size": k, "length_penalty": a})
                                  for k in args.beams for a in args.penalties]
    rows, greedy_rate = [], None
    for name, options in configs:
        start = time.perf_counter()
        hyps = translator.translate_lines(sources, **options)
        seconds = time.perf_counter() - start
        rate = len(sources) / seconds
        greedy_rate = greedy_rate or rate
        row = {"config": name, "bleu": round(corpus_bleu(hyps, refs).score, 2),
               "seed_bleu": round(mean_seed_bleu(hyps, refs), 4), "sentences": len(sources),
               "sentences_per_s": round(rate, 1), "speed_vs_greedy": round(rate / greedy_rate, 3)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\n{'config':<16}{'BLEU':>8}{'seed BLEU':>11}{'sent/s':>10}{'vs greedy':>11}")
    for r in rows:
        print(f"{r['config']:<16}{r['bleu']:>8.2f}{r['seed_bleu']:>11.4f}{r['sentences_per_s']:>10.1f}"
              f"{r['speed_vs_greedy']:>11.3f}")
    if args.baseline is not None:
        baseline = Translator(args.baseline, truecase=not args.no_truecase)
        measured = timed_together({"bundle": lambda: translator.translate_lines(sources),
                                   "baseline": lambda: baseline.translate_lines(sources)}, repeats=5)
        mine, theirs = (len(sources) / measured[name][0] for name in ("bundle", "baseline"))
        print(f"\ngreedy sentences/s, {len(sources)} sentences, alternating rounds: this bundle "
              f"{mine:.1f}, baseline {args.baseline} {theirs:.1f}")
        print(f"greedy_speed_vs_baseline={mine / theirs:.2f}")


if __name__ == "__main__":
    main()
