"""The first decoder layer's input projection moved out of the step (export/context_gates.py)."""

from __future__ import annotations

import onnx
import pytest
from onnx import numpy_helper

from s2s_batch.export.context_gates import CONTEXT, CONTEXT_GATES_WEIGHT_EMB, context_gates_weight
from s2s_batch.export.verify import max_graph_difference
from s2s_batch.runtime.bundle.manifest import DECODER_FILE, ENCODER_FILE
from s2s_batch.train.checkpoint import load_checkpoint


def _width(values, name):
    (value,) = [v for v in values if v.name == name]
    return value.type.tensor_type.shape.dim[1].dim_value


@pytest.mark.parametrize("seed_semantics", [False, True])
def test_fixed_context_gru_bundles_take_the_projected_context(trained, bundle, seed_semantics):
    net, cfg, *_ = load_checkpoint(trained("gru", seed_semantics))
    root = bundle("gru", seed_semantics)
    hidden, embed, vocab = cfg.model.hidden_size, cfg.model.embed_size, cfg.model.tgt_vocab_size
    weight = context_gates_weight(root / ENCODER_FILE)
    assert weight is not None and weight.shape == (hidden, 3 * hidden)
    encoder, decoder = (onnx.load(str(root / name)) for name in (ENCODER_FILE, DECODER_FILE))
    assert _width(encoder.graph.output, CONTEXT) == 3 * hidden
    assert _width(decoder.graph.input, CONTEXT) == 3 * hidden
    assert [node.op_type for node in decoder.graph.node if CONTEXT in node.input] == ["Add"]
    # the [V, 3H] embedding table is made when the session loads, not stored
    shapes = {tuple(numpy_helper.to_array(t).shape) for t in decoder.graph.initializer}
    assert (vocab, 3 * hidden) not in shapes and (vocab, embed) in shapes
    assert max_graph_difference(net, root / ENCODER_FILE, root / DECODER_FILE,
                                batch_sizes=(1, 5), steps=4) <= 1e-5


@pytest.mark.parametrize("cell,attention", [("lstm", "none"), ("gru", "additive")])
def test_other_decoders_are_left_alone(bundle, cell, attention):
    root = bundle(cell, False, attention)
    assert context_gates_weight(root / ENCODER_FILE) is None
    # and the decoder step was not rewritten either: no embedding factor, no table lookup
    decoder = onnx.load(str(root / DECODER_FILE)).graph
    assert CONTEXT_GATES_WEIGHT_EMB not in {t.name for t in decoder.initializer}
    assert not any("context_gates" in out for node in decoder.node for out in node.output)


@pytest.mark.parametrize("attention", ["general+after", "dot+bi+after"])
def test_after_cell_decoders_gather_their_first_layer_input_from_a_token_table(bundle, trained, attention):
    from s2s_batch.export.embedding_gates import EMBEDDING_TABLE

    root = bundle("gru", False, attention)
    decoder = onnx.load(str(root / DECODER_FILE)).graph
    table = next(node for node in decoder.node if node.output[0] == EMBEDDING_TABLE)
    assert table.op_type == "Gemm" and all(i in {t.name for t in decoder.initializer} for i in table.input)
    gathers = [node for node in decoder.node if node.op_type == "Gather" and node.input[0] == EMBEDDING_TABLE]
    assert len(gathers) == 1 and gathers[0].input[1] == "tokens"
    # the table is folded when the session loads: the bundle holds the factors only
    vocab = next(t for t in decoder.initializer if t.name == table.input[0]).dims[0]
    hidden3 = next(t for t in decoder.initializer if t.name == table.input[1]).dims[0]
    assert [vocab, hidden3] not in [list(t.dims) for t in decoder.initializer]
    net, *_ = load_checkpoint(trained("gru", False, attention))
    assert max_graph_difference(net, root / ENCODER_FILE, root / DECODER_FILE,
                                batch_sizes=(1, 5), steps=4) <= 1e-5
