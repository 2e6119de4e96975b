"""Competence-based curriculum learning (Platanios et al., 2019).

Pairs are ranked by difficulty; at update t the model may see only the easiest
competence(t) share of them, where competence grows as a square root from c0 to 1 over
`steps` updates. Batches depend only on (seed, update number), so a run resumed after
any epoch continues the schedule exactly.
"""

from __future__ import annotations

import math
import random
from collections import Counter

from s2s_batch.train.data import Pair

KINDS = ("none", "length", "rarity")


def competence(update: int, steps: int, start: float) -> float:
    """sqrt(t (1 - c0^2) / T + c0^2), capped at 1."""
    if steps <= 0:
        return 1.0
    return min(1.0, math.sqrt(update * (1.0 - start * start) / steps + start * start))


def difficulty_order(pairs: list[Pair], kind: str) -> list[int]:
    """Indices of `pairs` from easiest to hardest.

    length: source tokens; rarity: the source's negative log-likelihood under the
    training split's unigram distribution (long sentences and rare words are hard).
    """
    if kind == "length":
        scores = [len(p.src) for p in pairs]
    elif kind == "rarity":
        counts = Counter(token for p in pairs for token in p.src)
        total = sum(counts.values())
        scores = [-sum(math.log(counts[t] / total) for t in p.src) for p in pairs]
    else:
        raise ValueError(f"curriculum must be one of {', '.join(KINDS)}")
    return sorted(range(len(pairs)), key=lambda i: (scores[i], i))


def admitted(update: int, n_pairs: int, batch_size: int, steps: int, start: float) -> int:
    """How many of the easiest pairs update `update` may draw from."""
    return min(n_pairs, max(batch_size, int(competence(update, steps, start) * n_pairs)))


def curriculum_batches(pairs: list[Pair], order: list[int], batch_size: int, seed: int,
                       epoch: int, steps: int, start: float) -> list[list[Pair]]:
    """One epoch's batches (as many as a plain epoch has), each drawn uniformly from the
    pairs admitted at its update."""
    per_epoch = math.ceil(len(pairs) / batch_size)
    batches = []
    for i in range(per_epoch):
        update = epoch * per_epoch + i
        rng = random.Random(seed * 1_000_003 + update)
        pool = admitted(update, len(pairs), batch_size, steps, start)
        batches.append([pairs[order[j]] for j in rng.sample(range(pool), min(batch_size, pool))])
    return batches
