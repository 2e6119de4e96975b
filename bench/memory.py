"""Peak RSS of `s2s-batch translate` as the input grows: it should stay flat.

    python bench/memory.py [--bundle DIR] [--sizes 10000 1000000]

Each size runs in its own child process; peak RSS is the child's ru_maxrss. The input
repeats the sample sentences (examples/sample.en.txt). Prints one JSON line per size and
last: rss_ratio=X.XX (largest size over smallest).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_CHILD = ("import resource, subprocess, sys; "
          "code = subprocess.call(sys.argv[1:]); "
          "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")


def peak_rss_kib(args: list[str]) -> tuple[int, float]:
    """Peak RSS (KiB) of a command run in a fresh child, and its wall time."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip().splitlines()[-1]), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    args = parser.parse_args()
    sample = [line for line in (ROOT / "examples" / "sample.en.txt").read_text().splitlines() if line]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            src, dst = Path(tmp) / f"in{size}.txt", Path(tmp) / f"out{size}.txt"
            with src.open("w", encoding="utf-8") as f:
                for i in range(size):
                    f.write(sample[i % len(sample)] + "\n")
            cmd = [sys.executable, "-m", "s2s_batch.runtime.cli.main", "translate", str(src), "-o",
                   str(dst), "-q", *(["--bundle", str(args.bundle)] if args.bundle else [])]
            rss, seconds = peak_rss_kib(cmd)
            with dst.open("rb") as f:
                assert sum(1 for _ in f) == size
            row = {"lines": size, "peak_rss_mib": round(rss / 1024, 1), "seconds": round(seconds, 1),
                   "sentences_per_s": round(size / seconds)}
            results.append(row)
            print(json.dumps(row), flush=True)
    print(f"rss_ratio={results[-1]['peak_rss_mib'] / results[0]['peak_rss_mib']:.2f}")


if __name__ == "__main__":
    main()
