"""Our runtime against CTranslate2, the engine its users would pick, at equal size, on the
same input and the same cores:

    python bench/ctranslate2_peer.py [--quick] [--bundle DIR] [--input FILE]

Needs the bench extra (pip install -e '.[train,bench]': ctranslate2, transformers).

1. A MarianMT Transformer of our size (2 + 2 layers, d 256, 4 heads, feed-forward 1,024,
   one shared vocabulary of 8,000 pieces: all our source pieces, then target pieces; 5.7 M
   parameters against our 5.6 M), randomly initialised with transformers and converted
   with CTranslate2's own converter, float32 and int8.
2. Our source pieces are its source tokens (each line + </s>). Its output is forced to
   our runtime's mean decoder steps on the same lines (min = max decoding length), so
   that both sides decode as many target tokens: a random model's words mean nothing,
   its cost per token does.
3. Each CTranslate2 type runs at its best (inter_threads, intra_threads) and batch size
   among those tried; ours at their defaults (the settings a user gets). The four are
   timed in turn, round after round (bench/timing.py).
Prints one JSON line per configuration and last:
ratio_vs_ctranslate2_int8=X.XX int8_ratio_vs_ctranslate2_int8=Y.YY ratio_vs_ctranslate2_float32=Z.ZZ
(our exact path, then our int8 path, against CTranslate2 int8; our exact path against its
float32).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from run import DEFAULT_INPUT, bundle_with_int8, read_input  # bench/run.py, beside this script
from timing import timed, timed_together

from s2s_batch.export.bundle_weights import eager_from_bundle
from s2s_batch.runtime.bundle.graphs import cpu_quota
from s2s_batch.runtime.bundle.manifest import SRC_SPM_FILE, TGT_SPM_FILE
from s2s_batch.runtime.translator import Translator, default_bundle_dir

SPECIALS = ["</s>", "<unk>", "<pad>"]  # MarianTokenizer's; <pad> last is dropped by the converter


def marian_model(bundle: Path, out: Path, size: int = 8000, seed: int = 0) -> tuple[Path, int, list[str]]:
    """A random MarianMT of our size saved in transformers' format with a MarianTokenizer
    over our pieces; (its folder, its parameter count, its vocabulary)."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    pieces = []
    for name in (SRC_SPM_FILE, TGT_SPM_FILE):
        processor = spm.SentencePieceProcessor(model_file=str(bundle / name))
        pieces += [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    vocab = list(dict.fromkeys(["</s>", "<unk>", *(p for p in pieces if p not in SPECIALS)]))[: size - 1] + ["<pad>"]
    (out / "vocab.json").write_text(json.dumps({p: i for i, p in enumerate(vocab)}), encoding="utf-8")
    for name, marian in ((SRC_SPM_FILE, "source.spm"), (TGT_SPM_FILE, "target.spm")):
        (out / marian).write_bytes((bundle / name).read_bytes())
    config = MarianConfig(vocab_size=len(vocab), d_model=256, encoder_layers=2, decoder_layers=2,
                          encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=1024,
                          decoder_ffn_dim=1024, max_position_embeddings=512, pad_token_id=len(vocab) - 1,
                          eos_token_id=0, decoder_start_token_id=len(vocab) - 1)
    torch.manual_seed(seed)
    model = MarianMTModel(config)
    model.save_pretrained(out)
    MarianTokenizer(str(out / "source.spm"), str(out / "target.spm"), str(out / "vocab.json")).save_pretrained(out)
    return out, sum(p.numel() for p in model.parameters()), vocab


def convert(model_dir: Path, out: Path, quantization: str) -> Path:
    """CTranslate2's conversion of the transformers model (its ct2-transformers-converter)."""
    from ctranslate2.converters import TransformersConverter

    TransformersConverter(str(model_dir)).convert(str(out), quantization=quantization, force=True)
    return out


def best_ctranslate2(path: Path, compute_type: str, sources: list[list[str]], steps: int,
                     threads: int, quick: bool) -> tuple[dict, object]:
    """The fastest (inter, intra, batch) tried for one CTranslate2 type → (its settings,
    a function translating `sources` with them)."""
    import ctranslate2

    layouts = sorted({(threads, 1), (1, threads)})
    batches = (64, 256) if quick else (32, 64, 128, 256)
    results = []
    for inter, intra in layouts:
        translator = ctranslate2.Translator(str(path), device="cpu", compute_type=compute_type,
                                            inter_threads=inter, intra_threads=intra)
        for batch in batches:
            def run(t=translator, b=batch):
                return t.translate_batch(sources, max_batch_size=b, beam_size=1,
                                         min_decoding_length=steps, max_decoding_length=steps)
            seconds, _ = timed(run, 1 if quick else 2)
            settings = {"inter_threads": inter, "intra_threads": intra, "max_batch_size": batch}
            print(json.dumps({"config": f"ctranslate2_{compute_type}_trial", **settings,
                              "sentences_per_s": round(len(sources) / seconds, 1)}), flush=True)
            results.append((seconds, settings, run))
    _, settings, run = min(results, key=lambda r: r[0])
    return settings, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 lines, fewer trials")
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--input", type=Path, default=None, help="[default: runs/heldout-cased/test.en]")
    args = parser.parse_args()
    try:
        import ctranslate2  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        sys.exit("needs ctranslate2 and transformers: pip install -e '.[train,bench]'")
    bundle = args.bundle or default_bundle_dir()
    lines = read_input(args.input or DEFAULT_INPUT, 1000 if args.quick else 2000)
    threads, repeats = cpu_quota(), 3 if args.quick else 5
    with tempfile.TemporaryDirectory(prefix="ct2-peer-") as tmp:
        int8_bundle = bundle_with_int8(bundle, Path(tmp) / "bundle-int8")
        ours = {"ours_float32": Translator(bundle, threads=threads, split_sentences=False),
                "ours_int8": Translator(int8_bundle, threads=threads, split_sentences=False, compute_type="int8")}
        exact_ids = ours["ours_float32"].translate_ids(lines)
        steps = round(float(np.mean([len(ids) + 1 for ids in exact_ids if ids])))  # + <eos>
        model_dir, parameters, _ = marian_model(bundle, Path(tmp))
        pieces = ours["ours_float32"].src_tokenizer.encode
        sources = [[*pieces(line), "</s>"] for line in lines]
        ours_size = sum(p.numel() for p in eager_from_bundle(bundle).parameters())
        print(json.dumps({"marian_parameters": parameters, "our_parameters": ours_size, "forced_steps": steps,
                          "lines": len(lines), "threads": threads}), flush=True)
        sides = {}
        for compute_type in ("int8", "float32"):
            path = convert(model_dir, Path(tmp) / f"ct2-{compute_type}", compute_type)
            settings, run = best_ctranslate2(path, compute_type, sources, steps, threads, args.quick)
            print(json.dumps({"config": f"ctranslate2_{compute_type}", "chosen": settings}), flush=True)
            sides[f"ctranslate2_{compute_type}"] = run
        for name, translator in ours.items():
            sides[name] = lambda t=translator: t.translate_ids(lines)
        measured = timed_together(sides, repeats)
    rate = {name: len(lines) / seconds for name, (seconds, _) in measured.items()}
    for name, value in rate.items():
        print(json.dumps({"config": name, "sentences": len(lines), "sentences_per_s": round(value, 1)}), flush=True)
    print(f"ratio_vs_ctranslate2_int8={rate['ours_float32'] / rate['ctranslate2_int8']:.2f} "
          f"int8_ratio_vs_ctranslate2_int8={rate['ours_int8'] / rate['ctranslate2_int8']:.2f} "
          f"ratio_vs_ctranslate2_float32={rate['ours_float32'] / rate['ctranslate2_float32']:.2f}")


if __name__ == "__main__":
    main()
