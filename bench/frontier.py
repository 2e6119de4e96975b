"""Quality against speed: test BLEU and sentences/s of each search, for one or more bundles.

    python bench/frontier.py [--bundle NAME=DIR ...] [--heldout runs/heldout-cased]
                             [--split test] [--beams 2 4 8] [--png bench/frontier.png]

For each bundle (default: the shipped one, named "default"): greedy search, greedy with
the vocabulary shortlist (bundles that ship one), and beam search at each width (length
penalty 1.0, the default), at the bundle's own compute type and at each other one it has
(compute_type int8: a line of its own, "NAME int8"). Reads
SPLIT.en and SPLIT.ref* written by bench/heldout.py --cased. Prints one JSON line per
point and a Markdown table, and draws BLEU against sentences/s (log scale) to --png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from decoding import read_split  # bench/decoding.py, beside this script

from s2s_batch.runtime.bleu import corpus_bleu
from s2s_batch.runtime.bundle.manifest import SHORTLIST_FILE, load_manifest
from s2s_batch.runtime.translator import Translator, default_bundle_dir


def points(name: str, bundle: Path, sources: list[str], refs, beams: list[int], compute_type: str = "default"):
    """(bundle name, search, BLEU, sentences/s) of each search on one bundle."""
    searches = [("greedy", {}, {})]
    if SHORTLIST_FILE in load_manifest(bundle).files and compute_type == "default":
        searches.append(("greedy, shortlist", {"shortlist": True}, {}))
    searches += [(f"beam {k}", {}, {"beam_size": k}) for k in beams]
    for search, settings, options in searches:
        translator = Translator(bundle, compute_type=compute_type, **settings)
        translator.translate_lines(sources[:64], **options)  # warm-up
        start = time.perf_counter()
        hyps = translator.translate_lines(sources, **options)
        rate = len(sources) / (time.perf_counter() - start)
        translator.close()
        yield {"bundle": name, "search": search, "bleu": round(corpus_bleu(hyps, refs).score, 2),
               "sentences_per_s": round(rate, 1), "sentences": len(sources)}


def draw(rows: list[dict], path: Path) -> None:
    """BLEU against sentences/s, one line per bundle."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in dict.fromkeys(r["bundle"] for r in rows):
        mine = sorted((r for r in rows if r["bundle"] == name), key=lambda r: r["sentences_per_s"])
        ax.plot([r["sentences_per_s"] for r in mine], [r["bleu"] for r in mine], "o-", label=name)
        for r in mine:
            ax.annotate(r["search"], (r["sentences_per_s"], r["bleu"]), fontsize=7,
                        textcoords="offset points", xytext=(4, 4))
    ax.set_xscale("log")
    ax.set_xlabel("sentences/s (log scale)")
    ax.set_ylabel("test BLEU (sacreBLEU, cased, all references)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", action="append", default=[], metavar="NAME=DIR",
                        help="a bundle to measure, repeatable [default: default=the shipped one]")
    parser.add_argument("--heldout", type=Path, default=Path("runs/heldout-cased"))
    parser.add_argument("--split", default="test")
    parser.add_argument("--beams", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--png", type=Path, default=Path("bench/frontier.png"))
    args = parser.parse_args()
    bundles = dict(b.split("=", 1) for b in args.bundle) or {"default": str(default_bundle_dir())}
    sources, refs = read_split(args.heldout, args.split)
    rows = []
    for name, folder in bundles.items():
        others = [t for t, (graphs, _) in load_manifest(Path(folder)).compute_types.items() if graphs]
        for compute_type in ("default", *others):
            label = name if compute_type == "default" else f"{name} {compute_type}"
            for row in points(label, Path(folder), sources, refs, args.beams, compute_type):
                rows.append(row)
                print(json.dumps(row), flush=True)
    print("\n| bundle | search | BLEU | sentences/s |\n| --- | --- | ---: | ---: |")
    for r in rows:
        print(f"| {r['bundle']} | {r['search']} | {r['bleu']:.2f} | {r['sentences_per_s']:,.1f} |")
    draw(rows, args.png)
    print(f"plot: {args.png}")


if __name__ == "__main__":
    main()
