"""Shared fixtures: a tiny synthetic corpus, tiny trained checkpoints and their bundles."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from s2s_batch.train.config import TrainConfig, make_config  # noqa: E402

# A toy English→French grammar: enough structure for a tiny model to learn in seconds,
# with two translations for some sentences (multi-reference) and reordered adjectives.
_SUBJ = {"i": "je", "you": "tu", "he": "il", "she": "elle", "we": "nous", "they": "ils"}
_VERB = {"see": "vois", "like": "aime", "have": "ai", "want": "veux", "eat": "mange"}
_NOUN = {"cat": "chat", "dog": "chien", "apple": "pomme", "house": "maison", "car": "voiture",
         "book": "livre", "bread": "pain"}
_ADJ = {"big": "grand", "small": "petit", "red": "rouge", "old": "vieux"}
_DET = {"the": ["le", "la"], "a": ["un", "une"]}


def make_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    while len(pairs) < n:
        s, v, d, noun = (rng.choice(list(x)) for x in (_SUBJ, _VERB, _DET, _NOUN))
        adjs = rng.sample(list(_ADJ), rng.choice([0, 0, 1, 2]))
        en = " ".join([s, v, d, *adjs, noun]).capitalize() + rng.choice([".", "!", "?"])
        for det in rng.sample(_DET[d], rng.choice([1, 2])):
            fr = " ".join([_SUBJ[s], _VERB[v], det, _NOUN[noun], *(_ADJ[a] for a in adjs)])
            pairs.append((en, fr.capitalize() + en[-1]))
    return pairs


def tiny_config(cell: str = "gru", seed_semantics: bool = False, **overrides) -> TrainConfig:
    """A model small enough to train in a few seconds."""
    base = dict(cell=cell, embed_size=16, hidden_size=24, num_layers=2, dropout=0.1,
                num_steps=10 if seed_semantics else 12, pad_source=seed_semantics,
                max_decode_len=10 if seed_semantics else 14, batch_size=32, lr=0.005, epochs=8,
                min_freq=1, dev_permille=100, test_permille=100, dev_limit=0, seed=0)
    base.update(overrides)
    return make_config("default", **base)


@pytest.fixture(scope="session")
def corpus_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "toy.txt"
    path.write_text("".join(f"{en}\t{fr}\n" for en, fr in make_pairs(700)), encoding="utf-8")
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
    from s2s_batch.train.trainer import train

    def get(cell: str = "gru", seed_semantics: bool = False, attention: str = "none") -> Path:
        key = (cell, seed_semantics, attention)
        if key not in _CHECKPOINTS:
            out = tmp_path_factory.mktemp(f"run-{cell}-{int(seed_semantics)}-{attention}")
            torch.set_num_threads(1)
            # "KIND+bi+res": attention KIND, a bidirectional encoder, residual connections
            kind, *extras = attention.split("+")
            train(tiny_config(cell, seed_semantics, attention=kind, bidirectional="bi" in extras,
                              residual="res" in extras, self_attention="self" in extras,
                              attention_placement="after-cell" if "after" in extras else "before-cell"),
                  corpus_path, out, progress=False, log=lambda msg: None)
            _CHECKPOINTS[key] = out / "checkpoint.pt"
        return _CHECKPOINTS[key]

    return get


_BUNDLES: dict = {}


@pytest.fixture(scope="session")
def bundle(trained, tmp_path_factory):
    """bundle(cell, seed_semantics, attention) → exported bundle folder."""
    from s2s_batch.export.bundle import write_bundle
    from s2s_batch.train.checkpoint import load_checkpoint

    def get(cell: str = "gru", seed_semantics: bool = False, attention: str = "none") -> Path:
        key = (cell, seed_semantics, attention)
        if key not in _BUNDLES:
            net, cfg, sv, tv, payload = load_checkpoint(trained(cell, seed_semantics, attention))
            out = tmp_path_factory.mktemp("bundles") / f"{cell}-{int(seed_semantics)}-{attention}"
            write_bundle(net, cfg, sv, tv, payload, out)
            _BUNDLES[key] = out
        return _BUNDLES[key]

    return get
