"""Training-pair augmentation: names, numbers and long lines the corpus rarely shows.

Tatoeba's English is mostly about Tom and Mary, writes numbers as words and has short
sentences, so a model trained on it alone replaces an unseen name by a word, cuts a
number short and garbles a long line. Each epoch, every training pair may be changed
the same way on both sides:

- names: a name the corpus uses on both sides (learned from the data: a capitalised
  word inside the English sentence that the French repeats, such as Tom, Mary, Boston)
  is swapped for a name drawn from Faker's lists of many locales (first names, full
  names, surnames, cities), so that the model learns to copy what it cannot know;
- numbers: a number both sides write in digits, or a number word with its French
  counterpart ("two"/"deux"), becomes a random number in a format people write (7,
  1,250, 3.5, 1987, 2:30), written on the French side as French writes it (7, 1 250,
  3,5, 1987, 2 h 30);
- long lines: extra examples join 2-3 random pairs into one (concatenation
  augmentation), so that the model meets inputs longer than the corpus's sentences.

The draws depend only on the run's seed and the epoch, so a resumed run repeats nothing.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from s2s_batch.runtime.text import SOURCE_NUMBER, literal

# Faker locales whose names feed training. bench/robustness.py draws its names from
# other locales, so that a name the benchmark checks was never trained on.
TRAIN_NAME_LOCALES = ("en_US", "en_GB", "fr_FR", "de_DE", "es_ES", "it_IT", "pt_BR", "nl_NL",
                      "pl_PL", "tr_TR", "en_IN", "sk_SK")
NAME_POOL_SIZE = 20_000
# Locales whose Faker city() depends on Python's hash seed (Faker 40): no cities from
# them, so that a pool is the same in every process.
_CITIES_VARY = frozenset({"it_IT"})
# A corpus name is a capitalised word found inside at least this many English sentences
# and in their French, and seldom written in lowercase.
MIN_NAME_COUNT = 3
# English number words and their French counterparts (not "one": un/une hangs on gender).
NUMBER_WORDS = {
    "two": "deux", "three": "trois", "four": "quatre", "five": "cinq", "six": "six",
    "seven": "sept", "eight": "huit", "nine": "neuf", "ten": "dix", "eleven": "onze",
    "twelve": "douze", "thirteen": "treize", "fourteen": "quatorze", "fifteen": "quinze",
    "sixteen": "seize", "twenty": "vingt", "thirty": "trente", "forty": "quarante",
    "fifty": "cinquante", "sixty": "soixante", "hundred": "cent", "thousand": "mille",
}
_TITLE = re.compile(r"^(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Dra|Prof|Sr|Sra|Srta|Herr|Frau|Dott|Ing|Mgr|Pan|Pani)\.? )+")
_TIME = re.compile(r"^\d{1,2}:\d{2}$")


@dataclass(frozen=True)
class AugmentRates:
    """How often each change is made: per eligible pair (names, numbers), or extra joined
    examples per training pair (concat)."""

    names: float = 0.0
    numbers: float = 0.0
    concat: float = 0.0

    @property
    def any(self) -> bool:
        return self.names > 0 or self.numbers > 0 or self.concat > 0


def corpus_names(pairs: Sequence[tuple[str, str]], min_count: int = MIN_NAME_COUNT) -> list[str]:
    """The names the corpus carries unchanged from English to French: capitalised words
    that are not the English sentence's first word, appear as they are in its French, and
    are written in lowercase in under 5% of their English occurrences; most frequent first."""
    shared: Counter = Counter()
    lower_seen: Counter = Counter()
    for en, fr in pairs:
        words = re.findall(r"[^\W\d_]+", en)
        for word in words:
            lower_seen[word] += 1
        for word in set(words[1:]):
            if word[0].isupper() and word[1:].islower() and len(word) > 1 \
                    and re.search(rf"\b{word}\b", fr):
                shared[word] += 1
    names = [w for w, n in shared.items()
             if n >= min_count and lower_seen[w.lower()] < 0.05 * lower_seen[w]]
    return sorted(names, key=lambda w: (-shared[w], w))


def name_pool(locales: Sequence[str] = TRAIN_NAME_LOCALES, size: int = NAME_POOL_SIZE, seed: int = 0,
              allowed: Callable[[str], bool] = lambda name: True) -> list[str]:
    """Distinct names from Faker in `locales`: first names, full names, surnames and
    cities, in Latin script, each accepted by `allowed` (e.g. every character known to
    both tokenizers)."""
    from faker import Faker  # the train extra

    pool: dict[str, None] = {}
    share = -(-size // len(locales))
    for number, locale in enumerate(locales):
        fake = Faker(locale)
        fake.seed_instance(seed * 1000 + number)
        makers = (fake.first_name, fake.first_name, fake.name, fake.last_name,
                  fake.first_name if locale in _CITIES_VARY else fake.city)
        found: dict[str, None] = {}
        for draw in range(share * 5):
            name = _TITLE.sub("", makers[draw % len(makers)]())
            if latin_name(name) and allowed(name) and name not in pool:
                found[name] = None
            if len(found) >= share:
                break
        pool.update(found)
    return list(pool)[:size]


def latin_name(name: str) -> bool:
    """A name of Latin letters, with single spaces, hyphens or apostrophes between its
    words, starting with a capital."""
    if not re.fullmatch(r"[^\W\d_]+(?:[ '\-][^\W\d_]+)*", name) or not name[0].isupper():
        return False
    return all("LATIN" in unicodedata.name(ch, "") for ch in name if ch.isalpha())


def random_number(rng: random.Random) -> tuple[str, str]:
    """A random number as (English, French) text, in one of the formats people write."""
    kind = rng.randrange(6)
    if kind == 0:
        value = str(rng.randint(2, 99))
        return value, value
    if kind == 1:
        value = str(rng.randint(100, 999))
        return value, value
    if kind == 2:
        value = str(rng.randint(1800, 2099))  # a year, or a plain four-digit amount
        return value, value
    if kind == 3:
        n = rng.choice((rng.randint(1000, 9999), rng.randint(10_000, 9_999_999)))
        return f"{n:,}", f"{n:,}".replace(",", " ")
    if kind == 4:
        whole, tenths = rng.randint(0, 99), rng.randint(1, 99)
        text = f"{whole}.{tenths}"
        return text, text.replace(".", ",")
    return random_time(rng)


def random_time(rng: random.Random) -> tuple[str, str]:
    """A clock time as (English "2:30", French "2 h 30")."""
    hour, minute = rng.randint(0, 23), rng.choice((0, 5, 10, 15, 20, 30, 40, 45, 50, rng.randint(0, 59)))
    return f"{hour}:{minute:02d}", f"{hour} h {minute:02d}"


def _word(pattern: str) -> re.Pattern:
    return re.compile(rf"(?<![\w'-]){re.escape(pattern)}(?![\w-])")


class Augmenter:
    """Changes raw (English, French) training pairs; see the module docstring."""

    def __init__(self, names: Sequence[str], pool: Sequence[str], rates: AugmentRates):
        self.pool = list(pool)
        self.rates = rates
        self._names = [(name, _word(name)) for name in names]
        self._number_words = [(_word(en), _word(fr), en) for en, fr in NUMBER_WORDS.items()]

    def swap_names(self, en: str, fr: str, rng: random.Random) -> tuple[str, str]:
        """Each corpus name that both sides hold equally often, replaced by a pool name."""
        for name, pattern in self._names:
            if name not in en:
                continue
            count = len(pattern.findall(en))
            if count and count == len(pattern.findall(fr)):
                new = rng.choice(self.pool)
                en, fr = pattern.sub(literal(new), en), pattern.sub(literal(new), fr)
        return en, fr

    def swap_numbers(self, en: str, fr: str, rng: random.Random) -> tuple[str, str]:
        """The numbers both sides write (in digits, in the same order; or as a word and its
        French), each replaced by a random one; a time stays a time."""
        en_digits, fr_digits = SOURCE_NUMBER.findall(en), SOURCE_NUMBER.findall(fr)
        if en_digits and [re.sub(r"\D", "", d) for d in en_digits] == [re.sub(r"\D", "", d) for d in fr_digits]:
            new = [random_time(rng) if _TIME.match(d) else random_number(rng) for d in en_digits]
            en_new, fr_new = iter(n[0] for n in new), iter(n[1] for n in new)
            en, fr = SOURCE_NUMBER.sub(lambda _: next(en_new), en), SOURCE_NUMBER.sub(lambda _: next(fr_new), fr)
        lowered = en.lower()
        for en_word, fr_word, word in self._number_words:
            if word in lowered and len(en_word.findall(en)) == 1 and len(fr_word.findall(fr)) == 1:
                new_en, new_fr = random_number(rng)
                en, fr = en_word.sub(literal(new_en), en), fr_word.sub(literal(new_fr), fr)
        return en, fr

    def epoch_pairs(self, pairs: Sequence[tuple[str, str]], seed: int, epoch: int) -> list[tuple[str, str]]:
        """This epoch's training pairs: each pair, perhaps with names and a number
        swapped, then the joined examples (len(pairs) * rates.concat of them)."""
        rng = random.Random(seed * 1_000_003 + epoch * 7919 + 17)
        out = []
        for en, fr in pairs:
            if self.rates.names and self.pool and rng.random() < self.rates.names:
                en, fr = self.swap_names(en, fr, rng)
            if self.rates.numbers and rng.random() < self.rates.numbers:
                en, fr = self.swap_numbers(en, fr, rng)
            out.append((en, fr))
        for _ in range(round(len(pairs) * self.rates.concat)):
            joined = [out[rng.randrange(len(out))] for _ in range(rng.choice((2, 2, 3)))]
            out.append((" ".join(en for en, _ in joined), " ".join(fr for _, fr in joined)))
        return out
