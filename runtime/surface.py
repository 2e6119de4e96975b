"""What a sentence writes around and between its words that the model never read.

Tatoeba's sentences have no emoji, no enclosing brackets, no currency signs and no
"3pm"; the model turns each into unrelated words ("Hello! 😀" → "Salutlis s'est-il ?",
"(This is important.)" → three sentences, "$5" → "l'histoire"). Before the model reads
a sentence:

- `peel` takes off the symbols and emoticons at its ends ("😀", "👍👍", ":)") and one
  pair of quotes or brackets around all of it, which `Edges.around` puts back around
  the translation (double quotes as French writes them: « … »);
- `spell_out` writes currency signs as words ("$5" → "5 dollars", "20€" → "20 euros")
  and clock times with am/pm on the 24-hour clock ("3pm" → "15:00", which the
  number handling writes "15 h 00").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Emoticons as people type them: :) :-( ;D :P <3 xD ^^ (not 8): "83" is a number)
_EMOTICON_BODY = r"(?:[:;=][-'^]?[()\[\]DPpOo3/\\|*]|<3|[xX]D|\^\^)"
_EMOTICON = re.compile(_EMOTICON_BODY + "$")
_LEADING_EMOTICON = re.compile(_EMOTICON_BODY + r"(?=\s)")
_PAIRS = {"(": ")", "[": "]", '"': '"', "“": "”", "«": "»", "„": "“"}
# How the translation is wrapped again: quotes in French guillemets, brackets as they were.
_FRENCH_QUOTES = ("« ", " »")
_CURRENCIES = {"$": ("dollar", "dollars"), "€": ("euro", "euros"), "£": ("pound", "pounds"),
               "¥": ("yen", "yen")}
_AMOUNT = r"\d+(?:,\d{3})*(?:\.\d+)?"
_SCALE = r"(?:\s(?:thousand|million|billion|trillion))?"
_SIGN_FIRST = re.compile(rf"(?<![\w$€£¥])([$€£¥])\s?({_AMOUNT}{_SCALE})(?![\w.,]\d)(?![\w])")
_SIGN_AFTER = re.compile(rf"(?<![\w.,])({_AMOUNT})\s?([$€£¥])(?![\w$€£¥])")
_MAY_SPELL = re.compile(r"[$€£¥]|\d\s?[ap]\.?m", re.IGNORECASE)
_CLOCK = re.compile(r"(?<![\w:.,])(\d{1,2})(?::(\d{2}))?\s?([ap])\.?m(\.?)(?![\w])", re.IGNORECASE)


def _is_symbol(ch: str) -> bool:
    """Emoji and other pictures, their joiners and variation selectors, and modifiers."""
    return (unicodedata.category(ch) in ("So", "Sk", "Cf") and ch != "°") or ch in ("\ufe0e", "\ufe0f")


@dataclass(frozen=True)
class Edges:
    """What `peel` took off a sentence, as it goes back around the translation: `before`
    and `after` (symbols with their spaces, the enclosing pair, French quotes for double
    quotes)."""

    before: str = ""
    after: str = ""

    def around(self, translation: str) -> str:
        """The translation with what was taken off put back."""
        return self.before + translation + self.after


def _trail_end(text: str) -> int:
    """Where the run of symbols and emoticons that ends `text` starts (len(text): none)."""
    end = len(text)
    while True:
        core = text[:end].rstrip()
        emoticon = _EMOTICON.search(core)
        if emoticon and (emoticon.start() == 0 or core[emoticon.start() - 1].isspace()):
            end = emoticon.start()
        elif core and _is_symbol(core[-1]):
            end = len(core) - 1
        else:
            return end if end == len(text) else len(core)


def _lead_end(text: str, end: int) -> int:
    """Where the run of symbols and emoticons that starts `text` ends (0: none)."""
    start = 0
    while True:
        at = start
        while at < end and text[at].isspace():
            at += 1
        emoticon = _LEADING_EMOTICON.match(text, at, end)
        if emoticon:
            start = emoticon.end()
        elif at < end and _is_symbol(text[at]):
            start = at + 1
        else:
            return start


def _symbols_off(text: str) -> tuple[str, str, str]:
    """(the symbols before, the rest stripped, the symbols after); the rest is "" for
    symbols only."""
    end = _trail_end(text)
    start = _lead_end(text, end)
    core = text[start:end].strip()
    if not core:
        return text, "", ""
    at = text.index(core, start)
    return text[:at], core, text[at + len(core):]


def peel(text: str) -> tuple[str, Edges]:
    """The sentence without the symbols at its ends and the pair of quotes or brackets
    around it (and the symbols inside that pair), and what goes back around its
    translation; a pair only where neither of its marks stands inside it too; "" for a
    sentence of symbols only, all of it (stripped) in `before`."""
    stripped = text.strip()
    if not stripped or (stripped[0].isalnum() and stripped[-1] in ".!?…"):  # most sentences: nothing to take off
        return text, Edges()
    lead, core, trail = _symbols_off(text)
    if not core:
        return "", Edges(before=text.strip())
    opening, closing = core[0], _PAIRS.get(core[0], "")
    inner = core[1:-1].strip()
    if closing and len(core) > 1 and core.endswith(closing) and inner and opening not in inner \
            and closing not in inner:
        inner_lead, inner, inner_trail = _symbols_off(inner)
        if not inner:
            return "", Edges(before=text.strip())
        opening, closing = _FRENCH_QUOTES if opening in '"“„«' else (opening, closing)
        return inner, Edges(lead + opening + inner_lead, inner_trail + closing + trail)
    if not lead.strip() and not trail.strip():  # nothing but spaces to take off
        return text, Edges()
    return core, Edges(lead, trail)


def spell_out(text: str) -> str:
    """Currency signs as words and am/pm times on the 24-hour clock (module docstring)."""
    def amount(number: str, sign: str) -> str:
        one, many = _CURRENCIES[sign]
        return f"{number} {one if number == '1' else many}"

    def clock(match: re.Match) -> str:
        hour, minute, half, dot = match.groups()
        if not 1 <= int(hour) <= 12 or (minute and int(minute) > 59):
            return match.group(0)
        hour24 = int(hour) % 12 + (12 if half.lower() == "p" else 0)
        # "at 3 p.m." ends the sentence with the abbreviation's full stop: keep one
        ending = "." if dot and match.end() >= len(match.string.rstrip()) else ""
        return f"{hour24}:{minute or '00'}{ending}"

    if not _MAY_SPELL.search(text):
        return text
    text = _SIGN_FIRST.sub(lambda m: amount(m.group(2), m.group(1)), text)
    text = _SIGN_AFTER.sub(lambda m: amount(m.group(1), m.group(2)), text)
    return _CLOCK.sub(clock, text)
