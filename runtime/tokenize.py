"""The seed's text preprocessing, shared by training and the runtime."""

from __future__ import annotations

_SPACE_BEFORE = frozenset(",.!?")
# French text uses narrow and ordinary non-breaking spaces before ! and ?
_NBSP = str.maketrans({"\u202f": " ", "\xa0": " "})


def preprocess(text: str, lowercase: bool = True) -> str:
    """Non-breaking spaces to spaces, lowercase, a space before , . ! ? (the seed's rule).

    With lowercase=False the case is kept (to learn how each word is cased).
    """
    text = text.translate(_NBSP)
    text = text.lower() if lowercase else text
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


class WordTokenizer:
    """The seed's word level: lowercased, punctuation split off (what --preset d2l uses).

    With a recaser, decoded text is truecased (names capitalised, the first letter too).
    """

    kind = "word"

    def __init__(self, recaser=None):
        self.recaser = recaser

    def encode(self, text: str) -> list[str]:
        """The tokens of one line."""
        return tokenize(text)

    def encode_many(self, texts: list[str], threads: int = 1) -> list[list[str]]:
        """The tokens of each line (one thread: the splitting is Python)."""
        return [tokenize(text) for text in texts]

    def decode(self, tokens: list[str]) -> str:
        """One line of text from tokens."""
        return detokenize(tokens if self.recaser is None else self.recaser.apply(tokens))


class SentencePieceTokenizer:
    """Subword pieces of a SentencePiece model: cased, untokenized text in and out."""

    kind = "sentencepiece"

    def __init__(self, model_proto: bytes, name: str = "SentencePiece model"):
        try:
            import sentencepiece
        except ImportError:
            from s2s_batch.runtime.errors import BundleError

            raise BundleError(f"{name}: this bundle uses SentencePiece subwords; "
                              "pip install sentencepiece") from None
        self.processor = sentencepiece.SentencePieceProcessor(model_proto=model_proto)

    def encode(self, text: str) -> list[str]:
        """The tokens of one line."""
        return self.processor.encode(text, out_type=str)

    def encode_many(self, texts: list[str], threads: int = 1) -> list[list[str]]:
        """The tokens of each line, in one call to SentencePiece on `threads` threads."""
        return self.processor.encode(list(texts), out_type=str, num_threads=threads) if texts else []

    def decode(self, tokens: list[str]) -> str:
        """One line of text from tokens."""
        return self.processor.decode_pieces(list(tokens))
