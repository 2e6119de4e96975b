"""The Ray path against the local path on this machine, in one run, on the same input.

    python bench/ray_vs_local.py [--bundle DIR] [--input FILE] [--lines 40000] [--actors 1 2]

Starts a Ray head on 127.0.0.1 (its start-up is not timed), then times, on the same
file: the local run (`Translator.translate_file`, onnxruntime on all CPUs) and Ray runs
with N actors of one onnxruntime thread each (connecting, shipping the bundle, starting
the actors and reading through Ray Data are timed). Every output must be byte-identical
to the local one. Prints one JSON line per configuration and last:
ray_vs_local=X.XX (the best Ray configuration's sentences/s over the local run's).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from s2s_batch.runtime.files.on_ray import translate_file_on_ray
from s2s_batch.runtime.files.options import FileOptions
from s2s_batch.runtime.translator import Translator

ROOT = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).parent / "ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_input(source: Path, lines: int, dst: Path) -> None:
    sentences = [s for s in source.read_text(encoding="utf-8").splitlines() if s.strip()]
    with dst.open("w", encoding="utf-8") as f:
        for i in range(lines):
            f.write(sentences[i % len(sentences)] + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--input", type=Path, default=ROOT / "runs" / "heldout" / "test.en",
                        help="sentences, repeated up to --lines [default: the held-out test split]")
    parser.add_argument("--lines", type=int, default=40_000)
    parser.add_argument("--actors", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--chunk-lines", type=int, default=2_000)
    args = parser.parse_args()
    source = args.input if args.input.is_file() else ROOT / "examples" / "sample.en.txt"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    port = free_port()
    cpus = len(os.sched_getaffinity(0))
    subprocess.run([RAY, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                    "--num-cpus", str(cpus), "--include-dashboard", "false",
                    "--disable-usage-stats"], check=True, capture_output=True, env=env)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "in.txt"
            make_input(source, args.lines, src)
            translator = Translator(args.bundle)
            local = Path(tmp) / "local.txt"
            start = time.perf_counter()
            translator.translate_file(src, local, progress=False, chunk_lines=args.chunk_lines)
            seconds = time.perf_counter() - start
            rows.append({"config": f"local ({translator.inter_threads} batch streams x "
                                   f"{max(1, cpus // translator.inter_threads)} thread)", "lines": args.lines,
                         "seconds": round(seconds, 2), "sentences_per_s": round(args.lines / seconds)})
            print(json.dumps(rows[-1]), flush=True)
            for actors in args.actors:
                out = Path(tmp) / f"ray{actors}.txt"
                start = time.perf_counter()
                translate_file_on_ray(translator, src, out,
                                      FileOptions(progress=False, chunk_lines=args.chunk_lines),
                                      address=f"127.0.0.1:{port}", actors=actors, threads=1)
                seconds = time.perf_counter() - start
                assert out.read_bytes() == local.read_bytes(), "Ray output differs from local"
                rows.append({"config": f"ray, {actors} actors x 1 thread", "lines": args.lines,
                             "seconds": round(seconds, 2),
                             "sentences_per_s": round(args.lines / seconds)})
                print(json.dumps(rows[-1]), flush=True)
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, env=env)
    print("\n| configuration | seconds | sentences/s |\n| --- | ---: | ---: |")
    for row in rows:
        print(f"| {row['config']} | {row['seconds']} | {row['sentences_per_s']:,} |")
    best = max(r["sentences_per_s"] for r in rows[1:])
    print(f"ray_vs_local={best / rows[0]['sentences_per_s']:.2f}")


if __name__ == "__main__":
    main()
