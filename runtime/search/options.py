"""Decoding options and results; the strategies (greedy, beam, sampling) share one decoder step."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from s2s_batch.runtime.errors import OptionError

LENGTH_PENALTY_TYPES = ("power", "gnmt")
# Beams per sentence: a search of K beams holds K rows of logits per sentence at every
# step (10,000 beams on 10 lines took 22 GB); CTranslate2's users rarely pass 64.
MAX_BEAM_SIZE = 1024


def _flag(default, help: str, *flags: str, low: float | None = None, choices: tuple | None = None):
    """A DecodingOptions field with what a command line needs to offer it: its help, its
    flags (default: --the-field-name), its lowest value or its choices."""
    return field(default=default, metadata={"help": help, "flags": flags, "low": low, "choices": choices})


@dataclass(frozen=True)
class DecodingOptions:
    """How to search; names follow CTranslate2's translate_batch where the meaning is the same.

    Sampling is used when sampling_topk != 1 (0: the whole distribution), as in CTranslate2;
    otherwise beam search, which is greedy search when beam_size is 1.
    """

    beam_size: int = _flag(1, "1: greedy search", low=1)
    num_hypotheses: int = _flag(1, "n-best size (at most the beam size; all of them in jsonl, the best in text)", low=1)
    # Beam search ranks by score / length ** length_penalty (CTranslate2's, fairseq's and
    # Marian's meaning; length counts <eos>), or with length_penalty_type="gnmt" by
    # score / ((5 + length) / 6) ** length_penalty (Wu et al. 2016). The default is the best
    # of 0, 0.6, 1.0, 1.2 for the shipped bundle on dev at beam 4 and 8 (docs/default-model.md).
    length_penalty: float = _flag(1.0, "beam search ranks hypotheses by log-probability / length^ALPHA "
                                       "(CTranslate2's meaning; 0: none); 1.0 was best on dev")
    length_penalty_type: str = _flag("power", "power: length^ALPHA; gnmt: ((5 + length) / 6)^ALPHA (Wu et al. 2016)",
                                     choices=LENGTH_PENALTY_TYPES)
    # CTranslate2's coverage_penalty (Wu et al. 2016's cp): each finished hypothesis's
    # score gains BETA x sum over source tokens of log(min(attention they received, 1)),
    # so a hypothesis that left part of the source unread ranks lower; <eos>'s weights
    # are not counted, as in CTranslate2. Beam search only: it re-ranks finished beams.
    coverage_penalty: float = _flag(0.0, "beam search adds BETA x the sum over source tokens of log(min(attention "
                                         "they received, 1)) to each finished hypothesis's score, ranking "
                                         "lower one that left source words unread (CTranslate2's; 0: off)",
                                    low=0)
    min_decoding_length: int = _flag(0, "no <eos> before this many tokens", "--min-len", low=0)
    # A fixed cap on generated tokens; None: max_length_a * source tokens + max_length_b
    # (fairseq's max_len_a / max_len_b), chosen on the dev split so that no reference of
    # dev or test is longer (bench/RESULTS.md), while a runaway repetition stops early.
    max_decoding_length: int | None = _flag(None, "most tokens generated per sentence [default: --max-len-a x "
                                                  "its source tokens + --max-len-b]; the input's cap is "
                                                  "--max-input-length", "--max-decoding-length", "--max-len", low=1)
    max_length_a: float = _flag(2.0, "without --max-len: tokens generated per source token (fairseq's max_len_a)",
                                "--max-len-a", low=0)
    max_length_b: int = _flag(10, "without --max-len: tokens generated on top (fairseq's max_len_b)",
                              "--max-len-b", low=0)
    no_repeat_ngram_size: int = _flag(0, "forbid repeating any n-gram of this size (0: off)", "--no-repeat-ngram",
                                      low=0)
    # CTranslate2's: before the softmax, a token the hypothesis already holds has its logit
    # divided by the penalty where positive, multiplied where negative (Keskar et al. 2019).
    repetition_penalty: float = _flag(1.0, "penalise tokens already generated: their logits divided by P "
                                           "(multiplied where negative); 1: off, > 1 penalises")
    sampling_topk: int = _flag(1, "sample from the K most likely tokens (1: no sampling; 0: the whole "
                                  "distribution)", low=0)
    sampling_topp: float = _flag(1.0, "nucleus: sample from the smallest set holding this probability mass")
    sampling_temperature: float = _flag(1.0, "divide logits by T before sampling (0: argmax)")
    seed: int = _flag(0, "sampling seed; a sentence's sample depends only on it and the sentence")
    return_scores: bool = _flag(False, "the scores that rank the hypotheses (beam search: divided by the "
                                       "length penalty): text output writes 'SCORE ||| TRANSLATION', jsonl "
                                       "adds each token's log-probability (nbest always has them)")
    # models with attention: weights over the source per token
    return_attention: bool = _flag(False, "jsonl: add attention weights (models with attention only)")
    # Never generate <unk> (the next best word instead): on by default, unlike CTranslate2,
    # since a word-level model's <unk> costs the default bundle ~3 BLEU (docs/quality.md).
    disable_unk: bool = _flag(True, "never generate the unknown-word token <unk> (the next best word instead), "
                                    "or let the model write <unk> where it would", "--disable-unk/--allow-unk")
    # <unk> → the source word with the highest attention weight; lets <unk> be generated
    replace_unknowns: bool = _flag(False, "let the model generate <unk> and replace each by the source word "
                                          "with the highest attention weight (models with attention only)",
                                   "--replace-unk")

    def __post_init__(self):
        checks = [
            (self.beam_size >= 1, "{beam_size} must be at least 1"),
            (1 <= self.num_hypotheses <= max(self.beam_size, 1) or self.sampling,
             "{num_hypotheses} must be between 1 and {beam_size}"),
            (self.num_hypotheses == 1 or not self.sampling,
             "{num_hypotheses} must be 1 with sampling: sampling returns one hypothesis"),
            (self.beam_size == 1 or not self.sampling,
             "sampling draws one hypothesis per sentence: use {beam_size} 1 with {sampling_topk}, or "
             "{sampling_topk} 1 with {beam_size}"),
            (self.length_penalty >= 0, "{length_penalty} must be >= 0"),
            # >= 0: a finished score can only fall, which keeps beam search's early stop exact
            (math.isfinite(self.coverage_penalty) and self.coverage_penalty >= 0,
             "{coverage_penalty} must be a finite number >= 0 (0: off)"),
            (self.coverage_penalty == 0 or self.beam_size > 1,
             "{coverage_penalty} re-ranks beam search's hypotheses: add {beam_size} 2 or more, or drop it"),
            (self.length_penalty_type in LENGTH_PENALTY_TYPES,
             f"{{length_penalty_type}} must be one of {LENGTH_PENALTY_TYPES}"),
            (self.min_decoding_length >= 0, "{min_decoding_length} must be >= 0"),
            (self.max_decoding_length is None or self.max_decoding_length >= 1,
             "{max_decoding_length} must be at least 1"),
            (all(math.isfinite(x) for x in (self.length_penalty, self.max_length_a, self.sampling_topp,
                                             self.sampling_temperature)),
             "{length_penalty}, {max_length_a}, {sampling_topp} and {sampling_temperature} must be finite numbers"),
            (self.beam_size <= MAX_BEAM_SIZE, f"{{beam_size}} must be at most {MAX_BEAM_SIZE}"),
            (self.max_length_a >= 0 and self.max_length_b >= 0
             and self.max_length_a + self.max_length_b > 0,
             "{max_length_a} and {max_length_b} must be >= 0, not both 0"),
            (self.no_repeat_ngram_size >= 0, "{no_repeat_ngram_size} must be >= 0"),
            (math.isfinite(self.repetition_penalty) and self.repetition_penalty > 0,
             "{repetition_penalty} must be a number > 0 (1: off)"),
            (self.sampling_topk >= 0, "{sampling_topk} must be >= 0"),
            (0 < self.sampling_topp <= 1, "{sampling_topp} must be in (0, 1]"),
            (self.sampling_temperature >= 0, "{sampling_temperature} must be >= 0"),
            (self.seed >= 0, "{seed} must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise OptionError(message)

    @property
    def needs_histories(self) -> bool:
        """Whether each step's choice reads the tokens a hypothesis already holds (so the
        search needs the logits on the host)."""
        return self.no_repeat_ngram_size > 0 or self.repetition_penalty != 1.0

    @property
    def sampling(self) -> bool:
        """Whether these options sample (sampling_topk != 1) rather than search."""
        return self.sampling_topk != 1

    def length_caps(self, source_lengths: np.ndarray, fixed: int | None = None) -> np.ndarray:
        """Per sentence, the most tokens it may generate: max_decoding_length (else
        `fixed`) if set, else max_length_a * its source tokens + max_length_b (at least 1)."""
        cap = self.max_decoding_length or fixed
        if cap:
            return np.full(len(source_lengths), cap, dtype=np.int64)
        caps = np.floor(self.max_length_a * np.asarray(source_lengths)) + self.max_length_b
        return np.maximum(caps, 1).astype(np.int64)

    def coverage_term(self, coverage: np.ndarray) -> float:
        """What the coverage penalty adds to a finished hypothesis's score: beta x the sum,
        over source positions that received attention, of log(min(received, 1)); 0 when
        the penalty is off. `coverage`: the attention each source position received, summed
        over the hypothesis's tokens (<eos> not counted)."""
        if not self.coverage_penalty:
            return 0.0
        received = coverage[coverage > 0]
        return self.coverage_penalty * float(np.log(np.minimum(received, 1.0)).sum())

    def length_normalizer(self, length: int) -> float:
        """What beam search divides a hypothesis's total log-probability by to rank it:
        length ** alpha, or GNMT's ((5 + length) / 6) ** alpha; length counts <eos> if
        emitted."""
        if self.length_penalty_type == "gnmt":
            return ((5.0 + length) / 6.0) ** self.length_penalty
        return float(length) ** self.length_penalty


@dataclass
class Hypothesis:
    """Generated ids (without <eos>), their log-probabilities, and the ranking score."""

    ids: list[int]
    token_scores: list[float] = field(default_factory=list)  # one per token, <eos> included
    rank_score: float = 0.0  # total score / length normalizer (+ coverage penalty's term)
    attention: list = field(default_factory=list)  # weights [T] per token, <eos> included

    @property
    def score(self) -> float:
        """Total log-probability of the hypothesis, <eos> included."""
        return float(sum(self.token_scores))


def row_caps(max_len, batch: int) -> np.ndarray:
    """A cap per batch row from one cap for all (int) or one per row (array)."""
    return np.broadcast_to(np.asarray(max_len, dtype=np.int64), (batch,)).copy()


def forbid(scores: np.ndarray, t: int, eos: int, banned: int | None, min_len: int = 0, ngram: int = 0,
           histories: list[list[int]] | None = None, shortlist: np.ndarray | None = None,
           forced: list[int | None] | None = None) -> None:
    """Set to -inf, in place, what step t may not produce, for every search: <eos> before
    `min_len` tokens, the `banned` id (<unk> with disable_unk), and in each row a token
    that would repeat an n-gram of `ngram` tokens of its history (`histories`, one per row
    of `scores`). A row's `forced` token (its target prefix's at step t; None: free) is the
    only one it may produce, whatever the other rules say. With a `shortlist` (sorted
    target ids), `scores`' columns are its ids."""
    def columns(ids):
        found = [c for c in (column_of(i, shortlist) for i in ids) if c is not None]
        return found if shortlist is not None else list(ids)

    pinned = [(row, token) for row, token in enumerate(forced or []) if token is not None]
    kept = [scores[row, token] for row, token in pinned]
    fixed = ([eos] if t < min_len else []) + ([banned] if banned is not None else [])
    if fixed:
        scores[:, columns(fixed)] = -np.inf
    if ngram and histories is not None:
        for row, history in enumerate(histories):
            repeats = banned_by_ngrams(history, ngram)
            if repeats:
                scores[row, columns(repeats)] = -np.inf
    for (row, token), value in zip(pinned, kept):
        scores[row] = -np.inf
        scores[row, token] = value


def penalize_repeats(logits: np.ndarray, histories: list[list[int]], penalty: float,
                     shortlist: np.ndarray | None = None) -> None:
    """CTranslate2's repetition penalty, in place: in each row, the logit of every token
    its history holds is divided by `penalty` where positive, multiplied where negative."""
    if penalty == 1.0:
        return
    for row, history in enumerate(histories):
        ids = sorted(set(history))
        cols = ids if shortlist is None else [c for c in (column_of(i, shortlist) for i in ids) if c is not None]
        if cols:
            values = logits[row, cols]
            logits[row, cols] = np.where(values > 0, values / penalty, values * penalty)


def forced_tokens(prefixes: list[list[int]] | None, owners, t: int) -> list[int | None] | None:
    """Each scores row's token at step t of its batch row's target prefix (`owners`: the
    batch row of each scores row), None where the prefix is done; None without prefixes."""
    if prefixes is None:
        return None
    return [prefixes[o][t] if t < len(prefixes[o]) else None for o in owners]


def column_of(token: int, shortlist: np.ndarray | None) -> int | None:
    """The scores column of target id `token`: itself, or its place in the shortlist (None
    if the shortlist lacks it)."""
    if shortlist is None:
        return token
    at = int(np.searchsorted(shortlist, token))
    return at if at < len(shortlist) and shortlist[at] == token else None


def banned_by_ngrams(history: list[int], n: int) -> list[int]:
    """Tokens that would repeat an n-gram already in `history`."""
    if n <= 0 or len(history) < n - 1:
        return []
    if n == 1:
        return list(set(history))
    prefix = tuple(history[len(history) - n + 1:])
    return [history[i + n - 1] for i in range(len(history) - n + 1)
            if tuple(history[i : i + n - 1]) == prefix]
