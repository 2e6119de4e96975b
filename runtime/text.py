"""What the runtime does to a line's text around the model: sentences, case, names, numbers.

**Sentences.** The model was trained on single sentences and loses its way on several (bench/RESULTS.md
measures it), so a line is cut into sentences, each piece is batched like any other
sentence, and the pieces' translations are joined back into the line's one output
line. The segmenter is Philipp Koehn's Moses splitter as packaged by
`sentence-splitter` (non-breaking prefixes per language: "Mr.", "U.S.", ...). On 2,000
lines made by joining 2-4 of the corpus's single-sentence lines it found exactly the
joined sentences in 99.90% of lines, against 98.95% for pysbd and 98.15% for sentencex
(both cut "me. I was" wrongly), at 4,100 lines/s against 890 and 140,000
(bench/RESULTS.md). Lines without a sentence mark followed by a space, most single
sentences, never reach it, so splitting costs the plain test split nothing measurable.

Two things a model trained on Tatoeba has never seen, handled here rather than hoped for:

- **Case.** A sentence in ALL CAPS ("HELLO, HOW ARE YOU?") or in Title Case ("How Are
  You Today?") is rewritten as the corpus writes sentences: each word in its usual form
  (the bundle's `source_case.txt`: "tom" → "Tom", "the" → "the"; a word the table does
  not know keeps a capital, as names do), the first one capitalised. The translation of
  an ALL CAPS sentence is written in capitals; a Title Case one is left as translated.
- **Names it has never seen.** A run of capitalised words the casing table does not know
  ("Tapani Jalonen", "Enonkoski"; with any known capitalised word beside them, as in
  "Elizabeth Warren", and where no sentence starts any capitalised one, as in "Karlovy
  Vary") is read as a name the model knows well and copies ("Tom", then "Mary" for a
  second name; after "in", "to", "from", "near" or "into", a place's: "Boston", then
  "Tokyo": placeholders, as Marian and CTranslate2 users mask spans), and that name is
  turned back into the original in the translation, also where the model translated it
  ("Mary" → "Marie"). A title and the name after it ("Dr. Nakamura", "Mr. Smith") stand
  in together and come back as the target language writes titles ("Dr Nakamura", "M.
  Smith").
- **Numbers.** A number the sentence writes in digits (7, 1,250, 3.5, 1987, 2:30) is
  rewritten in the translation as the target language writes it (French: 7, 1 250,
  3,5, 1987, 2 h 30), replacing the translation's numbers in order when it writes as
  many as the source: the model places the number, the runtime spells it. A
  translation that dropped a number is tried again with the numbers read as ones the
  model writes back reliably (3, 5, 50, 100), and kept if that one places them all.
- **Spans to keep as written.** URLs, e-mail addresses, codes (letters and digits in one
  token, "B12", "AF1234", "COVID-19", or digits in hyphenated groups, "555-0199") and
  brands written in mixed case ("iPhone", "eBay") are held out of the sentence while
  its case and names are read, then read as stand-ins the model copies (a person's name;
  a URL after "to", "at", "visit"... a place's; a code once the names are taken, a
  number) and put back as written, in an ALL CAPS translation too. A translation that
  drops one gets the further tries.
- **What Tatoeba never writes** (runtime/surface.py): symbols and emoticons at a
  sentence's ends ("😀", ":)") and quotes or brackets around all of it are taken off
  and put back around the translation; currency signs are read as words ("$5" → "5
  dollars") and am/pm times on the 24-hour clock ("3pm" → "15:00").
- **Letters the tokenizers do not know.** A word holding a character that either side's
  SentencePiece model lacks ("Pešić", "Søren") would reach the model as <unk>. It is
  replaced by its ASCII spelling ("Pesic", "Soren"), which the model copies like any
  name, and that spelling is turned back into the word in the translation.

A sentence written as the corpus writes them, with no unknown name and no number,
passes through unchanged.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from s2s_batch.runtime.bundle.manifest import SOURCE_CASE_FILE, Manifest
from s2s_batch.runtime.bundle.tokens import Recaser
from s2s_batch.runtime.surface import Edges, peel, spell_out

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


_WORD = re.compile(r"[^\W\d_]+")
# A number as English writes it in digits, and as a French translation writes one.
SOURCE_NUMBER = re.compile(r"(?<![\w.,:])\d+(?:[.,:]\d+)*(?![\w])")
_TARGET_NUMBER = re.compile(r"(?<![\w,.])(?:\d{1,2}[ \u00a0\u202f]?h[ \u00a0\u202f]?\d{2}|"
                            r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:,\d+)?|\d+(?:[.,:]\d+)*)(?![\w])")
# The same, also where the model glued the digits to a lowercase word before ("ces31 ans"):
# such a translation does not count as placing its numbers (it gets the further tries),
# but when it is kept, its numbers are replaced all the same, each with a space of its own.
_GLUED_NUMBER = re.compile(r"(?<![\d_,.])" + _TARGET_NUMBER.pattern[len(r"(?<![\w,.])"):])
# Numbers the model writes back most often (measured on the dev split's number
# sentences), the stand-ins of a second try when a translation dropped a number.
NUMBER_STAND_INS = ("3", "5", "50", "100")
# Known names the model copies best, the stand-ins for unknown ones, in order of use:
# a person's, and a place's for a name after a word that introduces places ("to
# Barcelona"); a place's name read as a person's, or the reverse, comes out mangled
# ("We are going to Tom" -> "Nous allons Tom à Tom"). In the corpus's French, Tom is
# Tom in 99.5% of its 14,394 pairs, Boston Boston in 99.8% of 603, Tokyo in 99.2% of 130.
NAME_STAND_INS = ("Tom", "Mary")
PLACE_STAND_INS = ("Boston", "Tokyo")
_BEFORE_PLACES = frozenset({"in", "to", "from", "near", "into"})
_BEFORE_URLS = _BEFORE_PLACES | {"visit", "at", "on", "see"}
_SENTENCE_OPENERS = frozenset('.!?:;"“”«»')
# Spans the model cannot read but the translation must hold as written: held out of the
# sentence (each as one private-use character while case and names are handled), read
# as a stand-in the model copies, and put back as written.
_HELD = 0xE000
_LEADING = "([{\"'«“‘"
_TRAILING = ".,;:!?)]}\"'»”’"
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d+(?:[-‐]\d+)+")  # 555-0199, +33-1-23: digits in hyphenated groups
_CODE = re.compile(r"(?=[^\s]*\d)(?=[^\s]*[^\W\d_])[^\W_](?:[\w\-/#.+]*[^\W_])?")  # B12, AF1234, COVID-19
# not held (read in lowercase): 10km, 2nd, 90s are the model's to translate; 5pm is read as 15:00 (surface.py)
_UNIT = re.compile(r"\d+(?:[.,:]\d+)?(?:st|nd|rd|th|s|am|pm|k|km|m|cm|mm|kg|g|mg|l|ml|h|min|mph|ft|lbs?|oz"
                   r"|[kmgt]b|g?hz)")
_MAY_HOLD = re.compile(r"\d|@|://|www\.|[a-z][A-Z]")
_WITHOUT_HELD = re.compile(r"[\ue000-\uf8ff](?:['’]s)?")  # a held span's mark, with its "'s"
_MIXED_CASE = re.compile(r"[^\W\d_]*[a-z][A-Z][^\W\d_]*")  # iPhone, eBay, McDonald
# A stand-in the model also translates, per target language: Mary is Marie in a third of
# the corpus's French pairs with Mary; that form is turned back too.
STAND_IN_FORMS: dict[str, dict[str, tuple[str, ...]]] = {"fr": {"Mary": ("Marie",)}}
# Titles read with the name after them, and how each target language writes them (the
# corpus's French: "M. Jackson", "Mme Jackson", "Dr Hideo Noguchi").
TITLES = ("Mr", "Mrs", "Ms", "Dr")
TITLE_FORMS: dict[str, dict[str, str]] = {"fr": {"Mr": "M.", "Mrs": "Mme", "Ms": "Mme", "Dr": "Dr"}}
_TITLED = re.compile(rf"(?<![^\W\d_])(?:{'|'.join(TITLES)})\.? [A-Z]")
_CAPITALISED = re.compile(r"(?<![^\W\d_])[A-ZÀ-ÖØ-ÞĀ-Ž][^\W\d_]*")  # Latin capitals, enough to find names
_APOSTROPHE_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
# Latin letters that Unicode does not decompose into a base letter and a mark.
_FOLDED = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ß": "ss",
                         "æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe", "þ": "th", "Þ": "Th",
                         "ð": "d", "Ð": "D", "ı": "i", "ħ": "h", "Ħ": "H", "ŋ": "n", "Ŋ": "N"})


def _only_lowercase_glue(translation: str, count: int) -> bool:
    """Whether the translation writes `count` numbers once digits glued to a lowercase
    word ("ces31") count too, and no digits glued to a word with a capital (MP3, G7:
    names, not numbers the model misplaced)."""
    matches = list(_GLUED_NUMBER.finditer(translation))
    glued_to = [re.search(r"[^\W\d_]+$", translation[: m.start()]) for m in matches
                if m.start() and translation[m.start() - 1].isalpha()]
    return len(matches) == count and all(word and word.group(0).islower() for word in glued_to)


def _whole_word(word: str) -> re.Pattern:
    return re.compile(rf"(?<![^\W\d_]){re.escape(word)}(?![^\W\d_])")


def literal(text: str) -> Callable[[re.Match], str]:
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
    words = _APOSTROPHE_WORD.findall(text)  # "Don't" is one word starting with a capital
    if any(len(w) >= 2 for w in words) and all(w.isupper() for w in words):
        return "upper"
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


def french_number(text: str) -> str:
    """An English-written number as French writes it: 1,250 → 1 250, 3.5 → 3,5, 2:30 → 2 h 30."""
    if re.fullmatch(r"\d{1,2}:\d{2}", text):
        hour, minute = text.split(":")
        return f"{hour} h {minute}"
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", text):
        whole, _, decimals = text.partition(".")
        return whole.replace(",", " ") + ("," + decimals if decimals else "")
    if re.fullmatch(r"\d+\.\d+", text):
        return text.replace(".", ",")
    return text


# How each target language writes a number given in English digits (others: as written).
NUMBER_WRITERS: dict[str, Callable[[str], str]] = {"fr": french_number}


def held_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each span the translation must hold as written: "url",
    "email", "code" (letters and digits in one token, or digits in hyphenated groups:
    "B12", "AF1234", "555-0199"; not "10km" or "2nd") and "brand" (a word with a capital
    after a lowercase letter: "iPhone", "eBay", "McDonald" of "McDonald's")."""
    if not _MAY_HOLD.search(text):  # most sentences: nothing to look at word by word
        return []
    spans = []
    for chunk in re.finditer(r"\S+", text):
        start, end = chunk.span()
        while start < end and text[start] in _LEADING:
            start += 1
        while end > start and text[end - 1] in _TRAILING and not (
                text[end - 1] == ")" and text.count("(", start, end) >= text.count(")", start, end)):
            end -= 1
        core = text[start:end]
        if core.endswith(("'s", "’s")):
            core, end = core[:-2], end - 2
        if not core:
            continue
        if _URL.fullmatch(core):
            kind = "url"
        elif _EMAIL.fullmatch(core):
            kind = "email"
        elif _PHONE.fullmatch(core) or (_CODE.fullmatch(core) and not _UNIT.fullmatch(core.lower())):
            kind = "code"
        elif _MIXED_CASE.fullmatch(core):
            kind = "brand"
        else:
            continue
        spans.append((start, end, kind))
    return spans


def _name_spans(text: str, table: dict[str, str]) -> list[tuple[str, bool]]:
    """Runs of capitalised words ("Tapani Jalonen", "Jean-Pierre Roy") holding one that
    the table does not know, with the known capitalised words in them ("Elizabeth" of
    "Elizabeth Warren"), and the capitalised words the table knows in lowercase where no
    sentence starts ("Guinea" of "Nueva Guinea Bissau", "Red" of "Red Sox": English
    capitalises those only in names; not "Hello" of '"Hello Ahmed."'); a title and the
    name after it, known or not ("Dr. Nakamura", "Mr. Smith": the model reads titles
    poorly). Each with whether it is a place's: right after a word that introduces
    places ("to Karlovy Vary"), with no "'s" after it, and no title."""
    spans: list[tuple[str, bool]] = []
    run: list[str] = []
    unknown = False
    before = ""  # the word right before the run
    starts = True  # whether a sentence (or a quotation) starts at this token
    tokens = re.findall(r"[^\W\d_]+| |-|.", text) + [""]
    at = 0
    while at < len(tokens):
        token = tokens[at]
        if not run:
            before = tokens[at - 2].lower() if at >= 2 and tokens[at - 1] == " " else ""
        usual = table.get(token.lower())
        dotted = tokens[at + 1 : at + 2] == ["."]
        after = tokens[at + 1 + dotted : at + 3 + dotted]
        if token in TITLES and len(after) == 2 and after[0] == " " and after[1][:1].isupper():
            run.append(token + "." * dotted)
            unknown = True
            at += 1 + dotted
            continue
        if token[:1].isupper() and token.isalpha() and (usual is None or usual[0].isupper() or run or not starts):
            run.append(token)
            unknown = unknown or usual is None
        elif run and token in (" ", "-") and run[-1] not in (" ", "-"):
            run.append(token)
        else:
            if unknown:
                possessive = token in ("'", "’") and tokens[at + 1 : at + 2] == ["s"]
                title = run[0].rstrip(".") in TITLES
                spans.append(("".join(run).strip(" -"), before in _BEFORE_PLACES and not possessive and not title))
            run, unknown = [], False
        if token.isalpha() or token in _SENTENCE_OPENERS:
            starts = token in _SENTENCE_OPENERS
        at += 1
    return spans


@dataclass
class Prepared:
    """A sentence as the model reads it, and how to give its translation the input's form."""

    text: str
    upper: bool = False
    spellings: list[tuple[str, str]] = field(default_factory=list)  # (ASCII spelling, word)
    names: list[tuple[str, str]] = field(default_factory=list)  # (stand-in, the name)
    numbers: list[str] = field(default_factory=list)  # the source's numbers, as the target writes them
    # each stand-in's translated forms that the sentence does not write itself
    stand_in_forms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    verbatim: list[tuple[str, str]] = field(default_factory=list)  # (stand-in, a URL, e-mail or brand)
    codes: dict[str, str] = field(default_factory=dict)  # a code's stand-in number → the code
    edges: Edges = field(default_factory=Edges)  # symbols and the quotes or brackets taken off

    def places_numbers(self, translation: str) -> bool:
        """Whether the model's translation writes each code's stand-in number and as many
        other numbers as the source."""
        found = _TARGET_NUMBER.findall(translation)
        return all(value in found for value in self.codes) and \
            len([n for n in found if n not in self.codes]) == len(self.numbers)

    def carries(self, translation: str) -> bool:
        """Whether the model's translation writes as many numbers as the source and every
        name's stand-in (or a translated form of it): what a translation is tried again for."""
        return self.places_numbers(translation) and all(
            self._form_written(stand_in, translation) is not None for stand_in, _ in [*self.names, *self.verbatim])

    def _form_written(self, stand_in: str, translation: str) -> str | None:
        """The stand-in as the translation writes it (itself, or failing it its first
        translated form there), or None where it wrote neither."""
        return next((form for form in (stand_in, *self.stand_in_forms.get(stand_in, ()))
                     if _whole_word(form).search(translation)), None)

    def with_number_stand_ins(self) -> Prepared | None:
        """The same sentence with its numbers read as numbers the model writes back
        reliably (NUMBER_STAND_INS), for a second try; None when it has none or more
        than there are stand-ins."""
        free = [n for n in NUMBER_STAND_INS if n not in SOURCE_NUMBER.findall(self.text)]
        if not self.numbers or len(self.numbers) + len(self.codes) > len(free):
            return None
        stand_ins = iter(free)
        renamed: dict[str, str] = {}

        def swap(match: re.Match) -> str:
            renamed[match.group(0)] = next(stand_ins)
            return renamed[match.group(0)]

        text = SOURCE_NUMBER.sub(swap, self.text)
        return dataclasses.replace(self, text=text, codes={renamed.get(n, n): c for n, c in self.codes.items()})

    def restore(self, translation: str) -> str:
        """The translation with each stand-in and ASCII spelling turned back into its
        name or word (whole words only), its numbers the source's when it writes as many,
        in capitals for an ALL CAPS input."""
        marked: list[tuple[str, bool]] = []  # what each mark stands for, and whether as written

        def mark(text: str, as_written: bool) -> str:
            marked.append((text, as_written))
            return chr(_HELD + len(marked) - 1)

        # a code's stand-in number turned back by its value, wherever the translation puts it
        if self.codes:
            for value in self.codes:  # the model wrote it twice in a row ("3 3 ans"): once
                translation = re.sub(rf"(?<![\w,.])({value})(?:\s+{value})+(?![\w,])", r"\1", translation)
            translation = _TARGET_NUMBER.sub(
                lambda m: mark(self.codes[m.group(0)], True) if m.group(0) in self.codes else m.group(0), translation)
        if self.numbers and len(_TARGET_NUMBER.findall(translation)) == len(self.numbers):
            written = iter(self.numbers)
            translation = _TARGET_NUMBER.sub(lambda _: next(written), translation)
        elif self.numbers and _only_lowercase_glue(translation, len(self.numbers)):
            written = iter(self.numbers)
            translation = _GLUED_NUMBER.sub(
                lambda m: (" " if m.start() and m.string[m.start() - 1].isalpha() else "") + next(written),
                translation)
        # each stand-in, or failing it its first translated form found, turned back in
        # one pass, so that no name put back is read again as another's stand-in; a held
        # span stays as written in an ALL CAPS translation (a URL's path is case-sensitive)
        back: dict[str, tuple[str, bool]] = {}
        for (stand_in, name), as_written in [*((n, False) for n in self.names), *((v, True) for v in self.verbatim)]:
            found = self._form_written(stand_in, translation)
            if found is not None:
                back.setdefault(found, (name, as_written))
        if back:
            pattern = "|".join(re.escape(w) for w in sorted(back, key=len, reverse=True))
            translation = re.sub(rf"(?<![^\W\d_])(?:{pattern})(?![^\W\d_])", lambda m: mark(*back[m.group(0)]),
                                 translation)
        for spelled, word in self.spellings:
            translation = _whole_word(spelled).sub(literal(word), translation)
        if self.upper:
            translation = translation.upper()
        for k, (text, as_written) in enumerate(marked):
            translation = translation.replace(chr(_HELD + k), text if as_written or not self.upper else text.upper())
        return self.edges.around(translation)


class SourceText:
    """Prepares sentences for a bundle's model and restores their translations.

    `table`: the bundle's source casing (lowercase word → usual form), or None (no case
    handling). `known`: whether both tokenizers know a character, or None (no spelling).
    """

    def __init__(self, table: dict[str, str] | None, known: Callable[[str], bool] | None,
                 target_language: str = "fr"):
        self.table = table
        self.known = known
        self.write_number = NUMBER_WRITERS.get(target_language)
        # Only names the table knows as names can stand in (they are the corpus's).
        self.stand_ins = [n for n in NAME_STAND_INS if table and table.get(n.lower()) == n]
        self.place_stand_ins = [n for n in PLACE_STAND_INS if table and table.get(n.lower()) == n]
        self.stand_in_forms = STAND_IN_FORMS.get(target_language, {})
        self.title_forms = TITLE_FORMS.get(target_language, {})

    def _as_target_writes(self, name: str) -> str:
        """A name span as the translation should hold it: its title in the target
        language's form ("Mr. Smith" → "M. Smith")."""
        title, _, rest = name.partition(" ")
        written = self.title_forms.get(title.rstrip("."))
        return f"{written} {rest}" if written and rest else name

    def prepare(self, text: str, edges: bool = True) -> Prepared:
        """The sentence as the model should read it (see the module docstring); with
        `edges` False, its symbols, quotes and brackets stay in it."""
        text, taken_off = peel(text) if edges else (text, Edges())
        # the marks are private-use characters: a line that writes some is read as it is
        held = [] if _WITHOUT_HELD.search(text) else held_spans(text)
        held_text = [(kind, text[start:end]) for start, end, kind in held]
        for k, (start, end, _) in reversed(list(enumerate(held))):
            text = text[:start] + chr(_HELD + k) + text[end:]
        upper = False
        names: list[tuple[str, str]] = []
        as_written = text  # in its usual case, before any stand-in
        if self.table is not None:
            case = case_of(_WITHOUT_HELD.sub("", text) if held else text, self.table)  # the words around them
            if case != "as written":
                written, text, upper = text, usual_case(text, self.table), case == "upper"
                as_written = text
                # brands the table writes in mixed case ("MCDONALD'S" → "McDonald's"), held
                # too, and put back as the line wrote them
                source = written if len(written) == len(text) else text
                brands = [(start, end, len(held_text) + i) for i, (start, end, _) in
                          enumerate(s for s in held_spans(text) if s[2] == "brand")]
                held_text += [("brand", source[start:end]) for start, end, _ in brands]
                for start, end, k in reversed(brands):
                    text = text[:start] + chr(_HELD + k) + text[end:]
        # after the case is undone ("IT COSTS $5." reads "5 dollars" in lowercase) and with
        # URLs held ("https://x.org/$5" stays)
        text = spell_out(text)
        has_names = self.table is not None and (_TITLED.search(text) is not None or any(
            w.lower() not in self.table for w in _CAPITALISED.findall(text)))
        # stand-ins the sentence, in its usual case, does not hold already (looked for only
        # where a name or a held span needs one)
        needed = has_names or bool(held_text)
        people, places = ([[n for n in pool if not _whole_word(n).search(text)] if needed else []
                           for pool in (self.stand_ins, self.place_stand_ins)])
        if has_names and self.table is not None:
            chosen: dict[str, str] = {}  # name → its stand-in, in the sentence's order
            for name, place in _name_spans(text, self.table):
                free = (places or people) if place else people
                if name not in chosen and free:
                    chosen[name] = free.pop(0)
            # the longest first: "Dr. Nakamura" before a "Nakamura" of its own
            for name in sorted(chosen, key=len, reverse=True):
                text = _whole_word(name).sub(literal(chosen[name]), text)
            names = [(stand_in, self._as_target_writes(name)) for name, stand_in in chosen.items()]
        # held spans as stand-ins: a person's name (the model copies Tom and Mary wherever a
        # code or an address stands: docs/quality.md), a URL after "to", "visit", "at"... a
        # place's; a code with no name left, a number the model writes back (it comes back
        # by that number's value)
        verbatim: list[tuple[str, str]] = []
        codes: dict[str, str] = {}
        free_numbers = [n for n in NUMBER_STAND_INS if n not in re.findall(r"\d+", text)] \
            if self.write_number and held_text else []
        for k, (kind, written) in enumerate(held_text):
            mark = chr(_HELD + k)
            words_before = re.findall(r"[^\W\d_]+", text[: text.index(mark)])
            before = words_before[-1].lower() if words_before else ""
            if kind == "url" and before in _BEFORE_URLS and places:
                pool = places
            else:
                pool = people or (free_numbers if kind == "code" else [])
            stand_in = pool.pop(0) if pool else written
            if pool is free_numbers and stand_in != written:
                codes[stand_in] = written
            elif stand_in != written:
                verbatim.append((stand_in, written))
            text = text.replace(mark, stand_in)
        numbers = ([self.write_number(n) for n in SOURCE_NUMBER.findall(text) if n not in codes]
                   if self.write_number else [])
        spellings: list[tuple[str, str]] = []
        # Letters without an ASCII spelling have nothing to gain: ASCII text skips the check.
        if self.known is not None and not text.isascii() and not all(map(self.known, text)):
            for word in dict.fromkeys(w for w in _WORD.findall(text) if not all(map(self.known, w))):
                spelled = ascii_spelling(word)
                if spelled != word and all(map(self.known, spelled)):
                    spellings.append((spelled, word))
            for spelled, word in spellings:
                text = _whole_word(word).sub(literal(spelled), text)
        # a translated form only where the sentence did not write it itself
        forms = {stand_in: tuple(f for f in self.stand_in_forms.get(stand_in, ())
                                 if not _whole_word(f).search(as_written))
                 for stand_in, _ in [*names, *verbatim]}
        return Prepared(text, upper, spellings, names, numbers, forms, verbatim, codes, taken_off)


def load_source_text(manifest: Manifest, tokenizers, truecase: bool = True,
                     target_language: str = "fr") -> SourceText | None:
    """What readies a sentence for a SentencePiece bundle's model: case handling from its
    source casing table (unless `truecase` is False), and ASCII spellings for characters
    its (source, target) `tokenizers` lack; None for word-level bundles."""
    if manifest.config.tokenizer != "sentencepiece":
        return None
    table = None
    if truecase and SOURCE_CASE_FILE in manifest.files:
        table = Recaser.load(manifest.path(SOURCE_CASE_FILE)).table
    processors = [t.processor for t in tokenizers]

    @functools.lru_cache(maxsize=4096)
    def known(ch: str) -> bool:
        return ch.isspace() or all(p.piece_to_id(ch) != p.unk_id() for p in processors)

    return SourceText(table, known, target_language)
