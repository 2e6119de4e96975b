"""What a translator hands back: translations, scores of given targets, counts."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from s2s_batch.runtime.bundle.tokens import Vocab, detokenize
from s2s_batch.runtime.search.options import Hypothesis
from s2s_batch.runtime.text import join_pieces


@dataclass
class ScoringResult:
    """A target sentence's tokens (<eos> last) and the log-probability of each under the
    model, given its source."""

    tokens: list[str] = field(default_factory=list)
    log_probs: list[float] = field(default_factory=list)

    @property
    def score(self) -> float:
        """The total log-probability, <eos> included (0.0 for a blank pair)."""
        return float(sum(self.log_probs))


@dataclass
class Stats:
    """Counts accumulated over a Translator's calls."""

    lines: int = 0
    source_tokens: int = 0
    unknown_tokens: int = 0
    truncated_lines: int = 0  # lines with a piece longer than max_input_length (cropped)
    target_tokens: int = 0  # of the best hypotheses, <eos> not counted
    split_lines: int = 0  # lines split into several sentences
    capped_lines: int = 0  # lines whose best hypothesis stopped at its length cap

    def add(self, other: Stats) -> None:
        """Accumulate another Stats (e.g. a worker's) into this one."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self, seconds: float) -> str:
        """The end-of-run line: lines, tokens, time, speed, unknown words, splits, crops, caps."""
        unk = self.unknown_tokens / max(self.source_tokens, 1)
        return (f"s2s-batch: {self.lines:,} lines, {self.source_tokens:,} source and "
                f"{self.target_tokens:,} target tokens in {seconds:.2f} s "
                f"({self.lines / max(seconds, 1e-9):,.0f} sentences/s); unknown source words {unk:.1%}, "
                f"{self.split_lines:,} lines split into sentences, {self.truncated_lines:,} lines "
                f"cropped, {self.capped_lines:,} capped")


@dataclass
class TranslationResult:
    """The n-best hypotheses of one line, best first (empty for a blank line)."""

    # text, or for token input the target tokens (as CTranslate2 returns them)
    hypotheses: list = field(default_factory=list)
    # with return_scores: each hypothesis's total log-probability (<eos> included), divided
    # by the length penalty under beam search (the score that ranks it, as CTranslate2's);
    # and its tokens' log-probabilities
    scores: list[float] = field(default_factory=list)
    token_scores: list[list[float]] = field(default_factory=list)
    ids: list[list[int]] = field(default_factory=list)
    tokens: list[list[str]] = field(default_factory=list)  # the target vocabulary's, <eos> not included
    # with return_attention: per hypothesis, per target token (<eos> included), the weights
    # over the source tokens the encoder saw (<eos> included); for a line split into
    # sentences, each piece's rows in turn, over that piece's source
    attention: list[list[list[float]]] = field(default_factory=list)
    pieces: int = 1  # the sentences the line was split into (0 for a blank line)
    cropped: bool = False  # a piece had more source tokens than max_input_length
    capped: bool = False  # the best hypothesis of a piece stopped at its length cap, not <eos>

    @classmethod
    def of(cls, hyps: list[Hypothesis], vocab: Vocab, source_tokens: list[str],
           replace_unknowns: bool = False, detok=detokenize, ranked: bool = False) -> TranslationResult:
        """Hypotheses with their tokens, detokenized by `detok` (None: texts left empty);
        with replace_unknowns each <unk> becomes the source word with the highest attention
        weight at that step. `ranked` (beam search): each score is the one that ranked the
        hypothesis (the total divided by the length penalty), else the total."""
        tokens = []
        for h in hyps:
            words = vocab.decode(h.ids)
            if replace_unknowns:
                words = [source_tokens[int(np.argmax(h.attention[t][: len(source_tokens)]))]
                         if i == vocab.unk else word for t, (i, word) in enumerate(zip(h.ids, words))]
            tokens.append(words)
        texts = [detok(words) if detok is not None else "" for words in tokens]
        width = len(source_tokens) + 1  # the encoder's input: the tokens and <eos>
        scored = all(h.token_scores for h in hyps)  # searched with return_scores
        return cls(texts, [h.rank_score if ranked else h.score for h in hyps] if scored else [],
                   [h.token_scores for h in hyps] if scored else [], [h.ids for h in hyps], tokens,
                   [[[float(x) for x in w[:width]] for w in h.attention] for h in hyps])

    @property
    def best(self) -> str:
        """The best hypothesis, or '' for a blank line."""
        return self.hypotheses[0] if self.hypotheses else ""

    @classmethod
    def joined(cls, parts: list[TranslationResult]) -> TranslationResult:
        """One line's result from its pieces' results, in order: hypothesis k joins each
        piece's k-th hypothesis; scores add up, tokens and weights follow one another."""
        if len(parts) == 1:
            return parts[0]
        pieces, cropped, capped = len(parts), any(p.cropped for p in parts), any(p.capped for p in parts)
        # A piece left untranslated (too long, with long_inputs="empty") adds nothing.
        parts = [p for p in parts if p.hypotheses]
        n = min((len(p.hypotheses) for p in parts), default=0)
        return cls([join_pieces([p.hypotheses[k] for p in parts]) for k in range(n)],
                   [sum(p.scores[k] for p in parts) for k in range(n)]
                   if all(p.scores for p in parts) else [],
                   [[x for p in parts for x in p.token_scores[k]] for k in range(n)]
                   if all(p.token_scores for p in parts) else [],
                   [[i for p in parts for i in p.ids[k]] for k in range(n)],
                   [[t for p in parts for t in p.tokens[k]] for k in range(n)],
                   [[row for p in parts for row in p.attention[k]] for k in range(n)]
                   if all(p.attention for p in parts) else [], pieces=pieces, cropped=cropped,
                   capped=capped)


class AsyncTranslationResult:
    """One line's result of translate_batch(..., asynchronous=True), as CTranslate2's."""

    def __init__(self, future: Future, index: int):
        self._future, self._index = future, index

    def result(self) -> TranslationResult:
        """The result, once its batch call is done (its exception, if it failed)."""
        return self._future.result()[self._index]

    def done(self) -> bool:
        """Whether the result is ready."""
        return self._future.done()
