"""Write a held-out split as files: English sources and line-aligned French references.

    python bench/heldout.py --data ../shared/data/fra-eng/fra.txt --out runs/heldout [--split test]

Writes OUT/SPLIT.en (one distinct English sentence per line, as in the corpus) and
OUT/SPLIT.ref0, .ref1, ... (its translations, normalised as the word-level models wrote
text before truecasing: lowercased, seed-tokenized, then detokenized; an empty line where a
sentence has fewer references). With --cased the references are the corpus's own text,
for the quality issue's metric (sacreBLEU, cased, 13a). The split is the one s2s-train
uses with the default dev/test shares.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s2s_batch.runtime.bleu import references_to_streams
from s2s_batch.train.config import TrainConfig
from s2s_batch.train.data import heldout_texts, read_pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--split", choices=["dev", "test"], default="test")
    parser.add_argument("--limit", type=int, default=0, help="first N sentences (0: all)")
    parser.add_argument("--cased", action="store_true", help="references as the corpus writes them")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"no corpus {args.data}: pass --data with the path of fra.txt")
    defaults = TrainConfig()
    items = heldout_texts(read_pairs(args.data), args.split, defaults.dev_permille, defaults.test_permille,
                          args.cased)[: args.limit or None]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.split}.en").write_text("".join(en + "\n" for en, _ in items), encoding="utf-8")
    for j, stream in enumerate(references_to_streams([refs for _, refs in items])):
        (args.out / f"{args.split}.ref{j}").write_text("".join((r or "") + "\n" for r in stream),
                                                      encoding="utf-8")
    print(f"{len(items)} {args.split} sentences, up to {j + 1} references, in {args.out}")


if __name__ == "__main__":
    main()
