"""The seed's text preprocessing, shared by training and the runtime."""

from __future__ import annotations

_SPACE_BEFORE = frozenset(",.!?")
# French text uses narrow and ordinary non-breaking spaces before ! and ?
_NBSP = str.maketrans({"\u202f": " ", "\xa0": " "})


def preprocess(text: str) -> str:
    """Non-breaking spaces to spaces, lowercase, a space before , . ! ? (the seed's rule)."""
    text = text.translate(_NBSP).lower()
    out = []
    for i, char in enumerate(text):
        if i > 0 and char in _SPACE_BEFORE and text[i - 1] != " ":
            out.append(" ")
        out.append(char)
    return "".join(out)


def tokenize(text: str) -> list[str]:
    """Preprocess then split into word tokens.

    The seed splits on single spaces; splitting on any whitespace gives the same
    tokens on the corpus and never yields empty tokens on messy input.
    """
    return preprocess(text).split()


def detokenize(tokens: list[str]) -> str:
    """Join tokens into text, re-attaching '.' and ','; French keeps its space before '!' and '?'."""
    text = " ".join(tokens)
    return text.replace(" .", ".").replace(" ,", ",")
