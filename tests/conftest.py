"""Shared fixtures: a tiny synthetic corpus, tiny trained checkpoints and their bundles."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import LINES
from tests.toy import make_pairs, tiny_config, toy_corpus_text, variant_config

__all__ = ["make_pairs", "tiny_config"]

@pytest.fixture(scope="session")
def corpus_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "toy.txt"
    path.write_text(toy_corpus_text(), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def toy_sentences() -> list[str]:
    """English test lines, distinct from training order, plus unknown words and a long line."""
    lines = [en for en, _ in make_pairs(120, seed=7)]
    lines += ["I see the zebra.", "We eat a big red old small big dog house car book .",
              "They want the apple!"]
    return lines


_CHECKPOINTS: dict = {}


@pytest.fixture(scope="session")
def trained(corpus_path, tmp_path_factory):
    """trained(cell, seed_semantics, attention) → checkpoint path, trained once per session.

    attention is none, additive, dot, general or local, with "+bi" for a bidirectional
    encoder, "+res" for residual connections, "+self" for encoder self-attention and
    "+after" for attention after the cell (Luong's decoder).
    """
    def get(cell: str = "gru", seed_semantics: bool = False, attention: str = "none") -> Path:
        key = (cell, seed_semantics, attention)
        if key not in _CHECKPOINTS:
            torch = pytest.importorskip("torch")
            from s2s_batch.train.trainer import train

            out = tmp_path_factory.mktemp(f"run-{cell}-{int(seed_semantics)}-{attention}")
            torch.set_num_threads(1)
            train(variant_config(cell, seed_semantics, attention), corpus_path, out, progress=False,
                  log=lambda msg: None)
            _CHECKPOINTS[key] = out / "checkpoint.pt"
        return _CHECKPOINTS[key]

    return get


_BUNDLES: dict = {}


@pytest.fixture(scope="session")
def bundle(trained, tmp_path_factory):
    """bundle(cell, seed_semantics, attention) → exported bundle folder, trained and exported
    here (tests/runtime overrides it with the committed tests/fixtures/bundles)."""

    def get(cell: str = "gru", seed_semantics: bool = False, attention: str = "none") -> Path:
        key = (cell, seed_semantics, attention)
        if key not in _BUNDLES:
            from s2s_batch.export.bundle import write_bundle
            from s2s_batch.train.checkpoint import load_checkpoint

            net, cfg, sv, tv, payload = load_checkpoint(trained(cell, seed_semantics, attention))
            out = tmp_path_factory.mktemp("bundles") / f"{cell}-{int(seed_semantics)}-{attention}"
            write_bundle(net, cfg, sv, tv, payload, out)
            _BUNDLES[key] = out
        return _BUNDLES[key]

    return get


@pytest.fixture
def input_file(tmp_path):
    """A small input file of tests.helpers.LINES, blank lines among them."""
    path = tmp_path / "in.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path
