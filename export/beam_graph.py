"""The beam-search ranking graph shipped with the runtime (runtime/beam_topk.onnx).

One beam-search step's ranking, on onnxruntime instead of numpy: the log-softmax of the
decoder step's logits, a mask added (0, or -inf for ids the step may not produce), each
beam's score added, and the k best (score, flat index, token log-probability) of every
sentence's K x V continuations, best first. It holds no weights, so one file serves every bundle; `python -m
s2s_batch.export.beam_graph` rewrites it, and a test checks the shipped file is what this
builds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from s2s_batch.export.onnx_export import OPSET
from s2s_batch.runtime.beam_rank import MASKED_AT_MOST, RANK_FILE


def build() -> onnx.ModelProto:
    """logits [N, V], mask [V], beam_scores [n, K], k [1] → scores, indices, token_logp [n, k].

    One [N, V] pass besides the log-softmax: each row's k + MASKED_AT_MOST best
    log-probabilities (the mask forbids at most that many ids, so the k best allowed ones
    are among them), masked, plus the beam's score, then the k best of each sentence's
    K x (k + MASKED_AT_MOST).
    (onnxruntime's ReduceLogSumExp, which would skip the [N, V] log-softmax, is five
    times slower than it.)
    """
    n = helper.make_node
    nodes = [
        n("LogSoftmax", ["logits"], ["logp"], axis=-1),                       # [N, V]
        n("Add", ["k", "masked_at_most"], ["k_row"]),
        n("Shape", ["logits"], ["logits_shape"]),
        n("Slice", ["logits_shape", "one", "two"], ["vocab"]),                 # [1]: V
        n("Min", ["k_row", "vocab"], ["k_row_v"]),
        n("TopK", ["logp", "k_row_v"], ["row_logp_free", "row_ids"], axis=1, largest=1, sorted=1),
        n("Gather", ["mask", "row_ids"], ["row_mask"], axis=0),
        n("Add", ["row_logp_free", "row_mask"], ["row_logp"]),                 # [N, k + MASKED_AT_MOST]
        n("Shape", ["beam_scores"], ["beams_shape"]),
        n("Concat", ["beams_shape", "minus_one"], ["shape3"], axis=0),         # [n, K, -1]
        n("Reshape", ["row_logp", "shape3"], ["row_logp3"]),
        n("Unsqueeze", ["beam_scores", "axis2"], ["beam3"]),
        n("Add", ["beam3", "row_logp3"], ["total3"]),                          # beam + logp
        n("Reshape", ["total3", "flat_shape"], ["total"]),                     # [n, K * (k + MASKED_AT_MOST)]
        # flat index into the sentence's K x V scores: beam * V + id
        n("Slice", ["beams_shape", "one", "two"], ["beams"]),                  # [1]: K
        n("Squeeze", ["beams"], ["beams_scalar"]),
        n("Range", ["zero_scalar", "beams_scalar", "one_scalar"], ["beam_index"]),
        n("Unsqueeze", ["beam_index", "axes01_2"], ["beam_index3"]),           # [1, K, 1]
        n("Mul", ["beam_index3", "vocab"], ["beam_offset3"]),
        n("Reshape", ["row_ids", "shape3"], ["row_ids3"]),
        n("Add", ["row_ids3", "beam_offset3"], ["flat3"]),
        n("Reshape", ["flat3", "flat_shape"], ["flat"]),
        n("Reshape", ["row_logp3", "flat_shape"], ["logp_flat"]),
        n("Shape", ["total"], ["total_shape"]),
        n("Slice", ["total_shape", "one", "two"], ["width"]),
        n("Min", ["k", "width"], ["k_final"]),
        n("TopK", ["total", "k_final"], ["scores", "position"], axis=1, largest=1, sorted=1),
        n("GatherElements", ["flat", "position"], ["indices"], axis=1),
        n("GatherElements", ["logp_flat", "position"], ["token_logp"], axis=1),
    ]
    arrays = {"two": np.array([2], np.int64), "masked_at_most": np.array([MASKED_AT_MOST], np.int64),
              "one": np.array([1], np.int64), "minus_one": np.array([-1], np.int64),
              "axis2": np.array([2], np.int64), "flat_shape": np.array([0, -1], np.int64),
              "zero_scalar": np.array(0, np.int64), "one_scalar": np.array(1, np.int64),
              "axes01_2": np.array([0, 2], np.int64)}
    constants = [numpy_helper.from_array(value, name) for name, value in arrays.items()]
    graph = helper.make_graph(
        nodes, "beam_rank",
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["rows", "vocab"]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["vocab"]),
         helper.make_tensor_value_info("beam_scores", TensorProto.FLOAT, ["sentences", "beam"]),
         helper.make_tensor_value_info("k", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["sentences", "k"]),
         helper.make_tensor_value_info("indices", TensorProto.INT64, ["sentences", "k"]),
         helper.make_tensor_value_info("token_logp", TensorProto.FLOAT, ["sentences", "k"])],
        initializer=constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="s2s-batch")
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    return model


def shipped_path() -> Path:
    """Where the runtime reads the graph from (runtime/beam_topk.onnx in the source tree)."""
    return Path(__file__).resolve().parents[1] / "runtime" / RANK_FILE


if __name__ == "__main__":
    onnx.save(build(), shipped_path())
    print(f"wrote {shipped_path()}")
