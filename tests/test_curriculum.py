"""Curriculum learning: the schedule admits exactly the intended pairs; runs end to end."""

import json

import pytest

from s2s_batch.train.curriculum import admitted, competence, curriculum_batches, difficulty_order
from s2s_batch.train.data import Pair
from s2s_batch.train.trainer import train
from tests.conftest import tiny_config


def test_competence_grows_as_a_square_root_from_c0_to_one():
    assert competence(0, 100, 0.1) == pytest.approx(0.1)
    assert competence(50, 100, 0.1) == pytest.approx((50 * 0.99 / 100 + 0.01) ** 0.5)
    assert competence(100, 100, 0.1) == 1.0 and competence(500, 100, 0.1) == 1.0


def test_each_batch_draws_only_from_the_pairs_admitted_at_its_update():
    pairs = [Pair(["w"] * n, ["x"]) for n in [5, 1, 9, 3, 7, 2, 8, 4, 6, 10] * 10]  # 100 pairs
    order = difficulty_order(pairs, "length")
    assert [len(pairs[i].src) for i in order] == sorted(len(p.src) for p in pairs)
    steps, start, batch = 20, 0.1, 8
    for epoch in range(3):
        batches = curriculum_batches(pairs, order, batch, seed=0, epoch=epoch, steps=steps, start=start)
        assert len(batches) == 13  # as many as a plain epoch
        for i, b in enumerate(batches):
            update = epoch * 13 + i
            pool = admitted(update, len(pairs), batch, steps, start)
            allowed = {id(pairs[j]) for j in order[:pool]}
            assert all(id(p) in allowed for p in b) and len(b) == min(batch, pool)
    # The first update admits the easiest 10 (c0 * 100): lengths 1 only.
    first = curriculum_batches(pairs, order, batch, 0, 0, steps, start)[0]
    assert {len(p.src) for p in first} == {1}
    assert admitted(0, 100, 8, steps, start) == 10 and admitted(steps, 100, 8, steps, start) == 100


def test_rarity_ranks_rare_words_as_harder():
    pairs = [Pair(["the", "dog"], ["x"])] * 5 + [Pair(["the", "zebu"], ["x"])]
    order = difficulty_order(pairs, "rarity")
    assert order[-1] == 5


def test_curriculum_run_resumes_mid_schedule_exactly(corpus_path, tmp_path):
    cfg = tiny_config(epochs=2, curriculum="rarity", curriculum_steps=30, max_pairs=300)
    train(cfg, corpus_path, tmp_path / "full", progress=False, log=lambda m: None)
    train(tiny_config(epochs=1, curriculum="rarity", curriculum_steps=30, max_pairs=300),
          corpus_path, tmp_path / "split", progress=False, log=lambda m: None)
    train(cfg, corpus_path, tmp_path / "split", resume=True, epochs=2, progress=False, log=lambda m: None)
    read = lambda d: [json.loads(l)["train_loss"] for l in (d / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    assert read(tmp_path / "full") == read(tmp_path / "split")
