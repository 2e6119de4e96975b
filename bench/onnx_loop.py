"""Does the whole greedy loop inside one ONNX `Loop` beat the runtime's Python loop?

    python bench/onnx_loop.py [--bundle DIR] [--input runs/heldout/test.en] [--repeats 3]

Builds, from the bundle's decoder step, a graph whose `Loop` runs the step until every
row has emitted <eos> (or max_len steps), carrying the states and a `done` mask and
scanning out the tokens; the memory (context, or the attention memory) is read from
the outer scope. The encoder stays its own session. Both sides decode the same
length-sorted batches on one thread; the tokens must agree. A Loop cannot drop finished
rows, which the Python loop does after every step: that is the trade being measured.
Prints one JSON line per batch size.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from s2s_batch.runtime.batching import pad_batch, sorted_batches
from s2s_batch.runtime.bundle.manifest import DECODER_FILE, load_manifest
from s2s_batch.runtime.search.loop import greedy_decode
from s2s_batch.runtime.translator import Translator, default_bundle_dir


def loop_graph(decoder_path: Path, state_names: list[str], memory_names: list[str],
               eos: int) -> onnx.ModelProto:
    """The decoder step wrapped in a Loop: (tokens [B] int64, states..., memory...,
    max_len int64) → steps [T, B] int64."""
    step = onnx.load(str(decoder_path))
    g = step.graph
    rename = {"tokens": "tokens_in", **{s: f"{s}_in" for s in state_names}}
    body_nodes = []
    for node in g.node:
        node = onnx.NodeProto.FromString(node.SerializeToString())
        node.input[:] = [rename.get(i, i) for i in node.input]
        body_nodes.append(node)
    # The step's other inputs without a default (shortlist, prescore switch, ...) become
    # inputs of the whole graph, read by the body from the outer scope, and fed what the
    # runtime feeds its own step (Graphs._feed).
    defaults = {t.name for t in g.initializer}
    outer = [i for i in g.input if i.name not in defaults
             and i.name not in ("tokens", *state_names, *memory_names)]
    body_nodes += [
        helper.make_node("Constant", [], ["eos_id"], value=helper.make_tensor("eos", TensorProto.INT64, [], [eos])),
        helper.make_node("Equal", ["next_token", "eos_id"], ["is_eos"]),
        helper.make_node("Or", ["done_in", "is_eos"], ["done_out"]),
        helper.make_node("Not", ["done_out"], ["live"]),
        helper.make_node("Cast", ["live"], ["live_int"], to=TensorProto.INT64),
        helper.make_node("ReduceMax", ["live_int"], ["any_live_int"], keepdims=0),
        helper.make_node("Cast", ["any_live_int"], ["cond_out"], to=TensorProto.BOOL),
        helper.make_node("Identity", ["next_token"], ["tokens_out"]),
        helper.make_node("Identity", ["next_token"], ["step_tokens"]),
        *(helper.make_node("Identity", [f"{s}_out"], [f"{s}_next"]) for s in state_names),
    ]
    state_type = {i.name: i.type for i in g.input}
    body = helper.make_graph(
        body_nodes, "greedy_step",
        [helper.make_tensor_value_info("iteration", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("tokens_in", TensorProto.INT64, [None]),
         helper.make_tensor_value_info("done_in", TensorProto.BOOL, [None]),
         *(helper.make_value_info(f"{s}_in", state_type[s]) for s in state_names)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("tokens_out", TensorProto.INT64, [None]),
         helper.make_tensor_value_info("done_out", TensorProto.BOOL, [None]),
         *(helper.make_value_info(f"{s}_next", state_type[s]) for s in state_names),
         helper.make_tensor_value_info("step_tokens", TensorProto.INT64, [None])])
    main_nodes = [
        helper.make_node("Constant", [], ["true"], value=helper.make_tensor("t", TensorProto.BOOL, [], [True])),
        helper.make_node("Shape", ["tokens"], ["batch_shape"]),
        helper.make_node("ConstantOfShape", ["batch_shape"], ["done0"],
                         value=helper.make_tensor("f", TensorProto.BOOL, [1], [False])),
        helper.make_node("Loop", ["max_len", "true", "tokens", "done0", *state_names],
                         ["tokens_last", "done_last", *(f"{s}_last" for s in state_names), "steps"],
                         body=body),
    ]
    main = helper.make_graph(
        main_nodes, "greedy_loop",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, [None]),
         helper.make_tensor_value_info("max_len", TensorProto.INT64, []),
         *(i for i in g.input if i.name in state_names or i.name in memory_names), *outer],
        [helper.make_tensor_value_info("steps", TensorProto.INT64, [None, None])],
        initializer=list(g.initializer))
    model = helper.make_model(main, opset_imports=list(step.opset_import))
    model.ir_version = step.ir_version
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--input", type=Path, default=Path("runs/heldout/test.en"))
    parser.add_argument("--batch-sizes", default="64,256")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    bundle = args.bundle or default_bundle_dir()
    manifest = load_manifest(bundle)
    cfg = manifest.config
    translator = Translator(bundle, threads=1, inter_threads=1, max_decoding_length=cfg.max_decode_len)
    graphs = translator.graphs
    tv = translator.tgt_vocab
    model = loop_graph(manifest.path(DECODER_FILE), list(cfg.state_names), list(cfg.memory_names), tv.eos)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = 1, 1
    loop = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    loop_inputs = [i.name for i in loop.get_inputs()]
    lines = args.input.read_text(encoding="utf-8").splitlines()
    rows = [r for r in (translator.source_ids(line) for line in lines) if r]
    max_len = translator.max_decoding_length

    def python_loop(batches):
        out = []
        for src, src_len in batches:
            out += [h.ids for h in greedy_decode(graphs, src, src_len, tv.bos, tv.eos, max_len)]
        return out

    def onnx_loop(batches):
        out = []
        for src, src_len in batches:
            states, memory = graphs.encode(src, src_len)
            tokens = np.full(src.shape[0], tv.bos, dtype=np.int64)
            feed = {**graphs._feed(tokens, states, memory), "max_len": np.array(max_len, dtype=np.int64)}
            steps = loop.run(["steps"], {name: feed[name] for name in loop_inputs})[0]
            for row in steps.T.tolist():
                out.append(row[: row.index(tv.eos)] if tv.eos in row else row)
        return out

    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        batches = [pad_batch([rows[i] for i in b], translator.src_vocab.pad, None)
                   for b in sorted_batches([len(r) for r in rows], batch_size)]
        timings = {}
        for name, fn in (("python_loop", python_loop), ("onnx_loop", onnx_loop)):
            result = fn(batches)  # warm-up
            best = float("inf")
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                result = fn(batches)
                best = min(best, time.perf_counter() - t0)
            timings[name] = (best, result)
        (py_s, py_ids), (loop_s, loop_ids) = timings["python_loop"], timings["onnx_loop"]
        print(json.dumps({"batch_size": batch_size, "sentences": len(rows),
                          "python_loop_sentences_per_s": round(len(rows) / py_s),
                          "onnx_loop_sentences_per_s": round(len(rows) / loop_s),
                          "onnx_loop_vs_python_loop": round(py_s / loop_s, 3),
                          "same_tokens": sum(a == b for a, b in zip(py_ids, loop_ids))}), flush=True)


if __name__ == "__main__":
    main()
