"""Training speed: target tokens/s of the recipes' training steps, in one run.

    python bench/train_speed.py --data ../shared/data/fra-eng/fra.txt [--pairs 4000]
                                [--batches 12] [--threads 1 2] [--recipes default after-cell ...]

Each recipe trains the same sample of training pairs (cut into subwords by the default
bundle's SentencePiece models, so lengths and vocabularies are the real ones) for
`--batches` batches after two warm-up batches: forward, backward, clipping and Adam, as
`s2s-train` runs them. Batches are either length-bucketed (the trainer's
`epoch_batches`) or plain shuffled (`--unbucketed` measures both); precision is any of
the trainer's `--precision` values (`--precisions fp32 bf16 bf16-fp32-cells`). Prints one JSON line per
measurement and a table; ratios are against the first row of the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import time
from pathlib import Path

import torch

from s2s_batch.runtime.bundle.manifest import SRC_SPM_FILE, TGT_SPM_FILE
from s2s_batch.runtime.bundle.tokens import SentencePieceTokenizer
from s2s_batch.train.config import PRECISIONS, make_config
from s2s_batch.train.data import Pair, read_pairs, training_raw
from s2s_batch.train.learned_tables import build_vocab
from s2s_batch.train.loss import MaskedSoftmaxCELoss
from s2s_batch.train.model import Seq2Seq
from s2s_batch.train.trainer import batch_loss, epoch_batches, sized_for

DEFAULT_BUNDLE = Path(__file__).resolve().parent.parent / "models" / "fra-eng"

# Model settings per recipe, over the default preset with the default bundle's lengths.
RECIPES = {
    "default": {},
    "before-cell": {"attention": "additive"},
    "after-cell": {"attention": "general", "attention_placement": "after-cell"},
    "after-cell-bi": {"attention": "general", "attention_placement": "after-cell", "bidirectional": True},
    "teacher": {"attention": "general", "attention_placement": "after-cell", "bidirectional": True,
                "hidden_size": 512, "embed_size": 256},
}


def sample_pairs(data: Path, count: int, seed: int = 0) -> list[Pair]:
    """`count` training-split pairs drawn evenly, cut into the default bundle's subwords."""
    raw = training_raw(read_pairs(data), 20, 20)
    rng = random.Random(seed)
    chosen = rng.sample(raw, min(count, len(raw)))
    src = SentencePieceTokenizer((DEFAULT_BUNDLE / SRC_SPM_FILE).read_bytes())
    tgt = SentencePieceTokenizer((DEFAULT_BUNDLE / TGT_SPM_FILE).read_bytes())
    return [Pair(src.encode(en), tgt.encode(fr)) for en, fr in chosen]


def measure(pairs: list[Pair], recipe: str, bucketed: bool, precision: str, batches: int) -> dict:
    """Target tokens/s of `batches` training steps of one recipe."""
    cfg = make_config("default", tokenizer="sentencepiece", num_steps=32, max_decode_len=48,
                      label_smoothing=0.1, **RECIPES[recipe])
    # pad_source=True is the trainer's switch for plain shuffled batches (the seed's).
    shuffled = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, pad_source=True))
    src_vocab = build_vocab((p.src for p in pairs), 1)
    tgt_vocab = build_vocab((p.tgt for p in pairs), 1)
    cfg = sized_for(cfg, src_vocab, tgt_vocab)
    torch.manual_seed(0)
    net = Seq2Seq(cfg.model).train()
    net.set_precision(precision)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    loss_fn = MaskedSoftmaxCELoss(cfg.label_smoothing)
    order = epoch_batches(pairs, cfg if bucketed else shuffled, 0)[: batches + 2]
    tokens, start = 0, 0.0
    for i, batch in enumerate(order):
        if i == 2:
            tokens, start = 0, time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision != "fp32"):
            loss, n = batch_loss(net, batch, src_vocab, tgt_vocab, loss_fn, "cpu")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        optimizer.step()
        tokens += n
    seconds = time.perf_counter() - start
    return {"recipe": recipe, "bucketed": bucketed, "precision": precision, "threads": torch.get_num_threads(),
            "parameters": sum(p.numel() for p in net.parameters()),
            "tokens_per_s": round(tokens / seconds), "batches": len(order) - 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/fra-eng/fra.txt"))
    parser.add_argument("--pairs", type=int, default=4000)
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--threads", type=int, nargs="+", default=[2])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--unbucketed", action="store_true", help="also measure plain shuffled batches")
    parser.add_argument("--precisions", nargs="+", default=["fp32"], choices=list(PRECISIONS),
                        help="the trainer's --precision values to measure")
    args = parser.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"train_speed.py: corpus not found: {args.data}; pass --data PATH to fra.txt")
    pairs = sample_pairs(args.data, args.pairs)
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for recipe in args.recipes:
            for bucketed in ([True, False] if args.unbucketed else [True]):
                for precision in args.precisions:
                    row = measure(pairs, recipe, bucketed, precision, args.batches)
                    row["ratio"] = round(row["tokens_per_s"] / rows[0]["tokens_per_s"], 2) if rows else 1.0
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print(f"\n{'recipe':<15}{'threads':>8}{'bucketed':>10}{'precision':>17}{'params':>12}{'tokens/s':>10}{'ratio':>7}")
    for r in rows:
        print(f"{r['recipe']:<15}{r['threads']:>8}{str(r['bucketed']):>10}{r['precision']:>17}"
              f"{r['parameters']:>12,}{r['tokens_per_s']:>10,}{r['ratio']:>7.2f}")


if __name__ == "__main__":
    main()
