"""Preprocessing, tokens and id conventions of the runtime."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s2s_batch.runtime.bundle.tokens import detokenize, preprocess, tokenize, with_eos

PREPROCESS_CASES = [
    ("Go.", "go ."),
    ("Hi.", "hi ."),
    ("I'm home.", "i'm home ."),
    ("Va\u202f!", "va !"),
    ("Salut\xa0!", "salut !"),
    ("Wait, what?", "wait , what ?"),
    ("Already spaced .", "already spaced ."),
    ("", ""),
]


@pytest.mark.parametrize("text,expected", PREPROCESS_CASES)
def test_preprocess_matches_the_seed(text, expected):
    assert preprocess(text) == expected


def test_detokenize_reattaches_period_and_comma_only():
    assert detokenize(["je", "suis", "là", ",", "ok", "."]) == "je suis là, ok."
    assert detokenize(["va", "!"]) == "va !"


@given(st.text())
def test_tokens_are_never_empty_and_never_hold_whitespace(text):
    for tok in tokenize(text):
        assert tok and tok == tok.strip() and not any(c.isspace() for c in tok)


def test_with_eos_seed_truncation_drops_eos_but_masked_keeps_it():
    ids = [5, 6, 7, 8]
    assert with_eos(ids, 3, 10, True) == [5, 6, 7, 8, 3]
    assert with_eos(ids, 3, 4, True) == [5, 6, 7, 8]
    assert with_eos(ids, 3, 4, False) == [5, 6, 7, 3]
