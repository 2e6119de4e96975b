"""Issue 9's comparison: each training strategy against the plain recipe, same update budget.

Every configuration trains the default preset for the same number of translation updates
(`--epochs`, default 1: 1,232 updates of 128 pairs on the full training split), then its
best checkpoint is exported and scored on the whole held-out test split (lowercased,
seed-tokenized references from bench/heldout.py without --cased; so translate --no-truecase).
Language-model pretraining adds its own updates before those; their time is reported.

    python bench/heldout.py --data ../shared/data/fra-eng/fra.txt --out runs/heldout
    python bench/strategies.py --data ../shared/data/fra-eng/fra.txt --out runs/strategies

A configuration whose result.json exists is skipped, so an interrupted run resumes.
Prints one JSON line per configuration and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

CONFIGS: dict[str, list[str]] = {
    "plain": [],
    "curriculum length": ["--curriculum", "length"],
    "curriculum rarity": ["--curriculum", "rarity"],
    "adversarial 1.0": ["--adversarial", "1.0"],
    "pretrain decoder+encoder LM": ["--pretrain-decoder-lm", "--pretrain-encoder-lm"],
}


def run(cmd: list[str], log: Path) -> float:
    """Run a command with its output appended to `log`; returns its wall seconds."""
    t0 = time.perf_counter()
    with log.open("a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - t0


def evaluate(run_dir: Path, heldout: Path, log: Path) -> dict:
    """Export best.pt and score greedy translations of the whole test split."""
    bundle, hyp = run_dir / "bundle", run_dir / "test.hyp"
    run(["s2s-export", str(run_dir / "best.pt"), "-o", str(bundle)], log)
    run(["s2s-batch", "translate", str(heldout / "test.en"), "-o", str(hyp), "--bundle",
         str(bundle), "--quiet", "--no-truecase"], log)
    refs = sorted(heldout.glob("test.ref*"), key=lambda p: int(p.suffix[4:]))
    out = subprocess.run(["s2s-batch", "evaluate", str(hyp), "--json"]
                         + [a for r in refs for a in ("--ref", str(r))],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--out", default=Path("runs/strategies"), type=Path)
    parser.add_argument("--heldout", default=Path("runs/heldout"), type=Path)
    parser.add_argument("--epochs", default=1, type=int)
    parser.add_argument("--curriculum-steps", default=800, type=int,
                        help="updates until the curriculum admits every pair")
    parser.add_argument("--threads", default=2, type=int)
    parser.add_argument("--only", action="append", help="run only these configurations")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=FLAGS",
                        help='another configuration, e.g. "best=--curriculum length --adversarial 1"')
    args = parser.parse_args()
    configs = dict(CONFIGS)
    for spec in args.extra:
        name, _, flags = spec.partition("=")
        configs[name] = flags.split()
    rows = []
    for name, flags in configs.items():
        if args.only and name not in args.only:
            continue
        run_dir = args.out / name.replace(" ", "-").replace("+", "-")
        result_path = run_dir / "result.json"
        if not result_path.is_file():
            run_dir.mkdir(parents=True, exist_ok=True)
            log = run_dir / "log.txt"
            cmd = ["s2s-train", "--data", str(args.data), "--out", str(run_dir), "--epochs",
                   str(args.epochs), "--threads", str(args.threads), "--quiet",
                   "--curriculum-steps", str(args.curriculum_steps), *flags]
            seconds = run(cmd, log)
            metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
            best = max(metrics, key=lambda m: m["dev_bleu"])
            scores = evaluate(run_dir, args.heldout, log)
            result = {"config": name, "flags": " ".join(flags), "epochs": args.epochs,
                      "train_seconds": round(seconds, 1),
                      "epoch_seconds": round(sum(m["seconds"] for m in metrics), 1),
                      "dev_bleu": best["dev_bleu"], "best_epoch": best["epoch"],
                      "test_bleu": round(scores["bleu"], 2), "test_chrf": round(scores["chrf"], 2)}
            result_path.write_text(json.dumps(result) + "\n")
        result = json.loads(result_path.read_text())
        print(json.dumps(result), flush=True)
        rows.append(result)
    print("\n| configuration | flags | train time (s, all stages) | dev BLEU | test BLEU | test chrF2 |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['config']} | `{r['flags'] or '-'}` | {r['train_seconds']:.0f} | "
              f"{r['dev_bleu']:.2f} | {r['test_bleu']:.2f} | {r['test_chrf']:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
