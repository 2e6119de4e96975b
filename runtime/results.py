"""What a translator hands back besides its translations: scores of given targets, counts."""

from __future__ import annotations

from dataclasses import dataclass, field


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
