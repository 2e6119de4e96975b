"""A bundle graph that keeps its weights in an external file is refused."""

from __future__ import annotations

import shutil

import pytest

from s2s_batch.runtime.bundle.manifest import ENCODER_FILE, sha256_of
from s2s_batch.runtime.errors import BundleError
from tests.helpers import copy_bundle, list_file


@pytest.mark.parametrize("location", ["weights.bin", "../weights.bin", "in the working directory"])
def test_a_graph_with_external_data_is_refused(bundle, tmp_path, location, monkeypatch):
    import onnx

    from s2s_batch.runtime.translator import Translator

    root = copy_bundle(bundle, tmp_path)
    graph = onnx.load(str(root / ENCODER_FILE))
    onnx.save_model(graph, str(root / ENCODER_FILE), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    if location == "in the working directory":  # onnxruntime read it there from a graph's bytes
        (tmp_path / "cwd").mkdir()
        shutil.move(root / "weights.bin", tmp_path / "cwd" / "weights.bin")
        monkeypatch.chdir(tmp_path / "cwd")
    elif location != "weights.bin":  # point the graph at a file outside the bundle
        shutil.move(root / "weights.bin", tmp_path / "weights.bin")
        graph = onnx.load(str(root / ENCODER_FILE), load_external_data=False)
        for tensor in graph.graph.initializer:
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = location
        onnx.save(graph, str(root / ENCODER_FILE))
    list_file(root, ENCODER_FILE, sha256_of(root / ENCODER_FILE))
    with pytest.raises(BundleError, match="onnxruntime cannot load it|External data"):
        Translator(root, threads=1)
