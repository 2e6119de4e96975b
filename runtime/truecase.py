"""Truecasing of word-level output: the seed's words are lowercase, readers expect "Tom".

A table maps each lowercase target word to the form it most often has in the training
targets away from the start of a sentence ("tom" → "Tom", "paris" → "Paris"); words
that are mostly lowercase are not in it. The first letter of the output is then
capitalised, as the corpus's sentences are. The table ships in word-level bundles as
`truecase.txt` (lowercase TAB cased, one word per line).
"""

from __future__ import annotations

from pathlib import Path

from s2s_batch.runtime.errors import BundleError


class Recaser:
    """Restores the case of lowercase word tokens."""

    def __init__(self, table: dict[str, str]):
        self.table = table

    def apply(self, tokens: list[str]) -> list[str]:
        """The tokens in their usual case, the first one with a letter capitalised."""
        cased = [self.table.get(token, token) for token in tokens]
        for i, token in enumerate(cased):
            if any(ch.isalpha() for ch in token):
                at = next(j for j, ch in enumerate(token) if ch.isalpha())
                cased[i] = token[:at] + token[at].upper() + token[at + 1 :]
                break
        return cased

    def save(self, path: Path) -> None:
        """lowercase TAB cased, one word per line, sorted."""
        Path(path).write_text("".join(f"{k}\t{v}\n" for k, v in sorted(self.table.items())),
                              encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Recaser:
        """Read a table written by `save`; a malformed one is a BundleError."""
        table = {}
        try:
            for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
                lower, cased = line.split("\t")
                if cased.lower() != lower:
                    raise ValueError(f"line {number}: {cased!r} is not a casing of {lower!r}")
                table[lower] = cased
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise BundleError(f"{path}: unreadable truecasing table ({exc}); re-export the bundle") from None
        return cls(table)
