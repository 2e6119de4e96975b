"""The CUDA path of greedy search: the decoder loop step in CUDA graphs gives the CPU
provider's tokens. Runs where onnxruntime has a GPU (bench/device_cuda.sh runs it on the
lent GPU machine); skipped elsewhere, as in CI. S2S_CUDA_BUNDLE names the bundle (one
with the loop step, `s2s-export --device cuda`; default: the shipped one)."""

from __future__ import annotations

import os
from pathlib import Path

import onnxruntime as ort
import pytest

from s2s_batch.runtime.translator import Translator, default_bundle_dir

pytestmark = pytest.mark.skipif("CUDAExecutionProvider" not in ort.get_available_providers(),
                                reason="onnxruntime has no CUDA provider here (no GPU)")

LINES = ["I'm home.", "He's calm.", "Tom wants to know why you didn't come to the party yesterday.",
         "Where is the station?", "It's raining.", "Could you tell me how to get to the museum, please?",
         "We have three children and two dogs.", "She said that she would come back at 5 o'clock."]


@pytest.fixture(scope="module")
def cuda_bundle() -> Path:
    path = Path(os.environ.get("S2S_CUDA_BUNDLE") or default_bundle_dir())
    translator = Translator(path, device="cpu", split_sentences=False)
    if "decoder_loop" not in translator.manifest.graphs:
        pytest.skip(f"{path} has no decoder loop step; export it with s2s-export --device cuda")
    return path


def test_cuda_graph_loop_gives_the_cpu_providers_tokens(cuda_bundle):
    cuda = Translator(cuda_bundle, device="cuda", split_sentences=False)
    cpu = Translator(cuda_bundle, device="cpu", split_sentences=False)
    assert cuda.fixed_loop is not None and cuda.fixed_loop.cuda_graph, cuda.fixed_loop.capture_error
    lines = LINES * 40
    for batch in (1, 5, 64, 320):  # buckets of 8, 8, 64 and 512 rows
        assert cuda.translate_ids(lines, max_batch_size=batch) == cpu.translate_ids(lines, max_batch_size=batch)
    # replays of captured buckets, other caps and min_len
    assert cuda.translate_ids(lines, max_batch_size=64) == cpu.translate_ids(lines, max_batch_size=64)
    short = cuda.translate_ids(LINES, max_decoding_length=4)
    assert short == cpu.translate_ids(LINES, max_decoding_length=4) and max(map(len, short)) == 4
    assert all(len(ids) >= 12 for ids in cuda.translate_ids(LINES, min_decoding_length=12))


def test_cuda_graphs_can_be_turned_off(cuda_bundle, monkeypatch):
    monkeypatch.setenv("S2S_BATCH_CUDA_GRAPHS", "0")
    cuda = Translator(cuda_bundle, device="cuda", split_sentences=False)
    assert cuda.fixed_loop is not None and not cuda.fixed_loop.cuda_graph
    cpu = Translator(cuda_bundle, device="cpu", split_sentences=False)
    assert cuda.translate_ids(LINES) == cpu.translate_ids(LINES)
