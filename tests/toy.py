"""The toy corpus and tiny model config the tests share; no torch, so the runtime's
tests and tests/fixtures/make_bundles.py can both use it."""

from __future__ import annotations

import random

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


def tiny_config(cell: str = "gru", seed_semantics: bool = False, **overrides):
    """A model small enough to train in a few seconds (a TrainConfig)."""
    from s2s_batch.train.config import make_config

    base = dict(cell=cell, embed_size=16, hidden_size=24, num_layers=2, dropout=0.1,
                num_steps=10 if seed_semantics else 12, pad_source=seed_semantics,
                max_decode_len=10 if seed_semantics else 14, batch_size=32, lr=0.005, epochs=8,
                min_freq=1, dev_permille=100, test_permille=100, dev_limit=0, seed=0)
    base.update(overrides)
    return make_config("default", **base)


def variant_config(cell: str = "gru", seed_semantics: bool = False, attention: str = "none"):
    """tiny_config for a test variant: attention "KIND+bi+res+self+after" is attention KIND
    with a bidirectional encoder, residual connections, encoder self-attention and
    attention after the cell (Luong's decoder), each when named."""
    kind, *extras = attention.split("+")
    return tiny_config(cell, seed_semantics, attention=kind, bidirectional="bi" in extras,
                       residual="res" in extras, self_attention="self" in extras,
                       attention_placement="after-cell" if "after" in extras else "before-cell")


def toy_corpus_text() -> str:
    """The training corpus of every tiny test model, as fra.txt lays it out."""
    return "".join(f"{en}\t{fr}\n" for en, fr in make_pairs(700))
