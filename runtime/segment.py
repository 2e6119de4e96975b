"""Sentence splitting: a line of several sentences becomes pieces translated one by one.

The model was trained on single sentences and loses its way on several (bench/RESULTS.md
measures it), so a line is cut into sentences, each piece is batched like any other
sentence, and the pieces' translations are joined back into the line's one output
line. The segmenter is Philipp Koehn's Moses splitter as packaged by
`sentence-splitter` (non-breaking prefixes per language: "Mr.", "U.S.", ...). On 2,000
lines made by joining 2-4 of the corpus's single-sentence lines it found exactly the
joined sentences in 99.90% of lines, against 98.95% for pysbd and 98.15% for sentencex
(both cut "me. I was" wrongly), at 4,100 lines/s against 890 and 140,000
(bench/RESULTS.md). Lines without a sentence mark followed by a space, most single
sentences, never reach it, so splitting costs the plain test split nothing measurable.
"""

from __future__ import annotations

import re

# A sentence mark (possibly closed by quotes or brackets) followed by whitespace: only a
# line holding one can hold more than one sentence.
_MAY_HOLD_SEVERAL = re.compile(r"[.!?…][\"'»”’)\]]*\s")


class SentenceSplitter:
    """Splits a line into sentences for one source language."""

    def __init__(self, language: str = "en"):
        from sentence_splitter import SentenceSplitter as MosesSplitter

        self.language = language
        self._splitter = MosesSplitter(language=language)

    def split(self, line: str) -> list[str]:
        """The line's sentences, stripped; [line] when it holds one (or only whitespace)."""
        if not _MAY_HOLD_SEVERAL.search(line.strip()):
            return [line]
        pieces = [piece.strip() for piece in self._splitter.split(line) if piece.strip()]
        return pieces if len(pieces) > 1 else [line]


def join_pieces(translations: list[str]) -> str:
    """One output line from the translations of a line's pieces, in order."""
    return " ".join(t for t in translations if t)
