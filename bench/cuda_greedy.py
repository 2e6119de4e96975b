"""Greedy throughput on a CUDA GPU: the runtime against every PyTorch variant on the same
GPU, same weights, same input.

    python bench/cuda_greedy.py --bundle DIR [--fp16 DIR] [--input FILE] [--batch-sizes 256 1024 4096]

Sides, each at every batch size (sentences per batch, length-sorted):
1. runtime_fp32: the runtime on the CUDA provider, its default path: the bundle's decoder
   loop step in fixed shapes, one CUDA graph replay per step (runtime/search/fixed_loop.py);
2. runtime_fp32_bound: the path before it, the branched decoder step with its state bound
   on the GPU (runtime/search/device_loop.py): the baseline of this change;
3. runtime_fp16: side 1 with the fp16 bundle (`s2s-export BUNDLE --device cuda --quantize fp16`);
4. torch_fp32 and torch_bf16_autocast: eager PyTorch batched greedy search under
   torch.inference_mode (fp16 autocast fails on this model: its attention masks with
   -1e9, beyond fp16's range);
5. torch_compile: the decoder step under torch.compile(mode="reduce-overhead"), PyTorch's
   own CUDA graphs, in fixed shapes (rows and source padded as the runtime pads them),
   fp32, reading the finished flags every 8 steps as the runtime does.
Each side's ids are compared with the runtime's on the CPU provider (the exact fp32
result, computed once here), and BLEU is computed when references sit beside the input
(INPUT's SPLIT.ref*). Timings: median of 3 runs after a warm-up, from the text lines to
the ids. Also measured: a decoder step at 1,024 rows (the loop step's graph replay, and
the branched step it replaces), and the host's share of a runtime run (the time outside
the GPU loops). Prints one JSON line per measurement, a table, and last:
`cuda_ratio_vs_torch_best=X.XX cuda_ratio_vs_eager=Y.YY cuda_fp16_ratio_vs_torch_best=...
cuda_fp16_ratio_vs_eager=...` (each side at its best batch size).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from run import read_references  # bench/run.py, beside this script
from timing import timed  # bench/timing.py

from s2s_batch.export.bundle_weights import eager_from_bundle
from s2s_batch.runtime.batching import pad_batch, sorted_batches
from s2s_batch.runtime.bleu import corpus_bleu
from s2s_batch.runtime.bundle.graph_names import TOKENS
from s2s_batch.runtime.bundle.manifest import PRESCORE_INPUT, SHORTLIST_INPUT, load_manifest
from s2s_batch.runtime.search import strategies
from s2s_batch.runtime.search.fixed_loop import CHECK_EVERY, row_bucket, width_bucket
from s2s_batch.runtime.translator import Translator, default_bundle_dir

ROOT = Path(__file__).resolve().parents[1]
STEP_ROWS = 1024


def eager_greedy(net, lines: list[str], source_ids, batch: int, cap: int, bos: int, eos: int, unk: int,
                 pad: int, context) -> list[list[int]]:
    """Eager PyTorch batched greedy search over length-sorted batches (train/predict.py),
    from the text lines (tokenized with `source_ids`, as the runtime's sides are timed)."""
    tokens = [source_ids(line) for line in lines]
    out: list = [[] for _ in tokens]
    with torch.inference_mode(), context():
        for rows in sorted_batches([len(t) for t in tokens], batch):
            found = greedy_batch_ids(net, [tokens[i] for i in rows], cap, bos, eos, unk, pad)
            for i, ids in zip(rows, found):
                out[i] = ids
    return out


def greedy_batch_ids(net, rows: list[list[int]], cap: int, bos: int, eos: int, unk: int, pad: int):
    """train/predict.greedy_batch on source ids (the runtime's) rather than words."""
    device = next(net.parameters()).device
    src, src_len = (torch.from_numpy(a) for a in pad_batch(rows, pad))
    state, memory = net.encode(src.to(device), src_len)
    tokens = torch.full((src.shape[0], 1), bos, dtype=torch.long, device=device)
    finished = torch.zeros(src.shape[0], dtype=torch.bool, device=device)
    steps = []
    for _ in range(cap):
        logits, state = net.decoder(tokens, state, memory)
        logits[..., unk] = -torch.inf
        tokens = logits.argmax(dim=2)
        steps.append(tokens[:, 0])
        finished |= tokens[:, 0] == eos
        if bool(finished.all()):
            break
    return [row[: row.index(eos)] if eos in row else row for row in torch.stack(steps, 1).tolist()]


class CompiledGreedy:
    """Greedy search with the decoder step under torch.compile(mode="reduce-overhead"):
    rows padded to a power of two and the source to the input's longest line, so that
    every batch of one size has one shape (one compilation, one CUDA graph)."""

    def __init__(self, net, width: int, cap: int, bos: int, eos: int, unk: int, pad: int, device: str = "cuda"):
        self.net, self.width, self.cap, self.device = net, width, cap, device
        self.bos, self.eos, self.unk, self.pad = bos, eos, unk, pad
        self.step = torch.compile(self._step, mode="reduce-overhead", dynamic=False)

    def _step(self, tokens, state, memory):
        logits, state = self.net.decoder(tokens.unsqueeze(1), state, memory)
        logits = logits[:, 0]
        logits[:, self.unk] = -torch.inf
        return logits.argmax(-1), state

    def __call__(self, lines: list[str], source_ids, batch: int) -> list[list[int]]:
        tokens = [source_ids(line) for line in lines]
        out: list = [[] for _ in tokens]
        with torch.inference_mode():
            for rows in sorted_batches([len(t) for t in tokens], batch):
                for i, ids in zip(rows, self._batch([tokens[i] for i in rows], row_bucket(batch))):
                    out[i] = ids
        return out

    def _batch(self, rows: list[list[int]], padded_rows: int) -> list[list[int]]:
        real = len(rows)
        rows = rows + [rows[0]] * (padded_rows - real)
        src, src_len = (torch.from_numpy(a) for a in pad_batch(rows, self.pad, self.width))
        state, memory = self.net.encode(src.to(self.device), src_len)
        if self.net.config.attention != "none":  # the memory's source axis, to the fixed width
            memory = tuple(torch.nn.functional.pad(m, (0, 0) * (m.dim() - 2) + (0, self.width - m.shape[1]))
                           for m in memory)
        tokens = torch.full((padded_rows,), self.bos, dtype=torch.long, device=self.device)
        finished = torch.zeros(padded_rows, dtype=torch.bool, device=self.device)
        steps = []
        for t in range(self.cap):
            torch.compiler.cudagraph_mark_step_begin()
            tokens, state = self.step(tokens, state, memory)
            tokens = tokens.clone()
            state = state.clone() if torch.is_tensor(state) else tuple(s.clone() for s in state)
            steps.append(tokens)
            finished |= tokens == self.eos
            if (t + 1) % CHECK_EVERY == 0 and bool(finished.all()):
                break
        ids = torch.stack(steps, 1)[:real].tolist()
        return [row[: row.index(self.eos)] if self.eos in row else row for row in ids]


def step_microseconds(translator: Translator, lines: list[str], device: str, repeats: int = 200) -> dict:
    """µs per decoder step at STEP_ROWS rows: a replay of the loop step's captured graph,
    and one run of the branched decoder step with its state bound on the GPU."""
    graphs = translator.graphs
    translator.translate_ids((lines * (STEP_ROWS // max(len(lines), 1) + 1))[:STEP_ROWS],
                             max_batch_size=STEP_ROWS)  # captures a bucket of STEP_ROWS rows
    loop = translator.fixed_loop
    result = {}
    if loop is not None:
        bucket = max(loop._buckets.values(), key=lambda b: (b.rows == STEP_ROWS, b.rows, b.width))
        start = time.perf_counter()
        for i in range(repeats):
            loop.session.run_with_iobinding(bucket.bindings[i % 2], bucket.run_options[i % 2][i == repeats - 1])
        result["loop_step_us"] = round((time.perf_counter() - start) / repeats * 1e6, 1)
        result["cuda_graph"] = loop.cuda_graph
        result["loop_bucket"] = [bucket.rows, bucket.width, bucket.steps]
    dec = graphs.decoder
    feed = {}
    for i in dec.get_inputs():
        shape = [STEP_ROWS if not isinstance(d, int) and d in ("batch",) else (32 if not isinstance(d, int) else d)
                 for d in i.shape]
        if i.name == TOKENS:
            feed[i.name] = np.full(STEP_ROWS, 2, np.int64)
        elif i.name == PRESCORE_INPUT:
            feed[i.name] = np.array(False)
        elif i.name == SHORTLIST_INPUT:
            feed[i.name] = np.zeros(0, np.int64)
        elif i.type == "tensor(float)":
            feed[i.name] = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 0.1
    binding = dec.io_binding()
    for name, value in feed.items():
        binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(value, device, 0))
    for o in dec.get_outputs():
        binding.bind_output(o.name, device)
    dec.run_with_iobinding(binding)
    start = time.perf_counter()
    for _ in range(repeats // 4):
        dec.run_with_iobinding(binding)
    result["branched_step_us"] = round((time.perf_counter() - start) / (repeats // 4) * 1e6, 1)
    return result


def host_share(translator: Translator, lines: list[str], batch: int, text: bool) -> dict:
    """Sentences/s of a run (translate_batch, text to text, when `text`; else translate_ids)
    and the share of it that the GPU loops (encoder and steps) were not running: the
    host's share."""
    inside = [0.0]

    def timed_call(fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                inside[0] += time.perf_counter() - start
        return wrapper

    if translator.fixed_loop is not None:
        loop = translator.fixed_loop
        original = loop.decode
        loop.decode = timed_call(original)  # type: ignore[method-assign]
        restore = lambda: setattr(loop, "decode", original)  # noqa: E731
    else:
        original = strategies.greedy_decode_on_device
        strategies.greedy_decode_on_device = timed_call(original)
        restore = lambda: setattr(strategies, "greedy_decode_on_device", original)  # noqa: E731
    run = translator.translate_batch if text else translator.translate_ids
    try:
        run(lines, max_batch_size=batch)
        shares, speeds = [], []
        for _ in range(3):
            inside[0] = 0.0
            start = time.perf_counter()
            run(lines, max_batch_size=batch)
            total = time.perf_counter() - start
            shares.append(1 - inside[0] / total)
            speeds.append(len(lines) / total)
    finally:
        restore()
    return {"sentences_per_s": round(float(np.median(speeds)), 1), "host_share": round(float(np.median(shares)), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None, help="fp32 bundle [default: the shipped one]")
    parser.add_argument("--fp16", type=Path, default=None, help="its fp16 export, if any")
    parser.add_argument("--input", type=Path, default=ROOT / "runs" / "heldout-cased" / "test.en")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--compile-batch-sizes", type=int, nargs="*", default=[1024, 4096],
                        help="batch sizes of the torch.compile side (each compiles once)")
    parser.add_argument("--repeat-input", type=int, default=1, help="the input this many times over")
    parser.add_argument("--device", default="cuda", help="cpu: try the script on a machine without a GPU")
    args = parser.parse_args()
    device = args.device
    bundle = args.bundle or default_bundle_dir()
    lines = args.input.read_text(encoding="utf-8").splitlines()
    references = read_references(args.input, len(lines), len(lines))
    lines, references = lines * args.repeat_input, (references * args.repeat_input if references else None)
    cap = load_manifest(bundle).config.max_decode_len
    same = dict(max_decoding_length=cap, split_sentences=False)
    exact_side = Translator(bundle, device="cpu", **same)
    exact = exact_side.translate_ids(lines)
    decode_text = exact_side.tgt_tokenizer.decode
    tgt_vocab, src_vocab = exact_side.tgt_vocab, exact_side.src_vocab
    nonblank = [i for i, line in enumerate(lines) if exact_side.source_ids(line)]
    gpu = torch.cuda.get_device_name() if device == "cuda" else "none"
    print(f"{len(lines)} lines; GPU {gpu}; torch {torch.__version__}; "
          f"onnxruntime {ort.__version__}", flush=True)

    def bleu_of(ids_per_line) -> float | None:
        if references is None:
            return None
        texts = [decode_text(tgt_vocab.decode(ids)) if ids else "" for ids in ids_per_line]
        return round(corpus_bleu(texts, references).score, 2)

    exact_bleu = bleu_of(exact)
    rows = []

    def record(side: str, batch: int, fn, **extra) -> None:
        try:
            seconds, out = timed(fn, 3)
        except Exception as exc:  # a side that does not run here (a provider, a dtype)
            print(json.dumps({"side": side, "batch_size": batch, "error": f"{type(exc).__name__}: {exc}"[:400]}),
                  flush=True)
            return
        agree = sum(out[i] == exact[i] for i in nonblank) / max(len(nonblank), 1)
        row = {"side": side, "batch_size": batch, "sentences_per_s": round(len(lines) / seconds, 1),
               "lines_equal": round(agree, 4), "bleu": exact_bleu if agree == 1.0 else bleu_of(out), **extra}
        rows.append(row)
        print(json.dumps(row), flush=True)

    sides = {"runtime_fp32": (bundle, None), "runtime_fp32_bound": (bundle, False),
             **({"runtime_fp16": (args.fp16, None)} if args.fp16 else {})}
    # On a CPU try-out, the bound side is the host loop and the others force the fixed loop.
    translators = {side: Translator(path, device=device, batch_size=max(args.batch_sizes),
                                    fixed_loop=loop if device == "cuda" else loop is None, **same)
                   for side, (path, loop) in sides.items()}
    for side, translator in translators.items():
        if translator.fixed_loop is not None:
            print(json.dumps({"side": side, "cuda_graph": translator.fixed_loop.cuda_graph,
                              "capture_error": getattr(translator.fixed_loop, "capture_error", None)}), flush=True)
    net = eager_from_bundle(bundle).to(device).eval()
    source_ids = exact_side.source_ids  # the runtime's own tokenizer and vocabulary
    tokens = [source_ids(line) for line in lines]
    special = dict(bos=tgt_vocab.bos, eos=tgt_vocab.eos, unk=tgt_vocab.unk, pad=src_vocab.pad)
    bf16 = lambda: torch.autocast(device, dtype=torch.bfloat16)  # noqa: E731
    for batch in args.batch_sizes:
        for side, translator in translators.items():
            record(side, batch, lambda t=translator, b=batch: t.translate_ids(lines, max_batch_size=b))
        record("torch_fp32", batch, lambda b=batch: eager_greedy(net, lines, source_ids, b, cap,
                                                                 context=contextlib.nullcontext, **special))
        record("torch_bf16_autocast", batch, lambda b=batch: eager_greedy(net, lines, source_ids, b, cap,
                                                                          context=bf16, **special))
    profile = {side: step_microseconds(t, lines, device) for side, t in translators.items()}
    print(json.dumps({"step_us_at_1024_rows": profile}), flush=True)
    shares = {}
    for side, translator in translators.items():
        batch = best_of(rows)[side]["batch_size"]
        shares[f"{side} ids"] = host_share(translator, lines, batch, text=False)
        for overlap in (True, False):  # the search on a worker thread, or on this one
            translator.overlap = overlap
            shares[f"{side} text {'overlapped' if overlap else 'serial'}"] = host_share(translator, lines, batch,
                                                                                       text=True)
        translator.overlap = device == "cuda"
        print(json.dumps({"host_share": shares}), flush=True)
    summary(rows, exact_bleu)  # once before torch.compile, whose compilations may outlast the budget
    compiled = CompiledGreedy(net, width_bucket(max(map(len, tokens))), cap, device=device, **special)
    for batch in args.compile_batch_sizes:
        record("torch_compile", batch, lambda b=batch: compiled(lines, source_ids, b))
    summary(rows, exact_bleu)


def best_of(rows: list[dict]) -> dict:
    """Each side's fastest row."""
    return {side: max((r for r in rows if r["side"] == side), key=lambda r: r["sentences_per_s"])
            for side in dict.fromkeys(r["side"] for r in rows)}


def summary(rows: list[dict], exact_bleu) -> None:
    """The table, each side's best, and the ratios line."""
    print(f"\nexact fp32 BLEU {exact_bleu}\n{'side':<22}{'batch':>7}{'sentences/s':>14}{'equal':>9}{'BLEU':>8}")
    for row in rows:
        print(f"{row['side']:<22}{row['batch_size']:>7}{row['sentences_per_s']:>14.1f}"
              f"{row['lines_equal']:>9.4f}{row['bleu'] if row['bleu'] is not None else '-':>8}")
    best = best_of(rows)
    speed = {side: row["sentences_per_s"] for side, row in best.items()}
    print("best of each side: " + ", ".join(f"{k} {v:.0f} (batch {best[k]['batch_size']})" for k, v in speed.items()))
    torch_sides = [s for s in ("torch_fp32", "torch_bf16_autocast", "torch_compile") if s in speed]
    keys = []
    for name, side in (("cuda", "runtime_fp32"), ("cuda_fp16", "runtime_fp16")):
        if side in speed and torch_sides and "torch_fp32" in speed:
            keys.append(f"{name}_ratio_vs_torch_best={speed[side] / max(speed[s] for s in torch_sides):.2f} "
                        f"{name}_ratio_vs_eager={speed[side] / speed['torch_fp32']:.2f}")
    print(" ".join(keys), flush=True)

if __name__ == "__main__":
    main()
