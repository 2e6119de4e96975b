"""The eager model behind a bundle, rebuilt from the weights its ONNX graphs hold.

An fp32 bundle of a unidirectional GRU model, with the seed's fixed context or with dot or
general attention after the cell, keeps every parameter of the checkpoint it was exported
from, only laid out for onnxruntime: the encoder's GRU nodes hold W, R and both biases in
ONNX's gate order (z, r, h; PyTorch's is r, z, n), the decoder step's cells
(`export/step_cells.py`) hold them per layer, the first decoder layer's input weight of a
fixed-context model is split in two by `export/context_gates.py` (embedding part in the
step, context part in the encoder), and the attention's key matrix (in the encoder) and
Luong's W_c (in the step) are MatMul weights, transposed. Undoing those layouts gives the
checkpoint's tensors bit for bit, so benchmarks and parity checks can run the eager model
of a shipped bundle without the training run that made it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from s2s_batch.export.context_gates import CONTEXT_GATES_WEIGHT, CONTEXT_GATES_WEIGHT_EMB
from s2s_batch.export.step_cells import CELL_SUFFIX
from s2s_batch.export.weight_storage import load_widened
from s2s_batch.runtime.bundle.manifest import (
    DECODER_FILE,
    ENCODER_FILE,
    SHORTLIST_FILE,
    SOURCE_CASE_FILE,
    SRC_SPM_FILE,
    SRC_VOCAB_FILE,
    TGT_SPM_FILE,
    TGT_VOCAB_FILE,
    TRUECASE_FILE,
    Manifest,
    load_manifest,
)
from s2s_batch.runtime.bundle.shortlist import LexicalTable
from s2s_batch.runtime.bundle.tokens import Recaser, Vocab
from s2s_batch.train.checkpoint import load_checkpoint
from s2s_batch.train.config import TrainConfig
from s2s_batch.train.lexicon import lexicon_payload
from s2s_batch.train.model import Seq2Seq

CELL_WEIGHT_H = f"{CELL_SUFFIX}_weight_h"


def _torch_gate_order(onnx_rows: np.ndarray) -> torch.Tensor:
    """Rows (or biases) in ONNX's z, r, h order → PyTorch's r, z, n."""
    z, r, n = np.split(onnx_rows, 3, axis=0)
    return torch.from_numpy(np.concatenate([r, z, n], axis=0))


def _initializers(path: Path) -> tuple[onnx.GraphProto, dict[str, np.ndarray]]:
    graph = load_widened(path).graph
    return graph, {t.name: numpy_helper.to_array(t) for t in graph.initializer}


def _named(weights: dict, name: str) -> np.ndarray:
    found = [key for key in weights if key == name or key.endswith("." + name)]
    if len(found) != 1:
        raise ValueError(f"no single initializer named {name} in the graph")
    return weights[found[0]]


def _encoder_layers(graph: onnx.GraphProto, weights: dict) -> list[tuple]:
    """(W_ih, W_hh, b_ih, b_hh) per layer, in ONNX gate order, from the GRU nodes."""
    layers = []
    for node in graph.node:
        if node.op_type == "GRU":
            w, r, b = (weights[name][0] for name in node.input[1:4])
            b_ih, b_hh = np.split(b, 2)
            layers.append((w, r, b_ih, b_hh))
    return layers


def _decoder_layers(graph: onnx.GraphProto, weights: dict, context_part: np.ndarray | None) -> list[tuple]:
    """(W_ih, W_hh, b_ih, b_hh) per layer, in ONNX gate order, from the unfused step cells."""
    prefixes = []  # {GRU node output}_cell, in graph order: layer 0 first
    for node in graph.node:
        for name in node.input:
            prefix = name.removesuffix("_weight_h")
            if name.endswith(CELL_WEIGHT_H) and prefix not in prefixes:
                prefixes.append(prefix)
    layers = []
    for i, prefix in enumerate(prefixes):
        if f"{prefix}_weight_x" in weights:
            w_ih = weights[f"{prefix}_weight_x"]
        elif i == 0 and context_part is not None and CONTEXT_GATES_WEIGHT_EMB in weights:
            w_ih = np.concatenate([weights[CONTEXT_GATES_WEIGHT_EMB], context_part.T], axis=1)
        else:
            raise ValueError(f"decoder layer {i}: no input weight in the graph")
        layers.append((w_ih, weights[f"{prefix}_weight_h"], weights[f"{prefix}_bias_x"],
                       weights[f"{prefix}_bias_h"]))
    return layers


def _matmul_weight(graph: onnx.GraphProto, weights: dict, module: str) -> torch.Tensor:
    """The weight of the traced Linear `module` (no bias: a MatMul by its transpose)."""
    found = [node.input[1] for node in graph.node
             if node.op_type == "MatMul" and node.name == f"/{module}/MatMul" and node.input[1] in weights]
    if len(found) != 1:
        raise ValueError(f"no single MatMul of {module} in the graph")
    return torch.from_numpy(weights[found[0]].T.copy())


def _rebuildable(manifest: Manifest) -> bool:
    cfg = manifest.config
    attention_ok = cfg.attention == "none" or (cfg.attention in ("dot", "general")
                                               and cfg.attention_after_cell)
    return (cfg.cell == "gru" and attention_ok and not cfg.bidirectional and not cfg.residual
            and not cfg.self_attention and manifest.precision == "fp32")


def eager_from_bundle(bundle_dir: str | Path | Manifest) -> Seq2Seq:
    """The bundle's model as an eager Seq2Seq in eval mode, with the exported weights.

    Rebuilds fp32 unidirectional GRU models with the seed's fixed context or with dot or
    general attention after the cell (the default bundle's kinds); raises ValueError for
    any other bundle. Takes the folder or its loaded Manifest.
    """
    manifest = bundle_dir if isinstance(bundle_dir, Manifest) else load_manifest(Path(bundle_dir))
    bundle_dir = manifest.root
    cfg = manifest.config
    if not _rebuildable(manifest):
        raise ValueError(f"{bundle_dir}: only fp32 unidirectional GRU bundles with the seed's fixed "
                         "context or dot/general attention after the cell can be rebuilt as an eager "
                         "model; pass the checkpoint it was exported from")
    enc_graph, enc_weights = _initializers(manifest.path(ENCODER_FILE))
    dec_graph, dec_weights = _initializers(manifest.path(DECODER_FILE))
    encoder = _encoder_layers(enc_graph, enc_weights)
    decoder = _decoder_layers(dec_graph, dec_weights, enc_weights.get(CONTEXT_GATES_WEIGHT))
    if len(encoder) != cfg.num_layers or len(decoder) != cfg.num_layers:
        raise ValueError(f"{bundle_dir}: found {len(encoder)} encoder and {len(decoder)} decoder "
                         f"layers, the manifest says {cfg.num_layers}")
    # The traced graphs keep these parameters' names (the encoder's behind a wrapper's prefix).
    state = {name: torch.from_numpy(_named(weights, name).copy()) for name, weights in (
        ("encoder.embedding.weight", enc_weights), ("decoder.embedding.weight", dec_weights),
        ("decoder.dense.weight", dec_weights), ("decoder.dense.bias", dec_weights))}
    for side, layers in (("encoder", encoder), ("decoder", decoder)):
        for i, tensors in enumerate(layers):
            for kind, tensor in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), tensors):
                state[f"{side}.rnn.{kind}_l{i}"] = _torch_gate_order(tensor)
    if cfg.attention != "none":
        state["decoder.combine.weight"] = _matmul_weight(dec_graph, dec_weights, "combine")
        if cfg.attention == "general":
            state["decoder.attention.w_key.weight"] = _matmul_weight(enc_graph, enc_weights, "w_key")
    net = Seq2Seq(cfg)
    net.load_state_dict(state)  # strict: a missing or extra tensor is an error
    return net.eval()


def checkpoint_from_bundle(bundle_dir: str | Path) -> tuple:
    """(model, TrainConfig, src Vocab, tgt Vocab, payload) as `load_checkpoint` returns them,
    rebuilt from a bundle: what `write_bundle` needs to export it again (int8, without
    prescoring, ...). The payload holds what the manifest recorded of the training run
    (recipe, dev score, data provenance) and the tokenizer, lexical and truecasing tables
    the bundle ships; no optimizer state, so training cannot resume from it."""
    root = Path(bundle_dir)
    manifest = load_manifest(root)
    net, data = eager_from_bundle(manifest), manifest.data
    recipe, metrics = data.get("recipe") or {}, data.get("metrics") or {}
    if "train_config" not in recipe:
        raise ValueError(f"{root}: the manifest records no training recipe; pass the checkpoint the "
                         "bundle was exported from")
    cfg = TrainConfig.from_dict(recipe["train_config"])
    src_vocab, tgt_vocab = Vocab.load(root / SRC_VOCAB_FILE), Vocab.load(root / TGT_VOCAB_FILE)
    payload = {
        "epoch": recipe.get("epochs_trained", 0) - 1,
        "averaged_last": metrics.get("averaged_last"),
        "history": [{"epoch": metrics.get("dev_epoch"), "dev_bleu": metrics.get("dev_bleu"),
                     "dev_seed_bleu": metrics.get("dev_seed_bleu")}],
        "data": {"command": recipe.get("command"), "file": recipe.get("data_file"),
                 "sha256": recipe.get("data_sha256"), "attribution": data.get("data_attribution"),
                 **({"license": data["data_license"]} if "data_license" in data else {})},
    }
    if cfg.model.tokenizer == "sentencepiece":
        payload["spm_models"] = {"src": (root / SRC_SPM_FILE).read_bytes(),
                                 "tgt": (root / TGT_SPM_FILE).read_bytes()}
    if (root / SHORTLIST_FILE).is_file():
        table = LexicalTable.load(root / SHORTLIST_FILE, len(src_vocab), len(tgt_vocab))
        payload["lexicon"] = lexicon_payload(table)
    if (root / TRUECASE_FILE).is_file():
        payload["truecase"] = Recaser.load(root / TRUECASE_FILE).table
    if (root / SOURCE_CASE_FILE).is_file():
        payload["source_case"] = Recaser.load(root / SOURCE_CASE_FILE).table
    return net, cfg, src_vocab, tgt_vocab, payload


def load_checkpoint_or_bundle(path: str | Path, device: str = "cpu") -> tuple:
    """What `load_checkpoint` returns, from a checkpoint file or from a bundle folder
    (`checkpoint_from_bundle`), the model on `device`."""
    if not Path(path).is_dir():
        return load_checkpoint(Path(path), device)
    net, *rest = checkpoint_from_bundle(path)
    return (net.to(device), *rest)
