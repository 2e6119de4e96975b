"""How well batching policies share an input between batch streams, without the noise of
two streams timed at once on a shared machine.

    python bench/batch_balance.py [--bundle DIR] [--input FILE] [--streams 2] [--sizes 200 500 1000 2000]

Each batch of each policy is decoded alone on one thread (greedy, best of 3); the streams
are then replayed as the runtime runs them (each takes the next batch, in order, when it
finishes), and the input's sentences/s is its lines over the last stream's finish. Beside
it: the sentences/s if the streams shared the work perfectly. Policies: one batch per
stream (the runtime before 2026-11-30), three per stream, and runtime/batching.py's
stream_batches (the runtime's now).
"""

from __future__ import annotations

import argparse
import heapq
import time
from pathlib import Path

from run import read_input  # bench/run.py, beside this script

from s2s_batch.runtime.batching import DEFAULT_BATCH_SIZE, pad_batch, sorted_batches, stream_batches
from s2s_batch.runtime.search.loop import greedy_decode
from s2s_batch.runtime.translator import Translator, default_bundle_dir

ROOT = Path(__file__).resolve().parents[1]
POLICIES = {
    "one per stream": lambda lengths, size, k: sorted_batches(lengths, max(1, min(size, -(-len(lengths) // k)))),
    "three per stream": lambda lengths, size, k: sorted_batches(lengths,
                                                                max(1, min(size, -(-len(lengths) // (3 * k))))),
    "stream_batches": stream_batches,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--input", type=Path, default=ROOT / "runs" / "heldout-cased" / "test.en")
    parser.add_argument("--streams", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 500, 1000, 2000])
    args = parser.parse_args()
    translator = Translator(args.bundle or default_bundle_dir(), threads=1, split_sentences=False)
    graphs, vocab = translator.graphs, translator.tgt_vocab
    seconds: dict[tuple, float] = {}

    def decode_time(rows: list[list[int]]) -> float:
        key = tuple(map(tuple, rows))
        if key not in seconds:
            src, src_len = pad_batch(rows, translator.src_vocab.pad)
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                greedy_decode(graphs, src, src_len, vocab.bos, vocab.eos, translator.config.max_decode_len,
                              banned=vocab.unk)
                best = min(best, time.perf_counter() - start)
            seconds[key] = best
        return seconds[key]

    print(f"{'lines':>6}  {'policy':<18}{'batches':>8}{'sentences/s':>13}{'if shared perfectly':>21}")
    for n in args.sizes:
        sources = [translator.source_ids(line) for line in read_input(args.input, n)]
        for name, policy in POLICIES.items():
            batches = policy([len(s) for s in sources], DEFAULT_BATCH_SIZE, args.streams)
            times = [decode_time([sources[i] for i in batch]) for batch in batches]
            finish = [0.0] * args.streams
            for t in times:  # the stream that is free first takes the next batch
                heapq.heappush(finish, heapq.heappop(finish) + t)
            print(f"{len(sources):>6}  {name:<18}{len(batches):>8}{len(sources) / max(finish):>13.0f}"
                  f"{len(sources) / (sum(times) / args.streams):>21.0f}", flush=True)


if __name__ == "__main__":
    main()
