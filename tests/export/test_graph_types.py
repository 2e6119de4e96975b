"""A graph with the right names but another element type or rank is refused when the
bundle loads (exit 4), not at the first batch."""

from __future__ import annotations

import pytest

from s2s_batch.runtime.bundle.manifest import ENCODER_FILE, sha256_of
from s2s_batch.runtime.errors import BundleError
from tests.helpers import copy_bundle, list_file


def test_a_source_length_of_another_type_is_refused_at_load(bundle, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from s2s_batch.runtime.translator import Translator

    root = copy_bundle(bundle, tmp_path)
    model = onnx.load(str(root / ENCODER_FILE))
    graph = model.graph
    for node in graph.node:  # the graph reads src_len through a Cast from int32
        node.input[:] = ["src_len_int64" if name == "src_len" else name for name in node.input]
    graph.node.insert(0, helper.make_node("Cast", ["src_len"], ["src_len_int64"], to=TensorProto.INT64))
    next(i for i in graph.input if i.name == "src_len").type.tensor_type.elem_type = TensorProto.INT32
    onnx.save(model, str(root / ENCODER_FILE))
    list_file(root, ENCODER_FILE, sha256_of(root / ENCODER_FILE))
    with pytest.raises(BundleError, match="src_len is a tensor\\(int32\\) of rank 1, not a tensor\\(int64\\)"):
        Translator(root, threads=1)
