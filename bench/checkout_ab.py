"""This checkout's runtime against an earlier commit's, same bundle, same lines, one run.

For a change that must leave results alone (a refactor): each side translates the same
lines greedy, with beam 4 and with sampling, in its own process, rounds alternating,
and hashes what it returns, part by part (ids, texts, scores, the forced-decoding log-
probabilities of `score_batch`). Prints one JSON line per side and search, then, per
search, whether each part's hashes match and the ratio of best times (new / old; < 1 is
faster).

    python bench/checkout_ab.py --ref f89665d [--input runs/heldout-cased/dev.en]

The earlier commit is checked out with `git worktree` into a temporary folder and
imported from there (its api/ as s2s_batch, its runtime/ as s2s_batch.runtime), with its
own models/ as the bundle: an older runtime cannot read a newer manifest revision (the
graphs were the same bytes across revisions 3 and 4; a commit that changed the bundle
compares bundles too).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEARCHES = {"greedy": {}, "beam4": {"beam_size": 4}, "sample": {"sampling_topk": 10, "seed": 3}}

SIDE = r"""
import hashlib, json, sys, time
from s2s_batch.runtime.translator import Translator
path, search, limit, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
options = json.loads(sys.argv[5])
lines = open(path, encoding="utf-8").read().splitlines()[:limit]
translator = Translator(threads=2)
translator.translate_ids(lines[:50], **options)  # warm up
best = float("inf")
for _ in range(repeats):
    start = time.perf_counter()
    ids = translator.translate_ids(lines, **options)
    best = min(best, time.perf_counter() - start)
results = translator.translate_batch(lines[:300], return_scores=True, **options)
scored = translator.score_batch(lines[:200], [r.best for r in results[:200]])
parts = {"ids": ids, "texts": [r.hypotheses for r in results], "scores": [r.scores for r in results],
         "scored": [s.log_probs for s in scored]}
digest = {k: hashlib.sha256(json.dumps(v).encode()).hexdigest()[:12] for k, v in parts.items()}
print(json.dumps({"seconds": round(best, 4), "digest": digest}))
"""


def old_tree(ref: str, folder: Path) -> Path:
    """A package folder importing `ref`'s runtime as s2s_batch, with its own models."""
    tree = folder / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(tree), ref],
                   check=True, capture_output=True)
    package = folder / "pkg" / "s2s_batch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text((tree / "api" / "__init__.py").read_text())
    (package / "runtime").symlink_to(tree / "runtime")
    (package / "models").symlink_to(tree / "models")
    return folder / "pkg"


def side(pythonpath: str | None, args, search: str) -> dict:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    limit = args.limit if search == "greedy" else args.limit_slow
    out = subprocess.run([sys.executable, "-c", SIDE, args.input, search, str(limit), str(args.repeats),
                          json.dumps(SEARCHES[search])], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", required=True, help="the earlier commit")
    parser.add_argument("--input", default=str(ROOT / "runs/heldout-cased/dev.en"))
    parser.add_argument("--limit", type=int, default=100_000, help="lines for greedy search")
    parser.add_argument("--limit-slow", type=int, default=600, help="lines for beam search and sampling")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per process (the best counts)")
    parser.add_argument("--rounds", type=int, default=2, help="old/new process pairs per search")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="s2s-ab-") as folder:
        pkg = str(old_tree(args.ref, Path(folder)))
        try:
            for search in SEARCHES:
                runs: dict[str, list[dict]] = {"old": [], "new": []}
                for _ in range(args.rounds):
                    for name, path in (("old", pkg), ("new", None)):
                        runs[name].append(side(path, args, search))
                        print(json.dumps({"side": name, "search": search, **runs[name][-1]}), flush=True)
                same = {part: len({r["digest"][part] for r in runs["old"] + runs["new"]}) == 1
                        for part in runs["old"][0]["digest"]}
                ratio = min(r["seconds"] for r in runs["new"]) / min(r["seconds"] for r in runs["old"])
                print(f"{search}: same_results={all(same.values())} "
                      f"({', '.join(f'{k}={v}' for k, v in same.items())}) time_new_over_old={ratio:.3f}", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(Path(folder) / "tree")],
                           capture_output=True)


if __name__ == "__main__":
    main()
