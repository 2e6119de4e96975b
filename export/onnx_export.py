"""Tracing the encoder and one decoder step to ONNX."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from s2s_batch.export.graphs import DecoderStepGraph, EncoderGraph, probe_inputs
from s2s_batch.runtime.bundle.graph_names import (
    ATTENTION,
    CONTEXT,
    LOGITS,
    MEMORY,
    MEMORY_KEYS,
    NEXT_TOKEN,
    SRC,
    SRC_LEN,
    SRC_MASK,
    TOKENS,
    state_output,
)
from s2s_batch.runtime.bundle.manifest import decoder_io, encoder_io
from s2s_batch.train.model import Seq2Seq

OPSET = 20

# Why the TorchScript exporter (dynamo=False): torch 2.13's default dynamo exporter needs
# onnxscript and does not lower packed sequences, while the TorchScript exporter maps
# nn.RNN/GRU/LSTM to ONNX's native operators and a packed sequence to their
# `sequence_lens` input, so each row's final state is taken at its own length inside one
# fused operator. It warns that batch sizes other than the traced one may fail with
# variable lengths; that applies to a traced initial state, which these graphs never
# trace (the encoder starts from the operator's zero state, the step takes the state as
# an input), and the parity tests run batch sizes 1, 3 and 64 to prove it.
_EXPORTER_WARNINGS = ("legacy TorchScript-based ONNX export", "batch_size other than 1",
                      "Converting a tensor to a Python", "The feature will be removed")


def _export(module, args, path: Path, inputs, outputs, dynamic_axes) -> None:
    with warnings.catch_warnings():
        for text in _EXPORTER_WARNINGS:
            warnings.filterwarnings("ignore", message=f".*{text}.*")
        torch.onnx.export(module, args, str(path), dynamo=False, opset_version=OPSET,
                          input_names=inputs, output_names=outputs, dynamic_axes=dynamic_axes,
                          do_constant_folding=True)


@torch.no_grad()
def export_graphs(net: Seq2Seq, encoder_path: Path, decoder_path: Path) -> None:
    """Write encoder.onnx and decoder_step.onnx with dynamic batch and source length."""
    net = net.eval().cpu()
    cfg = net.config
    src, src_len = probe_inputs(net)
    enc_in, enc_out = encoder_io(cfg)
    memory_axes = {CONTEXT: {0: "batch"}, MEMORY: {0: "batch", 1: "src_len"},
                   MEMORY_KEYS: {0: "batch", 1: "src_len"}, SRC_MASK: {0: "batch", 1: "src_len"}}
    enc_axes = {SRC: {0: "batch", 1: "src_len"}, SRC_LEN: {0: "batch"}}
    enc_axes.update({name: {1: "batch"} for name in cfg.state_names})
    enc_axes.update({name: memory_axes[name] for name in cfg.memory_names})
    _export(EncoderGraph(net), (src, src_len), encoder_path, enc_in, enc_out, enc_axes)

    state, memory = net.encode(src, src_len)
    states = state if isinstance(state, tuple) else (state,)
    tokens = torch.full((src.shape[0],), 2, dtype=torch.long)
    dec_in, dec_out = decoder_io(cfg)
    dec_axes = {TOKENS: {0: "batch"}, LOGITS: {0: "batch"}, NEXT_TOKEN: {0: "batch"},
                ATTENTION: {0: "batch", 1: "src_len"}}
    dec_axes.update({name: memory_axes[name] for name in cfg.memory_names})
    dec_axes.update({name: {1: "batch"} for name in cfg.state_names})
    dec_axes.update({state_output(name): {1: "batch"} for name in cfg.state_names})
    _export(DecoderStepGraph(net), (tokens, *states, *memory), decoder_path, dec_in, dec_out,
            {k: v for k, v in dec_axes.items() if k in dec_in or k in dec_out})
