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

# Emoticons as people type them: :) :-( ;D :P <3 xD ^^
_EMOTICON = re.compile(r"(?:[:;=8][-'^]?[()\[\]DPpOo3/\\|*]|<3|[xX]D|\^\^)$")
_LEADING_EMOTICON = re.compile(r"(?:[:;=8][-'^]?[()\[\]DPpOo3/\\|*]|<3|[xX]D|\^\^)(?=\s)")
_PAIRS = {"(": ")", "[": "]", '"': '"', "“": "”", "«": "»", "„": "“"}
# How the translation is wrapped again: quotes in French guillemets, brackets as they were.
_FRENCH_QUOTES = ("« ", " »")
_CURRENCIES = {"$": ("dollar", "dollars"), "€": ("euro", "euros"), "£": ("pound", "pounds"),
               "¥": ("yen", "yen")}
_AMOUNT = r"\d+(?:,\d{3})*(?:\.\d+)?"
_SIGN_FIRST = re.compile(rf"(?<![\w$€£¥])([$€£¥])\s?({_AMOUNT})(?![\w])")
_SIGN_AFTER = re.compile(rf"(?<![\w.,])({_AMOUNT})\s?([$€£¥])(?![\w$€£¥])")
_CLOCK = re.compile(r"(?<![\w:.,])(\d{1,2})(?::(\d{2}))?\s?([ap])\.?m(\.?)(?![\w])", re.IGNORECASE)


def _is_symbol(ch: str) -> bool:
    """Emoji and other pictures, their joiners and variation selectors, and modifiers."""
    return (unicodedata.category(ch) in ("So", "Sk", "Cf") and ch != "°") or ch == "\ufe0f"


@dataclass(frozen=True)
class Edges:
    """What `peel` took off a sentence: `lead` and `trail` (symbols, with their spaces),
    and the enclosing pair's `opening` and `closing` (empty when none)."""

    lead: str = ""
    trail: str = ""
    opening: str = ""
    closing: str = ""

    def around(self, translation: str) -> str:
        """The translation with what was taken off put back."""
        if self.opening:
            opening, closing = _FRENCH_QUOTES if self.opening in '"“„«' else (self.opening, self.closing)
            translation = opening + translation + closing
        return self.lead + translation + self.trail


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


def peel(text: str) -> tuple[str, Edges]:
    """The sentence without the symbols at its ends and the pair of quotes or brackets
    around it, and what was taken off (a pair only where neither of its marks stands
    inside it too); "" for a sentence of symbols only, all of them in `lead`."""
    end = _trail_end(text)
    core = text[_lead_end(text, end):end].strip()
    if not core:  # symbols only: nothing for the model, all of it put back
        return ("", Edges(lead=text)) if text.strip() else (text, Edges())
    at = text.index(core, _lead_end(text, end))
    lead, trail = text[:at], text[at + len(core):]
    opening, closing = core[0], _PAIRS.get(core[0], "")
    inner = core[1:-1].strip()
    if closing and len(core) > 1 and core.endswith(closing) and inner and opening not in inner \
            and closing not in inner:
        return inner, Edges(lead, trail, opening, closing)
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
        ending = "." if dot and match.end() == len(match.string) else ""
        return f"{hour24}:{minute or '00'}{ending}"

    text = _SIGN_FIRST.sub(lambda m: amount(m.group(2), m.group(1)), text)
    text = _SIGN_AFTER.sub(lambda m: amount(m.group(1), m.group(2)), text)
    return _CLOCK.sub(clock, text)
