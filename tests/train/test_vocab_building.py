"""Building vocabularies from training text: reserved ids first, min_freq, unknowns."""

from __future__ import annotations

from s2s_batch.runtime.bundle.tokens import RESERVED, Vocab
from s2s_batch.train.learned_tables import build_vocab


def test_vocab_reserved_order_min_freq_and_unknowns():
    vocab = build_vocab([["a", "b", "a"], ["c", "a", "b"]], min_freq=2)
    assert vocab.idx_to_token[:4] == list(RESERVED)
    assert vocab.idx_to_token[4:] == ["a", "b"]  # c seen once: dropped
    assert vocab.encode(["a", "c", "b"]) == [4, vocab.unk, 5]
    assert vocab.decode([5, 4]) == ["b", "a"]


def test_vocab_round_trips_through_a_file(tmp_path):
    vocab = build_vocab([["l'été", "ça", "😀"]], min_freq=1)
    vocab.save(tmp_path / "v.txt")
    assert Vocab.load(tmp_path / "v.txt").idx_to_token == vocab.idx_to_token
