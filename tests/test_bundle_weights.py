"""The eager model rebuilt from a bundle's ONNX weights is the checkpoint it came from."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from s2s_batch.train.bundle_weights import eager_from_bundle  # noqa: E402
from s2s_batch.train.checkpoint import load_checkpoint  # noqa: E402


@pytest.mark.parametrize("seed_semantics", [False, True])
def test_rebuilt_weights_equal_the_checkpoints_bit_for_bit(trained, bundle, seed_semantics):
    net, *_ = load_checkpoint(trained("gru", seed_semantics))
    rebuilt = eager_from_bundle(bundle("gru", seed_semantics))
    assert rebuilt.config == net.config
    expected, got = net.state_dict(), rebuilt.state_dict()
    assert got.keys() == expected.keys()
    for name, tensor in expected.items():
        assert torch.equal(got[name], tensor), name
    assert not rebuilt.training


def test_bundles_it_cannot_rebuild_are_refused(bundle):
    with pytest.raises(ValueError, match="only fp32 GRU bundles"):
        eager_from_bundle(bundle("lstm"))
    with pytest.raises(ValueError, match="only fp32 GRU bundles"):
        eager_from_bundle(bundle("gru", False, "additive"))
