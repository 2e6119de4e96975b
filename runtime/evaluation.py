"""Scoring translations against references: corpus BLEU and chrF (sacreBLEU,
multi-reference) and the seed's mean sentence BLEU, what `s2s-batch evaluate` prints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from s2s_batch.runtime.bleu import mean_seed_bleu
from s2s_batch.runtime.errors import InputError


@dataclass(frozen=True)
class Evaluation:
    """Corpus scores of a set of hypotheses, with the sacreBLEU signatures that say how."""

    bleu: float
    signature: str
    chrf: float
    chrf_signature: str
    seed_bleu: float
    sentences: int
    bleu_text: str  # sacreBLEU's own line, "BLEU = 36.75 68.5/44.0/..."
    chrf_text: str

    def as_json(self) -> dict:
        """The scores, rounded as `evaluate --json` prints them (without sacreBLEU's lines)."""
        data = asdict(self)
        del data["bleu_text"], data["chrf_text"]
        return {**data, "bleu": round(self.bleu, 2), "chrf": round(self.chrf, 2),
                "seed_bleu": round(self.seed_bleu, 4)}

    def lines(self) -> list[str]:
        """The three lines `evaluate` prints."""
        return [f"{self.bleu_text} ({self.signature})", f"{self.chrf_text} ({self.chrf_signature})",
                f"seed BLEU (k=2, mean over sentences, best reference) = {self.seed_bleu:.4f}"]


def evaluate(hypotheses: Sequence[str], references: Sequence[Sequence[str | None]],
             names: Sequence[str] | None = None, hypotheses_name: str = "hypotheses") -> Evaluation:
    """Score hypotheses against reference streams.

    Args:
        hypotheses: one translation per sentence.
        references: one or more streams, each line-aligned with the hypotheses; None (or
            "") where a stream has no reference for that sentence.
        names: each stream's file name, for error messages.
        hypotheses_name: the hypotheses' file name, for error messages.
    Raises:
        InputError: no hypotheses, a stream of another length, or a sentence that no
            stream gives a reference for.
    """
    import sacrebleu

    names = list(names or [f"reference {i + 1}" for i in range(len(references))])
    if not hypotheses:
        raise InputError(f"{hypotheses_name}: no lines to score; pass the translation output of a "
                         "non-empty input")
    streams = [[line or None for line in stream] for stream in references]
    for name, stream in zip(names, streams):
        if len(stream) != len(hypotheses):
            raise InputError(f"{name}: {len(stream)} lines but {hypotheses_name} has {len(hypotheses)}; "
                             "references must be line-aligned with the hypotheses")
    unreferenced = next((i for i, refs in enumerate(zip(*streams), 1) if not any(refs)), None)
    if unreferenced is not None:
        raise InputError(f"{hypotheses_name}: line {unreferenced} has no reference in any --ref file; "
                         "give every line at least one non-empty reference")
    bleu, chrf = sacrebleu.metrics.BLEU(), sacrebleu.metrics.CHRF()
    bleu_score = bleu.corpus_score(list(hypotheses), streams)  # type: ignore[arg-type]  # None: no reference
    # chrF takes no missing references; an empty line stands in for one.
    chrf_score = chrf.corpus_score(list(hypotheses), [[r or "" for r in s] for s in streams])
    return Evaluation(bleu_score.score, str(bleu.get_signature()), chrf_score.score,
                      str(chrf.get_signature()), mean_seed_bleu(list(hypotheses), streams, k=2),
                      len(hypotheses), str(bleu_score), str(chrf_score))
