"""Lower-precision versions of exported graphs: int8 dynamic quantization (weights int8,
activations quantized per call) and fp16 (weights and arithmetic in half precision, for CUDA)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch

from s2s_batch.export.graphs import probe_inputs
from s2s_batch.export.verify import cpu_session, encoder_feed
from s2s_batch.runtime.bundle.graph_names import LOGITS
from s2s_batch.runtime.bundle.manifest import decoder_io, encoder_io
from s2s_batch.train.model import Seq2Seq


def quantize_graph(path: Path) -> None:
    """Replace an ONNX file by its int8 dynamically quantized version.

    onnxruntime quantizes MatMul (the output projection) and Gather (the embeddings);
    it has no quantized GRU/RNN kernel, so recurrent weights stay fp32.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger("onnxruntime.quantization").setLevel(logging.ERROR)
    tmp = path.with_name(path.stem + ".int8.onnx")
    quantize_dynamic(str(path), str(tmp), weight_type=QuantType.QInt8)
    os.replace(tmp, path)


def half_graph(path: Path) -> None:
    """Replace an ONNX file by its fp16 version: weights and arithmetic in half precision,
    inputs and outputs still fp32 (the runtime feeds and reads the same arrays), TopK and
    the other ops onnxruntime has no fp16 kernel for left in fp32 (its converter's list)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(path)), keep_io_types=True)
    tmp = path.with_name(path.stem + ".fp16.onnx")
    onnx.save(model, str(tmp))
    os.replace(tmp, path)


LOWER_PRECISION = {"int8": quantize_graph, "fp16": half_graph}


@torch.no_grad()
def compare_with_fp32(net: Seq2Seq, fp32: tuple[Path, Path], lower: tuple[Path, Path],
                      precision: str) -> dict:
    """Greatest logit difference and argmax agreement of the int8 or fp16 graphs against
    fp32 on probe batches."""
    cfg = net.config
    sessions = {name: (cpu_session(enc), cpu_session(dec)) for name, (enc, dec) in
                (("fp32", fp32), (precision, lower))}
    _, enc_out = encoder_io(cfg)
    dec_in, _ = decoder_io(cfg)
    worst, agree, total = 0.0, 0, 0
    for seed in range(3):
        src, src_len = probe_inputs(net, 32, seed=seed + 10)
        logits = {}
        for name, (enc, dec) in sessions.items():
            encoded = enc.run(enc_out, encoder_feed(enc, src, src_len))  # states, then memory
            tokens = np.full(src.shape[0], 2, dtype=np.int64)
            logits[name] = dec.run([LOGITS], dict(zip(dec_in, (tokens, *encoded))))[0]
        worst = max(worst, float(np.abs(logits["fp32"] - logits[precision]).max()))
        agree += int((logits["fp32"].argmax(-1) == logits[precision].argmax(-1)).sum())
        total += src.shape[0]
    return {f"{precision}_max_logit_diff": round(worst, 5),
            f"{precision}_argmax_agreement": round(agree / total, 4)}
