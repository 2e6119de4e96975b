"""Greedy throughput on a CUDA GPU: the runtime's fp32 and fp16 bundles against eager
PyTorch on the same GPU, same weights, same input.

    python bench/cuda_greedy.py [--bundle DIR] [--fp16 DIR] [--input FILE] [--batch-sizes 256 1024 4096]

Sides, each at every batch size (sentences per batch, length-sorted):
1. the runtime on the CUDA provider with the fp32 bundle (greedy search keeps the state on
   the GPU between steps, runtime/device_loop.py);
2. the same with the fp16 bundle (`s2s-export BUNDLE --quantize fp16`), when given;
3. eager PyTorch batched greedy on the GPU in fp32 with torch.inference_mode, and under
   bf16 autocast: the PyTorch user's alternatives (fp16 autocast fails on this model: its
   attention masks with -1e9, beyond fp16's range).
Each side's ids are compared with the runtime's on the CPU provider (the exact fp32
result, computed once here), and the sides that differ get their BLEU when references sit
beside the input (INPUT's SPLIT.ref*). Timings: median of 3 runs after a warm-up, from the
text lines to the ids. Prints one JSON line per measurement and a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path

import torch
from run import read_references  # bench/run.py, beside this script
from timing import timed  # bench/timing.py

from s2s_batch.export.bundle_weights import eager_from_bundle
from s2s_batch.runtime.batching import sorted_batches
from s2s_batch.runtime.bleu import corpus_bleu
from s2s_batch.runtime.manifest import load_manifest
from s2s_batch.runtime.translator import Translator, default_bundle_dir
from s2s_batch.train.predict import greedy_batch

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None, help="fp32 bundle [default: the shipped one]")
    parser.add_argument("--fp16", type=Path, default=None, help="its fp16 export, if any")
    parser.add_argument("--input", type=Path, default=ROOT / "runs" / "heldout-cased" / "test.en")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--device", default="cuda", help="cpu: try the script on a machine without a GPU")
    args = parser.parse_args()
    bundle = args.bundle or default_bundle_dir()
    lines = args.input.read_text(encoding="utf-8").splitlines()
    references = read_references(args.input, len(lines), len(lines))
    cap = load_manifest(bundle).config.max_decode_len
    same = dict(max_decoding_length=cap, split_sentences=False)
    exact_side = Translator(bundle, device="cpu", **same)
    exact = exact_side.translate_ids(lines)
    decode_text = exact_side.tgt_tokenizer.decode
    tgt_vocab, src_vocab = exact_side.tgt_vocab, exact_side.src_vocab
    nonblank = [i for i, line in enumerate(lines) if exact_side.source_ids(line)]
    gpu = torch.cuda.get_device_name() if args.device == "cuda" else "none"
    print(f"{len(lines)} lines; GPU {gpu}; torch {torch.__version__}", flush=True)

    def bleu_of(ids_per_line) -> float | None:
        if references is None:
            return None
        texts = [decode_text(tgt_vocab.decode(ids)) if ids else "" for ids in ids_per_line]
        return round(corpus_bleu(texts, references).score, 2)

    exact_bleu = bleu_of(exact)
    rows = []

    def record(side: str, batch: int, fn) -> None:
        try:
            seconds, out = timed(fn, 3)
        except Exception as exc:  # a side that does not run here (a provider, a dtype)
            print(json.dumps({"side": side, "batch_size": batch, "error": f"{type(exc).__name__}: {exc}"[:300]}))
            return
        agree = sum(out[i] == exact[i] for i in nonblank) / max(len(nonblank), 1)
        row = {"side": side, "batch_size": batch, "sentences_per_s": round(len(lines) / seconds, 1),
               "token_agreement": round(agree, 4), "bleu": exact_bleu if agree == 1.0 else bleu_of(out)}
        rows.append(row)
        print(json.dumps(row), flush=True)

    net = eager_from_bundle(bundle).to(args.device).eval()
    encode = exact_side.src_tokenizer.encode

    def eager(batch: int, context) -> list:
        tokens = [encode(line) for line in lines]
        out: list = [[] for _ in lines]
        with torch.inference_mode(), context():
            for rows_ in sorted_batches([len(t) for t in tokens], batch):
                found = greedy_batch(net, [tokens[i] for i in rows_], src_vocab, tgt_vocab, cap,
                                     len(rows_), tgt_vocab.unk)
                for i, ids in zip(rows_, found):
                    out[i] = ids
        return out

    bf16 = lambda: torch.autocast(args.device, dtype=torch.bfloat16)  # noqa: E731
    bundles = {"runtime_fp32": bundle, **({"runtime_fp16": args.fp16} if args.fp16 else {})}
    for batch in args.batch_sizes:
        for side, path in bundles.items():
            translator = Translator(path, device=args.device, batch_size=batch, **same)
            record(side, batch, lambda t=translator: t.translate_ids(lines))
            translator.close()
        record("torch_fp32", batch, lambda b=batch: eager(b, contextlib.nullcontext))
        record("torch_bf16_autocast", batch, lambda b=batch: eager(b, bf16))
    print(f"\nexact fp32 BLEU {exact_bleu}\n{'side':<22}{'batch':>7}{'sentences/s':>14}{'agreement':>11}{'BLEU':>8}")
    for row in rows:
        print(f"{row['side']:<22}{row['batch_size']:>7}{row['sentences_per_s']:>14.1f}"
              f"{row['token_agreement']:>11.4f}{row['bleu'] if row['bleu'] is not None else '-':>8}")
    best = {side: max(r["sentences_per_s"] for r in rows if r["side"] == side) for side in
            dict.fromkeys(r["side"] for r in rows)}
    print("best of each side: " + ", ".join(f"{k} {v:.0f}" for k, v in best.items()))
    if {"runtime_fp32", "torch_fp32"} <= best.keys():
        print(f"runtime fp32 / torch fp32 (each at its best batch): "
              f"{best['runtime_fp32'] / best['torch_fp32']:.2f}")


if __name__ == "__main__":
    main()
