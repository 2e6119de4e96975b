"""BLEU: the seed's sentence BLEU exactly as written, and corpus BLEU through sacreBLEU."""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence


def seed_bleu(pred_seq: str, label_seq: str, k: int) -> float:
    """The seed's BLEU: exp(min(0, 1 - len_label/len_pred)) * prod_n p_n^(1/2^n), n = 1..k.

    Kept exactly as the notes write it, including its ZeroDivisionError when the
    prediction has fewer than k tokens.
    """
    pred_tokens, label_tokens = pred_seq.split(" "), label_seq.split(" ")
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    score = math.exp(min(0, 1 - len_label / len_pred))
    for n in range(1, k + 1):
        num_matches, label_subs = 0, collections.defaultdict[str, int](int)
        for i in range(len_label - n + 1):
            label_subs[" ".join(label_tokens[i : i + n])] += 1
        for i in range(len_pred - n + 1):
            if label_subs[" ".join(pred_tokens[i : i + n])] > 0:
                num_matches += 1
                label_subs[" ".join(pred_tokens[i : i + n])] -= 1
        score *= math.pow(num_matches / (len_pred - n + 1), math.pow(0.5, n))
    return score


def mean_seed_bleu(hyps: Sequence[str], refs: Sequence[Sequence[str]], k: int = 2) -> float:
    """Mean over sentences of the seed's BLEU, best reference per sentence.

    A sentence on which the seed's formula is undefined (a prediction shorter than
    k tokens) scores 0. refs[j][i] is reference j of sentence i, as sacreBLEU takes them.
    """
    if not hyps:
        return 0.0
    total = 0.0
    for i, hyp in enumerate(hyps):
        best = 0.0
        for ref_set in refs:
            ref = ref_set[i]
            if ref is None or ref == "":
                continue
            try:
                best = max(best, seed_bleu(hyp, ref, k))
            except ZeroDivisionError:
                pass
        total += best
    return total / len(hyps)


def corpus_bleu(hyps: Sequence[str], refs: Sequence[Sequence[str]]):
    """sacreBLEU corpus BLEU (13a, cased) against one or more reference streams.

    Streams may hold None where a sentence has fewer references than others.
    Returns sacrebleu's BLEUScore; its signature is available from sacrebleu.BLEU.
    """
    import sacrebleu

    return sacrebleu.metrics.BLEU().corpus_score(list(hyps), [list(r) for r in refs])


def references_to_streams(ref_lists: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Per-sentence lists of references → sacreBLEU's reference streams (None-padded)."""
    width = max((len(r) for r in ref_lists), default=0)
    return [[r[j] if j < len(r) else None for r in ref_lists] for j in range(width)]
