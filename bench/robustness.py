"""Robustness of a bundle beyond Tatoeba's phrasing: names, numbers, capitals, long lines.

    python bench/robustness.py --data ../shared/data/fra-eng/fra.txt [--bundle DIR] \
        [--split dev|test] [--beam-size 1] [--json OUT.json]

From a held-out split (the one s2s-train uses) it builds variants and translates them:

- names: sentences whose English and every kept reference hold a corpus name (Tom,
  Mary, Boston...), that name swapped for one drawn from Faker locales that training
  never draws from, and that never occurs in the corpus. Reported: the share of outputs
  holding the new name exactly, over all names and over the names whose every
  character the bundle's tokenizers know;
- numbers: sentences with a number in digits or as a word ("two"/"deux") in the English
  and the references, the number replaced by one of this script's own generator
  (integers, thousands, decimals, years, times). Reported: the share of outputs holding
  the same value, read as French writes it (1 250 or 1250, 3,5, 14 h 30);
- ALL CAPS and Title Case: every sentence so written; BLEU (lowercased) as a ratio to
  the lowercased BLEU of the sentences as written;
- spans: the name sentences again, an e-mail address, a URL, a code ("KT4821") or a
  phone number ("555-0199") where the name was; the share of outputs holding it as
  written;
- joined: 2-3 consecutive sentences joined into one line, read whole (no sentence
  splitting), and with the runtime's splitting; BLEU as a ratio to the sentences
  translated one by one and joined;
- BLEU (sacreBLEU, cased, 13a, every reference) of the unchanged split, overall and by
  source length in words (1-4, 5-8, 9-15, 16+).

Prints one JSON object (also written to --json). `--model-only` turns the runtime's help
(runtime/text.py: capitals, name stand-ins, numbers) off, to see the model alone.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

from sacrebleu.metrics import BLEU

from s2s_batch.runtime.bleu import references_to_streams
from s2s_batch.runtime.bundle.tokens import tokenize
from s2s_batch.runtime.text import literal
from s2s_batch.runtime.translator import Translator
from s2s_batch.train.augment import (
    NAME_POOL_SIZE,
    NUMBER_WORDS,
    TRAIN_NAME_LOCALES,
    corpus_names,
    latin_name,
    name_pool,
)
from s2s_batch.train.config import TrainConfig
from s2s_batch.train.data import read_pairs, split_of

# Faker locales that training does not draw names from.
BENCH_NAME_LOCALES = ("sv_SE", "fi_FI", "da_DK", "cs_CZ", "hu_HU", "ro_RO", "hr_HR", "en_AU",
                      "es_MX", "fr_CA", "de_AT", "et_EE", "lt_LT", "lv_LV", "sl_SI", "no_NO")
LENGTH_BUCKETS = ((1, 4), (5, 8), (9, 15), (16, 10_000))
_CASED = BLEU()
_LOWER = BLEU(lowercase=True)


def held_out(data: Path, split: str) -> tuple[list[str], list[list[str]], list[tuple[str, str]]]:
    """(distinct English sentences of the split, their references, the training pairs)."""
    defaults = TrainConfig()
    groups: dict[str, tuple[str, list[str]]] = {}
    train = []
    for en, fr in read_pairs(data):
        key = " ".join(tokenize(en))
        which = split_of(key.split(), defaults.dev_permille, defaults.test_permille)
        if which == split:
            groups.setdefault(key, (en.strip(), []))[1].append(fr.strip())
        elif which == "train":
            train.append((en, fr))
    return [en for en, _ in groups.values()], [refs for _, refs in groups.values()], train


def bleu(metric: BLEU, hyps: list[str], refs: list[list[str]]) -> float:
    return round(metric.corpus_score(hyps, references_to_streams(refs)).score, 2)


def bench_names(corpus: list[tuple[str, str]], count: int = 3000, seed: int = 1) -> list[str]:
    """Names of the bench's own locales, none in training's pool nor anywhere in the corpus."""
    seen_words = {w for en, fr in corpus for w in re.findall(r"[^\W\d_]+", en + " " + fr)}
    trained = {w for name in name_pool(TRAIN_NAME_LOCALES, size=2 * NAME_POOL_SIZE)
               for w in re.findall(r"[^\W\d_]+", name)}
    pool = name_pool(BENCH_NAME_LOCALES, size=count * 3, seed=seed)
    return [n for n in pool if latin_name(n)
            and not any(w in seen_words or w in trained for w in re.findall(r"[^\W\d_]+", n))][:count]


def bench_span(rng: random.Random, name: str) -> str:
    """A span the translation must hold as written, of a random kind, from a bench name:
    an e-mail address, a URL, a code of capitals and digits, or a phone number."""
    word = re.sub(r"[^a-z]", "", name.lower()) or "x"
    kind = rng.choice(("email", "url", "code", "phone"))
    if kind == "email":
        return f"{word}.{rng.randint(1, 99)}@{rng.choice(('mail', 'post', 'web'))}.{rng.choice(('com', 'org', 'net'))}"
    if kind == "url":
        return f"https://www.{word}.{rng.choice(('com', 'org', 'fi'))}/{rng.choice(('help', 'news', 'a/b'))}"
    if kind == "code":
        letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(rng.randint(1, 3)))
        return f"{letters}{rng.randint(1, 9999)}"
    return f"{rng.randint(200, 999)}-{rng.randint(1000, 9999):04d}"


def _whole(word: str) -> re.Pattern:
    return re.compile(rf"(?<![\w'-]){re.escape(word)}(?![\w-])")


def name_variants(sources, refs, names_known, new_names, rng):
    """(source, references, the new name) for each sentence holding a corpus name."""
    out = []
    for en, rs in zip(sources, refs):
        for name in names_known:
            pattern = _whole(name)
            if len(pattern.findall(en)) == 1:
                kept = [r for r in rs if len(pattern.findall(r)) == 1]
                if kept:
                    new = rng.choice(new_names)
                    out.append((pattern.sub(literal(new), en), [pattern.sub(literal(new), r) for r in kept], new))
                break
    return out


def bench_number(rng: random.Random, time: bool = False) -> tuple[str, str, str]:
    """(English text, French text, value) of a random number, a clock time if `time`;
    the value is what both texts mean, as a canonical string: "1250", "3.25", "14:05"."""
    kind = "time" if time else rng.choice(("small", "hundreds", "year", "thousands", "decimal"))
    if kind == "small":
        n = rng.randint(3, 98)
    elif kind == "hundreds":
        n = rng.randint(101, 998)
    elif kind == "year":
        n = rng.randint(1901, 2049)
    elif kind == "thousands":
        n = rng.randint(1001, 999_999)
        return f"{n:,}", f"{n:,}".replace(",", "\u202f"), str(n)
    elif kind == "decimal":
        text = f"{rng.randint(1, 49)}.{rng.randint(1, 9)}{rng.randint(1, 9)}"
        return text, text.replace(".", ","), text
    else:
        hour, minute = rng.randint(1, 22), rng.randint(1, 59)
        return f"{hour}:{minute:02d}", f"{hour} h {minute:02d}", f"{hour}:{minute:02d}"
    return str(n), str(n), str(n)


_FR_TIME = re.compile(r"(?<!\d)(\d{1,2})\s*(?:h|:)\s*(\d{2})(?!\d)")
_FR_NUMBER = re.compile(r"(?<![\d,])\d{1,3}(?:[ \u00a0\u202f.]\d{3})+(?:,\d+)?(?![\d])|(?<![\d,])\d+(?:,\d+)?(?![\d])")


def french_values(text: str) -> set[str]:
    """The numbers a French text writes, as canonical strings (see bench_number)."""
    values = {f"{int(h)}:{m}" for h, m in _FR_TIME.findall(text)}
    for match in _FR_NUMBER.findall(_FR_TIME.sub(" ", text)):
        values.add(re.sub(r"[ \u00a0\u202f.]", "", match).replace(",", "."))
    return values


_EN_DIGITS = re.compile(r"(?<![\w.,:])\d+(?:[.,:]\d+)*(?![\w])")
_FR_GROUP = re.compile(r"(?<![\w,])\d+(?:[ \u00a0\u202f.,:]\d+)*(?:[ \u00a0\u202f]?h[ \u00a0\u202f]?\d{2})?(?![\w])")


def number_variants(sources, refs, rng):
    """(source, references, value) for sentences with one number that the English and
    some references write (in digits, the same digits; or "two" and "deux"), that number
    replaced by a new one (bench_number) on both sides."""
    words = [(_whole(en), _whole(fr)) for en, fr in NUMBER_WORDS.items()]
    out = []
    for en, rs in zip(sources, refs):
        digits = _EN_DIGITS.findall(en)
        new_en, new_fr, value = bench_number(rng, time=bool(digits) and bool(re.fullmatch(r"\d{1,2}:\d{2}", digits[0])))
        if len(digits) == 1:
            same = re.sub(r"\D", "", digits[0])
            kept = [r for r in rs if [re.sub(r"\D", "", g) for g in _FR_GROUP.findall(r)] == [same]]
            if kept:
                out.append((_EN_DIGITS.sub(literal(new_en), en),
                            [_FR_GROUP.sub(literal(new_fr), r) for r in kept], value))
            continue
        if digits:
            continue
        for en_word, fr_word in words:
            en_word, fr_word = re.compile(en_word.pattern, re.I), re.compile(fr_word.pattern, re.I)
            if len(en_word.findall(en)) == 1:
                kept = [r for r in rs if len(fr_word.findall(r)) == 1 and not _FR_GROUP.search(r)]
                if kept:
                    out.append((en_word.sub(literal(new_en), en),
                                [fr_word.sub(literal(new_fr), r) for r in kept], value))
                break
    return out


def title_case(text: str) -> str:
    return re.sub(r"[^\W\d_]+(?:'[^\W\d_]+)?", lambda m: m.group(0)[0].upper() + m.group(0)[1:], text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--beam-size", type=int, default=1)
    parser.add_argument("--limit", type=int, default=2000, help="sentences for the case variants (0: all)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model-only", action="store_true",
                        help="no runtime help (runtime/text.py off): what the model does alone")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"robustness.py: no corpus {args.data}; pass --data with the path of fra.txt")
    t0 = time.perf_counter()
    sources, refs, train = held_out(args.data, args.split)
    rng = random.Random(args.seed)
    translator = Translator(args.bundle, threads=args.threads or None)
    if args.model_only:
        translator.source_text = None
    opts = {"beam_size": args.beam_size}

    def run(lines, **extra):
        return translator.translate_lines(lines, **opts, **extra)

    report: dict = {"bundle": str(args.bundle or "default"), "split": args.split, "sentences": len(sources),
                    "beam_size": args.beam_size, "model_only": args.model_only}
    plain = run(sources)
    report["bleu"] = bleu(_CASED, plain, refs)
    report["bleu_lower"] = bleu(_LOWER, plain, refs)
    by_length = {}
    for low, high in LENGTH_BUCKETS:
        pick = [i for i, s in enumerate(sources) if low <= len(s.split()) <= high]
        label = f"{low}-{high}" if high < 10_000 else f"{low}+"
        by_length[label] = {"sentences": len(pick),
                            "bleu": bleu(_CASED, [plain[i] for i in pick], [refs[i] for i in pick])}
    report["bleu_by_length"] = by_length

    names_known = corpus_names(train)
    new_names = bench_names(train, seed=args.seed)
    known_chars = set("".join(en + fr for en, fr in train))
    variants = name_variants(sources, refs, names_known, new_names, rng)
    outputs = run([v[0] for v in variants])
    kept = [name in out for (_, _, name), out in zip(variants, outputs)]
    spelled = [i for i, (_, _, name) in enumerate(variants) if set(name) <= known_chars]
    report["names"] = {"sentences": len(variants), "carried": round(sum(kept) / max(len(kept), 1), 4),
                       "known_characters": len(spelled),
                       "carried_known_characters": round(sum(kept[i] for i in spelled) / max(len(spelled), 1), 4),
                       "bleu": bleu(_CASED, outputs, [v[1] for v in variants]),
                       "examples": [[v[0], o] for v, o, k in zip(variants, outputs, kept) if not k][:5]}
    # the same sentences with a span to keep as written where the name was (a stream of
    # its own, so that the other variants are drawn as before)
    span_rng = random.Random(args.seed + 1_000_003)
    spans = [(src.replace(name, span), [r.replace(name, span) for r in rs], span)
             for (src, rs, name), span in ((v, bench_span(span_rng, v[2])) for v in variants)]
    outputs = run([v[0] for v in spans])
    kept = [span in out for (_, _, span), out in zip(spans, outputs)]
    report["spans"] = {"sentences": len(spans), "carried": round(sum(kept) / max(len(kept), 1), 4),
                       "bleu": bleu(_CASED, outputs, [v[1] for v in spans]),
                       "examples": [[v[0], o] for v, o, k in zip(spans, outputs, kept) if not k][:5]}
    numbers = number_variants(sources, refs, rng)
    outputs = run([v[0] for v in numbers])
    kept = [value in french_values(out) for (_, _, value), out in zip(numbers, outputs)]
    report["numbers"] = {"sentences": len(numbers), "carried": round(sum(kept) / max(len(kept), 1), 4),
                         "bleu": bleu(_CASED, outputs, [v[1] for v in numbers]),
                         "examples": [[v[0], o] for v, o, k in zip(numbers, outputs, kept) if not k][:5]}

    limit = args.limit or len(sources)
    case_src, case_refs, case_plain = sources[:limit], refs[:limit], plain[:limit]
    as_written = bleu(_LOWER, case_plain, case_refs)
    for name, change in (("all_caps", str.upper), ("title_case", title_case)):
        outputs = run([change(s) for s in case_src])
        score = bleu(_LOWER, outputs, case_refs)
        report[name] = {"sentences": len(case_src), "bleu_lower": score, "as_written_bleu_lower": as_written,
                        "ratio": round(score / as_written, 4) if as_written else 0.0,
                        "example": [change(case_src[len(case_src) // 2]), outputs[len(case_src) // 2]]}

    groups, start = [], 0
    while start < len(sources):
        size = rng.choice((2, 3))
        groups.append(range(start, min(start + size, len(sources))))
        start += size
    joined_src = [" ".join(sources[i] for i in g) for g in groups]
    joined_refs = [[" ".join(refs[i][min(k, len(refs[i]) - 1)] for i in g) for k in range(max(len(refs[i]) for i in g))]
                   for g in groups]
    one_by_one = bleu(_CASED, [" ".join(plain[i] for i in g) for g in groups], joined_refs)
    whole_translator = Translator(args.bundle, threads=args.threads or None, split_sentences=False)
    if args.model_only:
        whole_translator.source_text = None
    whole = whole_translator.translate_lines(joined_src, **opts)
    split = run(joined_src)
    report["joined"] = {"lines": len(groups), "one_by_one_bleu": one_by_one,
                        "whole_bleu": bleu(_CASED, whole, joined_refs),
                        "whole_ratio": round(bleu(_CASED, whole, joined_refs) / one_by_one, 4),
                        "split_bleu": bleu(_CASED, split, joined_refs)}
    report["seconds"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(report, ensure_ascii=False, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
