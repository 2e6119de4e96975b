"""Throughput on one input, same weights, one run: seed loop, eager batched, PyTorch's own
speed-ups, the runtime, the bound.

    python bench/run.py [--quick] [--bundle DIR] [--checkpoint PT] [--input FILE] [--no-compile]

1. the seed's one-sentence loop in eager PyTorch, on the bundle's own weights (rebuilt bit
   for bit from its graphs by s2s_batch.export.bundle_weights; or --checkpoint PT), on a
   fifth of the lines spread over them like the lines over the input (sentences/s depend
   on sentence length);
2. eager PyTorch batched greedy over the same length-sorted batches, and the one-line
   options a PyTorch user tries first to make it faster, each on the same batches:
   torch.inference_mode, dynamic int8 quantization of the GRU and Linear layers
   (torch.ao.quantization.quantize_dynamic), bf16 autocast, and torch.compile of the
   decoder step. Each gets its token agreement with exact fp32 and, where it is not
   exact and references sit beside the input (INPUT's SPLIT.ref*), its BLEU;
3. the runtime at its default settings (exact fp32), with compute_type int8 (every matmul
   of the decoder step in int8; the bundle's int8 graphs, added to a temporary copy of
   the bundle if it has none), and a sweep of batch sizes and token budgets;
4. the machine's limit: sgemm GFLOP/s at the model's shapes (timed in the same rounds as
   1-3) × the FLOPs the model needs for the real tokens → an upper bound on sentences/s;
   and the exact runtime's own limit: the same, with the output layer at the speed of
   onnxruntime's int8 matmul (the prescoring kernel, same rounds) instead of sgemm's,
   every other FLOP in fp32 (what token-exact decoding must do in fp32).
Checks that 2 and 3 give the same tokens as 1; 1, 2 and the runtime's default are timed
in turn, round after round, so that their ratios are taken at the same moments; each
starts from the text lines (tokenizing is timed on every side, decoding to text on
none). Prints
one JSON line per configuration, a table, fraction_of_exact_bound (the runtime against 4's
second bound), and last, like for like:
ratio_vs_torch_best=W.WW ratio_vs_eager=X.XX ratio_vs_seed_loop=Y.Y fraction_of_fp32_bound=Z.ZZ
int8_ratio_vs_torch_best=A.AA int8_bleu_delta=B.BB int8_ratio_vs_seed_loop=C.C
where the exact runtime's torch_best is the fastest exact PyTorch configuration (eager,
inference_mode, torch.compile: the same tokens), and the int8 runtime's the fastest PyTorch
configuration whose BLEU is within 0.3 of exact fp32 (quantize_dynamic int8 and bf16
autocast included); int8_bleu_delta is the int8 runtime's BLEU minus exact fp32's.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper
from timing import timed, timed_together  # bench/timing.py, beside this script

from s2s_batch.export.bundle_weights import eager_from_bundle
from s2s_batch.export.output_head import MS_DOMAIN, int8_rows
from s2s_batch.runtime.batching import DEFAULT_BATCH_SIZE, sorted_batches
from s2s_batch.runtime.bleu import corpus_bleu
from s2s_batch.runtime.bundle.graphs import cpu_quota
from s2s_batch.runtime.bundle.manifest import load_manifest
from s2s_batch.runtime.translator import Translator, default_bundle_dir
from s2s_batch.train.checkpoint import load_checkpoint
from s2s_batch.train.predict import greedy_batch, predict_seq2seq

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_INPUT = ROOT / "runs" / "heldout-cased" / "test.en"


def output_layer_flops(cfg) -> int:
    """Multiply-add FLOPs of the output layer per decoded token (int8 in the runtime's
    prescoring)."""
    return 2 * cfg.hidden_size * cfg.tgt_vocab_size


def model_flops(cfg) -> tuple[int, int, int]:
    """Multiply-add FLOPs per source token (encoder), per decoded token (decoder step), and
    per (decoded token, source token) pair (attention's scores and context)."""
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[cfg.cell]
    h = cfg.hidden_size
    directions = 2 if cfg.bidirectional else 1

    def stack(first_input: int, directions: int = 1) -> int:
        return sum(2 * gates * directions * ((first_input if layer == 0 else directions * h) * h + h * h)
                   for layer in range(cfg.num_layers))

    encoder = stack(cfg.embed_size, directions)
    if cfg.attention_after_cell:  # the cell reads the embedding; Luong's W_c reads [h_t; c_t]
        decoder = stack(cfg.embed_size) + 2 * (2 * h) * h + output_layer_flops(cfg)
    else:  # the cell reads the embedding and the context
        decoder = stack(cfg.embed_size + h) + output_layer_flops(cfg)
    pair = 0
    if cfg.attention != "none":
        encoder += 2 * h * h if cfg.attention != "dot" else 0  # keys, once per source token
        decoder += 2 * h * h if cfg.attention in ("additive", "local") else 0  # the query
        pair = (3 if cfg.attention == "additive" else 1) * 2 * h + 2 * h  # scores, context
    return encoder, decoder, pair


def sgemm_work(cfg, batch: int) -> tuple:
    """(a function running numpy float32 matmuls at the decoder's output-projection and
    recurrent shapes, the FLOPs it does): timed with the headline configurations, in the
    same rounds, it gives the sgemm speed of the same moments (one timing alone varied
    82-147 GFLOP/s on a shared machine)."""
    rng = np.random.default_rng(0)
    shapes = [(batch, cfg.hidden_size, cfg.tgt_vocab_size),
              (batch, cfg.embed_size + cfg.hidden_size, 3 * cfg.hidden_size)]
    operands = [(rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32),
                 max(3, int(2e10 / (2 * m * k * n)))) for m, k, n in shapes]

    def run():
        for a, b, reps in operands:
            for _ in range(reps):
                a @ b

    return run, sum(2 * m * k * n * reps for (m, k, n), (_, _, reps) in zip(shapes, operands))


def int8_work(cfg, batch: int, threads: int) -> tuple:
    """(a function running onnxruntime's DynamicQuantizeMatMul, the runtime's int8
    prescoring kernel, at the output layer's shape, the multiply-add operations x 2 it
    does), timed like sgemm_work. Like the runtime's batch streams it runs `threads`
    one-thread sessions side by side (one session on two threads ran at 0.4x of that)."""
    rng = np.random.default_rng(0)
    h, vocab = cfg.hidden_size, cfg.tgt_vocab_size
    quantized, scale = int8_rows(rng.standard_normal((vocab, h), dtype=np.float32))
    weights = [numpy_helper.from_array(quantized, "w"), numpy_helper.from_array(scale, "scale"),
               numpy_helper.from_array(np.zeros(vocab, np.int8), "zero"),
               numpy_helper.from_array(np.zeros(vocab, np.float32), "bias")]
    node = helper.make_node("DynamicQuantizeMatMul", ["x", "w", "scale", "zero", "bias"], ["y"],
                            domain=MS_DOMAIN)
    graph = helper.make_graph([node], "int8_head", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, h])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20), helper.make_opsetid(MS_DOMAIN, 1)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sessions = [ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
                for _ in range(threads)]
    x = rng.standard_normal((batch, h), dtype=np.float32)
    reps = max(3, int(2e10 / (output_layer_flops(cfg) * batch * threads)))
    pool = ThreadPoolExecutor(threads)

    def stream(session):
        for _ in range(reps):
            session.run(None, {"x": x})

    def run():
        list(pool.map(stream, sessions))

    return run, output_layer_flops(cfg) * batch * reps * threads


def bundle_with_int8(bundle: Path, spare: Path) -> Path:
    """`bundle` if it has int8 graphs, else a copy of it at `spare` with them added."""
    if "int8" in load_manifest(bundle).compute_types:
        return bundle
    from s2s_batch.export.compute_types import add_compute_types

    shutil.copytree(bundle, spare)
    add_compute_types(spare, ["int8"])
    print(f"{bundle} has no int8 graphs: timing a copy with them added", file=sys.stderr)
    return spare


def read_input(path: Path, limit: int) -> list[str]:
    """`limit` lines spread evenly over the file (the held-out test split by default): the
    split is in the corpus's order, shortest sentences first, so its first lines are not
    a fair sample."""
    if not path.is_file():
        sys.exit(f"no input {path}: pass --input FILE, or write the held-out split first with "
                 "python bench/heldout.py --data ../shared/data/fra-eng/fra.txt --out runs/heldout-cased "
                 "--cased")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [lines[i] for i in spread(len(lines), limit)]


def spread(n: int, limit: int) -> list[int]:
    """`limit` indices spread evenly over range(n) (all of them if n <= limit)."""
    if n <= limit:
        return list(range(n))
    return np.linspace(0, n - 1, limit).round().astype(int).tolist()


def read_references(path: Path, n_lines: int, limit: int) -> list[list[str | None]] | None:
    """The reference streams beside the input (SPLIT.ref0, SPLIT.ref1, ... for SPLIT.en),
    at the lines read_input took; None if there are none."""
    files = sorted(path.parent.glob(f"{path.stem}.ref*"), key=lambda p: int(p.suffix[4:] or 0))
    if not files:
        return None
    keep = spread(n_lines, limit)
    streams = []
    for f in files:
        stream = f.read_text(encoding="utf-8").splitlines()
        streams.append([stream[i] or None for i in keep])
    return streams


def torch_peers(net, compile_decoder: bool) -> dict:
    """What a PyTorch user tries first to make the eager model faster on a CPU, each as
    (model, context manager factory): the same weights, one line of code each."""
    peers = {"torch_inference_mode": (net, torch.inference_mode)}
    quantized = torch.ao.quantization.quantize_dynamic(copy.deepcopy(net), {torch.nn.GRU, torch.nn.LSTM,
                                                                            torch.nn.Linear},
                                                         dtype=torch.qint8)
    peers["torch_int8_dynamic"] = (quantized, torch.inference_mode)
    peers["torch_bf16_autocast"] = (net, lambda: torch.autocast("cpu", dtype=torch.bfloat16))
    if compile_decoder:
        compiled = copy.deepcopy(net)
        compiled.decoder = torch.compile(compiled.decoder, dynamic=True)
        peers["torch_compile"] = (compiled, torch.inference_mode)
    return peers


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer sentences, repeats and sweep points (< 2 min)")
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="the checkpoint behind the bundle, for the eager sides (default: the "
                             "bundle's weights rebuilt as an eager model)")
    parser.add_argument("--input", type=Path, default=None,
                        help="source lines [default: runs/heldout-cased/test.en]; SPLIT.ref* beside "
                             "it give the BLEU of the inexact PyTorch options")
    parser.add_argument("--no-compile", action="store_true",
                        help="leave torch.compile out (its first run compiles for minutes)")
    return parser.parse_args()


class Bench:
    """One run's lines, translator, eager model and recorded rows; a method per part."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        n_lines, seed_lines, self.repeats = (1000, 200, 3) if args.quick else (2000, 400, 3)
        self.input_path = args.input or DEFAULT_INPUT
        self.lines = read_input(self.input_path, n_lines)
        self.seed_rows = spread(len(self.lines), seed_lines)
        self.threads = cpu_quota()
        torch.set_num_threads(self.threads)
        self.bundle = args.bundle or default_bundle_dir()
        # The eager loops read each line whole with the model's fixed cap (max_decode_len): so
        # does the runtime here (no sentence splitting), so that tokens compare one for one.
        self.same = dict(max_decoding_length=load_manifest(self.bundle).config.max_decode_len,
                         split_sentences=False)
        self.translator = Translator(self.bundle, threads=self.threads, **self.same)
        self._int8_copy = tempfile.TemporaryDirectory(prefix="bench-int8-")
        self.int8_translator = Translator(bundle_with_int8(self.bundle, Path(self._int8_copy.name) / "bundle"),
                                          threads=self.threads, compute_type="int8", **self.same)
        self.cfg, self.max_len = self.translator.config, self.translator.max_decoding_length
        self.src_vocab, self.tgt_vocab = self.translator.src_vocab, self.translator.tgt_vocab
        self.net = self._eager_model()
        self.encode = self.translator.src_tokenizer.encode  # words or subwords
        self.tokens = [self.encode(line) for line in self.lines]
        self.nonblank = [i for i, t in enumerate(self.tokens) if t]
        # The runtime's default greedy never writes <unk> (disable_unk): the references skip it too.
        self.banned = self.tgt_vocab.unk
        self.references = read_references(
            self.input_path, len(self.input_path.read_text(encoding="utf-8").splitlines()), n_lines)
        self.rows: list[dict] = []

    def _eager_model(self):
        if self.args.checkpoint:
            net, _, self.src_vocab, self.tgt_vocab, _ = load_checkpoint(self.args.checkpoint)
            if net.config != self.cfg:
                sys.exit(f"{self.args.checkpoint} is not the checkpoint behind the bundle (configs differ)")
            return net
        try:
            return eager_from_bundle(self.bundle)
        except ValueError as exc:
            sys.exit(str(exc))

    def record(self, name, seconds, n, **extra) -> None:
        """Keep a configuration's row and print it as a JSON line."""
        row = {"config": name, "sentences": n, "seconds": round(seconds, 4),
               "sentences_per_s": round(n / seconds, 1), **extra}
        self.rows.append(row)
        print(json.dumps(row), flush=True)

    def eager_batched(self, model=None, context=contextlib.nullcontext):
        """Eager batched greedy from the text lines (tokenizing timed too, as the runtime's)."""
        line_tokens = [self.encode(line) for line in self.lines]
        out = [None] * len(self.lines)
        with context():
            for batch in sorted_batches([len(t) for t in line_tokens], DEFAULT_BATCH_SIZE):
                for i, ids in zip(batch, greedy_batch(model or self.net, [line_tokens[i] for i in batch],
                                                      self.src_vocab, self.tgt_vocab, self.max_len,
                                                      len(batch), self.banned)):
                    out[i] = ids
        return out

    def bleu_of(self, ids_per_line) -> float | None:
        """BLEU of target ids against the references beside the input, if there are some."""
        if self.references is None:
            return None
        decode = self.translator.tgt_tokenizer.decode
        texts = [decode(self.tgt_vocab.decode(ids)) if ids else "" for ids in ids_per_line]
        return round(corpus_bleu(texts, self.references).score, 2)

    def headline(self) -> None:
        """The seed loop, eager batched, the runtime's default and the two kernels of the
        bound, timed in turn round after round."""
        lines, net = self.lines, self.net
        self.sgemm_work = sgemm_work(self.cfg, DEFAULT_BATCH_SIZE)
        self.int8_work = int8_work(self.cfg, DEFAULT_BATCH_SIZE, self.threads)
        measured = timed_together({
            "seed_loop_eager": lambda: [predict_seq2seq(net, self.encode(lines[i]), self.src_vocab,
                                                        self.tgt_vocab, self.max_len, self.banned)
                                        for i in self.seed_rows],
            "eager_batched": self.eager_batched,
            "runtime_default": lambda: self.translator.translate_ids(lines),
            "runtime_int8": lambda: self.int8_translator.translate_ids(lines),
            "sgemm": self.sgemm_work[0],
            "int8": self.int8_work[0]}, self.repeats)
        ((self.seed_s, self.seed_out), (self.eager_s, self.eager_out), (self.runtime_s, self.runtime_out),
         (self.runtime_int8_s, int8_out), (self.sgemm_s, _), (self.int8_s, _)) = measured.values()
        self.record("seed_loop_eager", self.seed_s, len(self.seed_rows))
        self.record("eager_batched", self.eager_s, len(lines), batch_size=DEFAULT_BATCH_SIZE)
        self.record("runtime_default", self.runtime_s, len(lines), batch_size=DEFAULT_BATCH_SIZE)
        agree = sum(int8_out[i] == self.runtime_out[i] for i in self.nonblank) / max(len(self.nonblank), 1)
        self.int8_bleu = self.bleu_of(int8_out)
        self.record("runtime_int8", self.runtime_int8_s, len(lines), batch_size=DEFAULT_BATCH_SIZE,
                    token_agreement=round(agree, 4), bleu=self.int8_bleu)

    def torch_options(self) -> tuple[tuple[str, float], tuple[str, float], float | None]:
        """PyTorch's one-line speed-ups, each timed in turn with exact fp32 (the same rounds);
        → ((the fastest exact one, its seconds), (the fastest within 0.3 BLEU of exact fp32,
        its seconds), exact fp32's BLEU)."""
        fp32_bleu = self.bleu_of(self.eager_out)
        peers = {"eager_batched": (self.eager_s, 1.0, fp32_bleu)}
        n = len(self.lines)
        for name, (model, context) in torch_peers(self.net, not self.args.no_compile).items():
            try:
                measured = timed_together({"fp32": self.eager_batched,
                                           name: lambda m=model, c=context: self.eager_batched(m, c)},
                                          self.repeats)
            except Exception as exc:  # a PyTorch option that does not run on this model or CPU
                self.record(name, float("nan"), n, error=f"{type(exc).__name__}: {str(exc)[:200]}")
                continue
            (fp32_s, _), (s, out) = measured["fp32"], measured[name]
            agree = sum(out[i] == self.eager_out[i] for i in self.nonblank) / max(len(self.nonblank), 1)
            bleu = fp32_bleu if agree == 1.0 else self.bleu_of(out)
            # each peer's speed relative to fp32 of the same rounds, applied to fp32's headline time
            peers[name] = (self.eager_s * s / fp32_s, agree, bleu)
            self.record(name, self.eager_s * s / fp32_s, n, batch_size=DEFAULT_BATCH_SIZE,
                        token_agreement=round(agree, 4), bleu=bleu, speed_vs_fp32=round(fp32_s / s, 3))
        usable = {name: seconds for name, (seconds, agree, bleu) in peers.items()
                  if agree == 1.0 or (bleu is not None and fp32_bleu is not None and bleu >= fp32_bleu - 0.3)}
        exact = {name: seconds for name, (seconds, agree, _) in peers.items() if agree == 1.0}
        best, best_exact = min(usable, key=usable.get), min(exact, key=exact.get)
        return (best_exact, exact[best_exact]), (best, usable[best]), fp32_bleu

    def runtime_sweep(self) -> None:
        """The default settings less one technique each, then batch sizes and token budgets."""
        n, quick = len(self.lines), self.args.quick

        def run(name, translator, call=None, **extra):
            s, out = timed(lambda: translator.translate_ids(self.lines, **(call or {})), self.repeats)
            self.record(name, s, n, **extra, same_tokens=out == self.runtime_out)

        for name, options in (("runtime_no_prescore", dict(prescore=False)),
                              ("runtime_one_stream", dict(inter_threads=1))):
            run(name, Translator(self.bundle, threads=self.threads, **self.same, **options),
                batch_size=DEFAULT_BATCH_SIZE)
        for size in ((64, 1024) if quick else (32, 64, 128, 512, 1024)):
            run(f"runtime_batch_{size}", self.translator, batch_size=size, call=dict(max_batch_size=size))
        for budget in ((2048,) if quick else (1024, 2048, 4096, 8192)):
            by_tokens = Translator(self.bundle, threads=self.threads, **self.same,
                                   batch_type="tokens", batch_size=budget)
            run(f"runtime_tokens_{budget}", by_tokens, max_batch_tokens=budget)

    def report(self, exact_best: tuple[str, float], any_best: tuple[str, float], fp32_bleu: float | None) -> None:
        """The table, the token checks (exit 1 on a mismatch) and the ratio lines."""
        n = len(self.lines)
        bound, exact_bound = sentences_bound(
            self.cfg, self.tokens, self.runtime_out, self.nonblank, self.max_len, n,
            self.sgemm_work[1] / self.sgemm_s / 1e9, self.int8_work[1] / self.int8_s / 1e9, self.record)
        seed_mismatch = sum(self.seed_out[k] != self.runtime_out[i]
                            for k, i in enumerate(self.seed_rows) if self.tokens[i])
        eager_mismatch = sum(self.eager_out[i] != self.runtime_out[i] for i in self.nonblank)
        print(f"\n{'configuration':<22}{'sentences/s':>14}")
        for row in self.rows:
            print(f"{row['config']:<22}{row['sentences_per_s']:>14.1f}")
        print(f"token mismatches vs the seed loop: {seed_mismatch}/{len(self.seed_rows)}, "
              f"eager batched vs runtime: {eager_mismatch}/{len(self.nonblank)}; threads {self.threads}")
        differing = [row["config"] for row in self.rows if row.get("same_tokens") is False]
        if differing:
            print(f"configurations whose tokens differ from runtime_default: {', '.join(differing)}")
        if seed_mismatch or eager_mismatch or differing:
            sys.exit("token mismatch: the runtime does not reproduce eager PyTorch")
        runtime_rate, int8_rate = n / self.runtime_s, n / self.runtime_int8_s
        seed_rate = len(self.seed_rows) / self.seed_s
        print(f"fastest exact PyTorch configuration: {exact_best[0]}; fastest within 0.3 BLEU of exact "
              f"fp32: {any_best[0]}; fp32 BLEU {fp32_bleu}, runtime int8 BLEU {self.int8_bleu}")
        print(f"fraction_of_exact_bound={runtime_rate / exact_bound:.2f} (fp32 sgemm for all but the "
              "output layer, int8 for it)")
        delta = (f"{self.int8_bleu - fp32_bleu:.2f}" if self.int8_bleu is not None and fp32_bleu is not None
                 else "nan")
        print(f"ratio_vs_torch_best={runtime_rate / (n / exact_best[1]):.2f} "
              f"ratio_vs_eager={runtime_rate / (n / self.eager_s):.2f} "
              f"ratio_vs_seed_loop={runtime_rate / seed_rate:.1f} "
              f"fraction_of_fp32_bound={runtime_rate / bound:.2f} "
              f"int8_ratio_vs_torch_best={int8_rate / (n / any_best[1]):.2f} int8_bleu_delta={delta} "
              f"int8_ratio_vs_seed_loop={int8_rate / seed_rate:.1f}")


def main() -> None:
    args = parse_args()
    if args.checkpoint and not args.checkpoint.is_file():
        sys.exit(f"no checkpoint {args.checkpoint}: pass the s2s-train checkpoint the bundle was "
                 "exported from, or leave --checkpoint out to rebuild the eager model from the bundle")
    bench = Bench(args)
    bench.headline()
    torch_best = bench.torch_options()
    bench.runtime_sweep()
    bench.report(*torch_best)


def sentences_bound(cfg, tokens, outputs, nonblank, max_len, n_lines, gflops, int8_gops,
                    record) -> tuple[float, float]:
    """Sentences/s that `gflops` (the machine's sgemm speed) allows for the FLOPs of the
    real tokens; and the same with the output layer's at `int8_gops` (the int8 matmul's
    speed), the bound of exact decoding with int8 prescoring."""
    enc_flops, dec_flops, pair_flops = model_flops(cfg)
    src_len = {i: min(len(tokens[i]) + 1, cfg.num_steps) for i in nonblank}
    dec_len = {i: min(len(outputs[i]) + 1, max_len) for i in nonblank}  # + <eos>
    src_tokens, dec_tokens = sum(src_len.values()), sum(dec_len.values())
    flops = (src_tokens * enc_flops + dec_tokens * dec_flops
             + pair_flops * sum(src_len[i] * dec_len[i] for i in nonblank))
    head_flops = dec_tokens * output_layer_flops(cfg)
    bound = gflops * 1e9 / (flops / n_lines)
    exact_bound = n_lines / ((flops - head_flops) / (gflops * 1e9) + head_flops / (int8_gops * 1e9))
    record("fp32_bound", n_lines / bound, n_lines, sgemm_gflops=round(gflops, 1),
           flops_per_sentence=round(flops / n_lines), decoded_tokens=dec_tokens)
    record("exact_bound", n_lines / exact_bound, n_lines, sgemm_gflops=round(gflops, 1),
           int8_gops=round(int8_gops, 1), output_layer_share_of_flops=round(head_flops / flops, 3))
    return bound, exact_bound


if __name__ == "__main__":
    main()
