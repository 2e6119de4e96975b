"""Peak RSS of `s2s-batch translate` as the input grows: it should stay flat.

    python bench/memory.py [--bundle DIR] [--sizes 10000 1000000] [--long-line-mb 100]

Each size runs in its own child process; peak RSS is the child's ru_maxrss. The input
repeats the sample sentences (examples/sample.en.txt). With --long-line-mb, also a file
of one line of that many MB (sample words, no sentence end) between two short ones: the
reader keeps 256 bytes per --max-input-length token of it. Prints one JSON line per run
and last: rss_ratio=X.XX (the largest run's peak over the smallest input's).
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
    parser.add_argument("--long-line-mb", type=int, default=0, help="also one line of this many MB (0: no)")
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
        if args.long_line_mb:
            src, dst = Path(tmp) / "long.txt", Path(tmp) / "long.out.txt"
            words = " ".join(sample).replace(".", "").replace("?", "").replace("!", "") + " "
            with src.open("w", encoding="utf-8") as f:
                f.write(sample[0] + "\n")
                for _ in range(args.long_line_mb * (1 << 20) // len(words)):
                    f.write(words)
                f.write("\n" + sample[1] + "\n")
            cmd = [sys.executable, "-m", "s2s_batch.runtime.cli.main", "translate", str(src), "-o",
                   str(dst), "-q", *(["--bundle", str(args.bundle)] if args.bundle else [])]
            rss, seconds = peak_rss_kib(cmd)
            with dst.open("rb") as f:
                assert sum(1 for _ in f) == 3
            row = {"long_line_mb": args.long_line_mb, "peak_rss_mib": round(rss / 1024, 1),
                   "seconds": round(seconds, 1)}
            results.append(row)
            print(json.dumps(row), flush=True)
    print(f"rss_ratio={max(r['peak_rss_mib'] for r in results) / results[0]['peak_rss_mib']:.2f}")


if __name__ == "__main__":
    main()
