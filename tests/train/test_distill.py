"""Sequence-level knowledge distillation: the teacher's beam output, through our runtime,
becomes the student's training targets; dev and test keep the corpus's references."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from s2s_batch.runtime.bundle.tokens import tokenize  # noqa: E402
from s2s_batch.runtime.translator import Translator  # noqa: E402
from s2s_batch.train.data import read_pairs, split_corpus, split_of  # noqa: E402
from s2s_batch.train.distill import CACHE, distilled_corpus  # noqa: E402
from s2s_batch.train.trainer import prepare, train  # noqa: E402
from tests.toy import tiny_config  # noqa: E402


def translating_until_the_third_chunk(calls: list[int]):
    """A stand-in for Translator.translate_batch that records each call's size in `calls`
    and raises KeyboardInterrupt (a user's Ctrl-C) at the third."""
    real = Translator.translate_batch

    def cut_off_at_the_third_chunk(self, lines, **options):
        calls.append(len(lines))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, lines, **options)
    return cut_off_at_the_third_chunk


def test_training_targets_are_the_teachers_beam_output(bundle, corpus_path, tmp_path):
    teacher = bundle()
    raw = read_pairs(corpus_path)
    pairs = distilled_corpus(raw, teacher, 100, 100, beam_size=3, length_penalty=1.0, cache_dir=tmp_path,
                             log=lambda m: None)
    training = [en for en, _ in raw if split_of(tokenize(en), 100, 100) == "train"]
    distinct = list(dict.fromkeys(training))
    expected = Translator(teacher, split_sentences=False).translate_lines(distinct, beam_size=3,
                                                                          length_penalty=1.0)
    taught = [(en, fr) for en, fr in pairs if split_of(tokenize(en), 100, 100) == "train"]
    assert taught == list(zip(distinct, expected))
    held_out = [p for p in raw if split_of(tokenize(p[0]), 100, 100) != "train"]
    assert [p for p in pairs if p in held_out] == held_out  # dev and test untouched
    assert (tmp_path / CACHE).read_text(encoding="utf-8").count("\n") == len(distinct)
    assert not list(tmp_path.glob(".*partial*"))  # the job finished and renamed its output


def test_an_ensemble_teacher_gives_the_ensembles_translations(bundle, corpus_path, tmp_path):
    from s2s_batch.train.distill import teacher_bundles

    members = [bundle(), bundle("gru", attention="general+after")]
    assert teacher_bundles(f" {members[0]} ,{members[1]}") == members
    raw = read_pairs(corpus_path)
    pairs = distilled_corpus(raw, members, 100, 100, beam_size=3, length_penalty=1.0, cache_dir=tmp_path,
                             log=lambda m: None)
    distinct = list(dict.fromkeys(en for en, _ in raw if split_of(tokenize(en), 100, 100) == "train"))
    expected = Translator(members[0], ensemble=members[1:], split_sentences=False).translate_lines(
        distinct, beam_size=3, length_penalty=1.0)
    alone = Translator(members[0], split_sentences=False).translate_lines(distinct, beam_size=3,
                                                                          length_penalty=1.0)
    assert expected != alone  # the second member changes what the teacher writes
    taught = [(en, fr) for en, fr in pairs if split_of(tokenize(en), 100, 100) == "train"]
    assert taught == list(zip(distinct, expected))
    # the cache belongs to this ensemble: the first member alone translates again
    again = distilled_corpus(raw, members[0], 100, 100, beam_size=3, length_penalty=1.0, cache_dir=tmp_path,
                             log=lambda m: None)
    assert [fr for en, fr in again if split_of(tokenize(en), 100, 100) == "train"] == alone


def test_references_can_stay_beside_the_teachers(bundle, corpus_path):
    raw = read_pairs(corpus_path)
    pairs = distilled_corpus(raw, bundle(), 100, 100, keep_references=True, log=lambda m: None)
    training = [p for p in raw if split_of(tokenize(p[0]), 100, 100) == "train"]
    assert all(p in pairs for p in training)
    assert len(pairs) == len(raw) + len(set(en for en, _ in training))


def test_a_student_trains_on_the_teacher_and_resumes_from_the_cache(bundle, corpus_path, tmp_path):
    cfg = tiny_config(epochs=1, distill_from=str(bundle()), distill_beam_size=2)
    out = tmp_path / "student"
    train(cfg, corpus_path, out, progress=False, log=lambda m: None)
    assert (out / CACHE).is_file()
    student, plain = prepare(cfg, corpus_path, cache_dir=out, log=lambda m: None), \
        split_corpus(read_pairs(corpus_path), 100, 100)
    assert student.dev == plain[1] and student.test == plain[2]
    assert student.train_pairs != plain[0]
    messages = []
    train(tiny_config(epochs=2, distill_from=str(bundle()), distill_beam_size=2), corpus_path, out,
          resume=True, progress=False, log=messages.append)
    assert any("read from" in m and CACHE in m for m in messages)


def test_a_teacher_translation_cut_off_resumes_after_its_last_saved_chunk(bundle, corpus_path, tmp_path,
                                                                          monkeypatch):
    from s2s_batch.runtime.errors import Interrupted
    from s2s_batch.train import distill

    sources = [en for en, _ in read_pairs(corpus_path)][:300]
    assert len(set(sources)) > 3 * 16
    expected = distill.teacher_targets(sources, bundle(), 2, 1.0, tmp_path / "whole", log=lambda m: None)
    monkeypatch.setattr(distill, "CHUNK_LINES", 16)
    calls: list[int] = []
    real = Translator.translate_batch
    cut_off_at_the_third_chunk = translating_until_the_third_chunk(calls)

    monkeypatch.setattr(Translator, "translate_batch", cut_off_at_the_third_chunk)
    with pytest.raises(Interrupted):
        distill.teacher_targets(sources, bundle(), 2, 1.0, tmp_path / "cut", log=lambda m: None)
    assert not (tmp_path / "cut" / CACHE).exists()
    calls.clear()
    monkeypatch.setattr(Translator, "translate_batch", lambda self, lines, **o: calls.append(len(lines))
                        or real(self, lines, **o))
    resumed = distill.teacher_targets(sources, bundle(), 2, 1.0, tmp_path / "cut", log=lambda m: None)
    assert resumed == expected
    distinct = len(dict.fromkeys(sources))
    assert sum(calls) == distinct - 32  # the two chunks saved before the cut are not translated again


def test_a_cut_off_teachers_partial_translation_is_dropped_when_the_teacher_changes(
        bundle, corpus_path, tmp_path, monkeypatch):
    """A pass cut off with one teacher and rerun with another starts over, instead of
    failing on the first teacher's partial file; a rerun with the same teacher says where
    it resumes."""
    from s2s_batch.runtime.errors import Interrupted
    from s2s_batch.train import distill

    sources = [en for en, _ in read_pairs(corpus_path)][:300]
    first, second = bundle(), bundle("gru", attention="general+after")
    monkeypatch.setattr(distill, "CHUNK_LINES", 16)
    real = Translator.translate_batch
    calls: list[int] = []
    cut_off_at_the_third_chunk = translating_until_the_third_chunk(calls)

    monkeypatch.setattr(Translator, "translate_batch", cut_off_at_the_third_chunk)
    with pytest.raises(Interrupted):
        distill.teacher_targets(sources, first, 2, 1.0, tmp_path / "cut", log=lambda m: None)
    monkeypatch.setattr(Translator, "translate_batch", real)
    messages = []
    resumed = distill.teacher_targets(sources, second, 2, 1.0, tmp_path / "cut", log=messages.append)
    assert resumed == distill.teacher_targets(sources, second, 2, 1.0, tmp_path / "whole",
                                              log=lambda m: None)
    assert not any("resuming" in m for m in messages)

    calls.clear()
    monkeypatch.setattr(Translator, "translate_batch", cut_off_at_the_third_chunk)
    with pytest.raises(Interrupted):
        distill.teacher_targets(sources, first, 2, 1.0, tmp_path / "again", log=lambda m: None)
    monkeypatch.setattr(Translator, "translate_batch", real)
    messages.clear()
    distill.teacher_targets(sources, first, 2, 1.0, tmp_path / "again", log=messages.append)
    distinct = len(dict.fromkeys(sources))
    assert any(f"resuming after 32 of {distinct}" in m for m in messages), messages


def test_the_closest_hypothesis_is_the_one_nearest_the_references():
    from s2s_batch.train.distill import closest_hypothesis

    refs = ["Il fait beau aujourd'hui.", "Le temps est beau aujourd'hui."]
    hyps = ["Il pleut.", "Il fait beau aujourd'hui.", "Il fait beau."]
    assert closest_hypothesis(hyps, refs) == "Il fait beau aujourd'hui."
    assert closest_hypothesis(["Bonjour.", "Bonjour."], refs) == "Bonjour."
    assert closest_hypothesis(["b a", "a b"], ["x y"]) == "b a"  # a tie keeps the teacher's order
    assert closest_hypothesis(hyps, []) == "Il pleut."  # no references: the teacher's best
    assert closest_hypothesis(["", "Oui."], refs) == "Oui."  # an empty hypothesis is no target


def test_seq_inter_targets_are_the_teachers_hypotheses_nearest_the_references(bundle, corpus_path,
                                                                              tmp_path):
    from sacrebleu.metrics import BLEU

    from s2s_batch.train.distill import CACHE_NBEST

    teacher = bundle()
    raw = read_pairs(corpus_path)
    pairs = distilled_corpus(raw, teacher, 100, 100, beam_size=3, cache_dir=tmp_path,
                             log=lambda m: None, select="closest")
    references: dict[str, list[str]] = {}
    for en, fr in raw:
        if split_of(tokenize(en), 100, 100) == "train":
            references.setdefault(en, []).append(fr)
    results = Translator(teacher, split_sentences=False).translate_batch(
        list(references), beam_size=3, num_hypotheses=3)
    taught = dict((en, fr) for en, fr in pairs if split_of(tokenize(en), 100, 100) == "train")
    assert list(taught) == list(references)
    bleu = BLEU(effective_order=True)
    moved = 0
    for (en, refs), result in zip(references.items(), results):
        assert taught[en] in result.hypotheses
        scores = [bleu.sentence_score(h, refs).score for h in result.hypotheses]
        assert bleu.sentence_score(taught[en], refs).score == max(scores)
        moved += taught[en] != result.hypotheses[0]
    assert moved > 0  # on this toy teacher, some best hypotheses are not the nearest
    assert (tmp_path / CACHE_NBEST).is_file() and not (tmp_path / CACHE).exists()
    with pytest.raises(ValueError, match="distill_select"):
        distilled_corpus(raw, teacher, 100, 100, select="nearest")


def test_a_single_teachers_cache_key_is_unchanged_by_ensembles(bundle, corpus_path, tmp_path):
    """Caches written before ensemble teachers existed stay valid: one teacher's key holds
    its files' checksums as a mapping, not a one-member list."""
    import json

    from s2s_batch.runtime.bundle.manifest import load_manifest
    from s2s_batch.train.distill import CACHE_KEY

    teacher = bundle()
    distilled_corpus(read_pairs(corpus_path), teacher, 100, 100, beam_size=2, cache_dir=tmp_path,
                     log=lambda m: None)
    key = json.loads((tmp_path / CACHE_KEY).read_text(encoding="utf-8"))
    assert key == {"teacher": load_manifest(teacher).files, "beam_size": 2, "length_penalty": 1.0,
                   "length_penalty_type": "power"}


def test_an_ensemble_teacher_of_other_vocabularies_is_refused_before_anything_is_written(
        bundle, corpus_path, tmp_path):
    from s2s_batch.runtime.errors import UsageError

    members = [bundle(), bundle("gru", True)]  # the seed's padding: another model family
    out = tmp_path / "student"
    cfg = tiny_config(epochs=1, distill_from=f"{members[0]},{members[1]}", distill_beam_size=2)
    with pytest.raises(UsageError, match=f"--distill-from {members[1]}: its .* differ"):
        train(cfg, corpus_path, out, progress=False, log=lambda m: None)
    assert not out.exists()
