"""What the runtime does to a sentence before the model reads it, and undoes after.

Two things a model trained on Tatoeba has never seen, handled here rather than hoped for:

- **Case.** A sentence in ALL CAPS ("HELLO, HOW ARE YOU?") or in Title Case ("How Are
  You Today?") is rewritten as the corpus writes sentences: each word in its usual form
  (the bundle's `source_case.txt`: "tom" → "Tom", "the" → "the"; a word the table does
  not know keeps a capital, as names do), the first one capitalised. The translation of
  an ALL CAPS sentence is written in capitals; a Title Case one is left as translated.
- **Letters the tokenizers do not know.** A word holding a character that either side's
  SentencePiece model lacks ("Pešić", "Søren") would reach the model as <unk>. It is
  replaced by its ASCII spelling ("Pesic", "Soren"), which the model copies like any
  name, and that spelling is turned back into the word in the translation.

A sentence written as the corpus writes them passes through unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

_WORD = re.compile(r"[^\W\d_]+")
_APOSTROPHE_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
# Latin letters that Unicode does not decompose into a base letter and a mark.
_FOLDED = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ß": "ss",
                         "æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe", "þ": "th", "Þ": "Th",
                         "ð": "d", "Ð": "D", "ı": "i", "ħ": "h", "Ħ": "H", "ŋ": "n", "Ŋ": "N"})


def _whole_word(word: str) -> re.Pattern:
    return re.compile(rf"(?<![^\W\d_]){re.escape(word)}(?![^\W\d_])")


def _literal(text: str) -> Callable[[re.Match], str]:
    """A re.sub replacement that inserts `text` as it is (no backslash escapes)."""
    return lambda _: text


def ascii_spelling(word: str) -> str:
    """The word without diacritics and with special Latin letters spelled in ASCII
    ("Pešić" → "Pesic", "Søren" → "Soren"); characters with no such spelling stay."""
    decomposed = unicodedata.normalize("NFKD", word.translate(_FOLDED))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def case_of(text: str, table: dict[str, str]) -> str:
    """"upper" for a sentence in capitals (two letters or more, none lowercase), "title"
    for one whose every word starts with a capital (two words or more, a later one a
    word the table knows in lowercase), else "as written"."""
    letters = "".join(_WORD.findall(text))
    if len(letters) >= 2 and letters.isupper() and any(len(w) >= 2 for w in _WORD.findall(text)):
        return "upper"
    words = _APOSTROPHE_WORD.findall(text)  # "Don't" is one word starting with a capital
    if len(words) >= 2 and all(w[0].isupper() for w in words) \
            and any(table.get(part.lower(), "").islower() for w in words[1:] for part in _WORD.findall(w)):
        return "title"
    return "as written"


def usual_case(text: str, table: dict[str, str]) -> str:
    """Each word of `text` in its usual form (table; unknown words capitalised, as a
    name is), the first word capitalised."""
    first = True

    def form(match: re.Match) -> str:
        nonlocal first
        word = match.group(0)
        usual = table.get(word.lower(), word[0].upper() + word[1:].lower())
        if first:
            usual, first = usual[0].upper() + usual[1:], False
        return usual

    return _WORD.sub(form, text)


@dataclass
class Prepared:
    """A sentence as the model reads it, and how to give its translation the input's form."""

    text: str
    upper: bool = False
    spellings: list[tuple[str, str]] = field(default_factory=list)  # (ASCII spelling, word)

    def restore(self, translation: str) -> str:
        """The translation with each ASCII spelling turned back into its word (whole
        words only), in capitals for an ALL CAPS input."""
        for spelled, word in self.spellings:
            translation = _whole_word(spelled).sub(_literal(word), translation)
        return translation.upper() if self.upper else translation


class SourceText:
    """Prepares sentences for a bundle's model and restores their translations.

    `table`: the bundle's source casing (lowercase word → usual form), or None (no case
    handling). `known`: whether both tokenizers know a character, or None (no spelling).
    """

    def __init__(self, table: dict[str, str] | None, known: Callable[[str], bool] | None):
        self.table = table
        self.known = known

    def prepare(self, text: str) -> Prepared:
        """The sentence as the model should read it (see the module docstring)."""
        upper = False
        if self.table is not None:
            case = case_of(text, self.table)
            if case != "as written":
                text, upper = usual_case(text, self.table), case == "upper"
        spellings: list[tuple[str, str]] = []
        if self.known is not None and not all(map(self.known, text)):
            for word in dict.fromkeys(w for w in _WORD.findall(text) if not all(map(self.known, w))):
                spelled = ascii_spelling(word)
                if spelled != word and all(map(self.known, spelled)):
                    spellings.append((spelled, word))
            for spelled, word in spellings:
                text = _whole_word(word).sub(_literal(spelled), text)
        return Prepared(text, upper, spellings)
