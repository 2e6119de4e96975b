"""int8 dynamic quantization of exported graphs (weights int8, activations quantized per call)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch

from s2s_batch.export.graphs import probe_inputs
from s2s_batch.export.verify import cpu_session, encoder_feed
from s2s_batch.runtime.graph_names import LOGITS
from s2s_batch.runtime.manifest import decoder_io, encoder_io
from s2s_batch.train.model import Seq2Seq

QUANTIZATIONS = ("none", "int8")


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


@torch.no_grad()
def compare_with_fp32(net: Seq2Seq, fp32: tuple[Path, Path], int8: tuple[Path, Path]) -> dict:
    """Greatest logit difference and argmax agreement of int8 against fp32 on probe batches."""
    cfg = net.config
    sessions = {name: (cpu_session(enc), cpu_session(dec)) for name, (enc, dec) in
                (("fp32", fp32), ("int8", int8))}
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
        worst = max(worst, float(np.abs(logits["fp32"] - logits["int8"]).max()))
        agree += int((logits["fp32"].argmax(-1) == logits["int8"].argmax(-1)).sum())
        total += src.shape[0]
    return {"int8_max_logit_diff": round(worst, 5), "int8_argmax_agreement": round(agree / total, 4)}
