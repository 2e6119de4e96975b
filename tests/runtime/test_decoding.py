"""Beam search and sampling in the runtime: n-best order, scores that are the model's
log-probabilities, batch-independence, known distributions and option checks."""

import json
import random

import numpy as np
import pytest
from click.testing import CliRunner

from s2s_batch.runtime.bundle.graphs import log_softmax
from s2s_batch.runtime.search.beam import beam_search
from s2s_batch.runtime.search.options import DecodingOptions, banned_by_ngrams
from s2s_batch.runtime.search.sampling import draw, truncated_distribution
from s2s_batch.runtime.translator import Translator


@pytest.fixture(scope="module")
def lines(toy_sentences):
    return toy_sentences[:40]


@pytest.mark.parametrize("options", [{}, {"beam_size": 3, "num_hypotheses": 2}])
def test_translate_ids_are_the_best_hypotheses_of_translate(bundle, lines, options):
    translator = Translator(bundle(), threads=1, inter_threads=2)
    mixed = ["", *lines[:7], "   ", *lines[7:]]
    results = translator.translate_batch(mixed, max_batch_size=5, **options)
    expected = [r.ids[0] if r.ids else [] for r in results]
    assert translator.translate_ids(mixed, max_batch_size=5, **options) == expected
    assert expected[0] == expected[8] == [] and all(expected[1:8])


def test_beam_size_one_is_greedy_token_for_token(bundle, lines):
    translator = Translator(bundle(), threads=1)
    greedy = translator.translate_batch(lines, return_scores=True)
    tv = translator.tgt_vocab
    srcs = [translator.source_ids(line) for line in lines]
    for ids, result in zip(srcs, greedy):
        src = np.array([ids], dtype=np.int64)
        cap = DecodingOptions().length_caps(np.array([len(ids) - 1]))  # the runtime's own cap
        ((hyp,),) = beam_search(translator.graphs, src, np.array([len(ids)]), tv.bos, tv.eos,
                                cap, DecodingOptions(beam_size=1))
        assert hyp.ids == result.ids[0]
        assert hyp.score == pytest.approx(result.scores[0], abs=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_best_beam_never_scores_below_greedy(bundle, lines, alpha):
    translator = Translator(bundle("lstm"), threads=1)
    opts = DecodingOptions(length_penalty=alpha)
    greedy = translator.translate_batch(lines, return_scores=True)
    beam = translator.translate_batch(lines, beam_size=5, length_penalty=alpha, return_scores=True)
    for g, b in zip(greedy, beam):
        greedy_rank = g.scores[0] / opts.length_normalizer(len(g.token_scores[0]))
        beam_rank = b.scores[0] / opts.length_normalizer(len(b.token_scores[0]))
        assert beam_rank >= greedy_rank - 1e-5


def forced_log_probability(translator: Translator, line: str, ids: list[int]) -> float:
    """log P(ids + <eos> | line) under the bundle, by feeding the tokens to the decoder step."""
    from s2s_batch.runtime.bundle.graphs import log_softmax

    source = translator.source_ids(line)
    states, memory = translator.graphs.encode(np.array([source]), np.array([len(source)]))
    tv, total, previous = translator.tgt_vocab, 0.0, translator.tgt_vocab.bos
    for token in [*ids, tv.eos]:
        logits, states, _ = translator.graphs.step_logits(np.array([previous]), states, memory)
        total += float(log_softmax(logits)[0, token])
        previous = token
    return total


def test_n_best_comes_sorted_and_distinct(bundle, lines):
    translator = Translator(bundle(), threads=1)
    results = translator.translate_batch(lines, beam_size=4, num_hypotheses=3, length_penalty=0.6)
    opts = DecodingOptions(length_penalty=0.6)
    for line, r in zip(lines, results):
        assert len(r.ids) == 3 and len({tuple(i) for i in r.ids}) == 3
        ranks = [s / opts.length_normalizer(len(t)) for s, t in zip(r.scores, r.token_scores)]
        assert ranks == sorted(ranks, reverse=True)
        # each hypothesis's score is the model's log-probability of its tokens and <eos>
        for ids, score in zip(r.ids, r.scores):
            assert score == pytest.approx(forced_log_probability(translator, line, ids), abs=1e-4)


def test_min_length_and_no_repeat_ngram_are_respected(bundle, lines):
    translator = Translator(bundle(), threads=1)
    for options in ({"beam_size": 3}, {"sampling_topk": 0, "seed": 1}):
        results = translator.translate_batch(lines, min_decoding_length=4, no_repeat_ngram_size=2, **options)
        for r in results:
            ids = r.ids[0]
            assert len(ids) >= 4
            bigrams = list(zip(ids, ids[1:]))
            assert len(bigrams) == len(set(bigrams))


def test_banned_by_ngrams():
    assert sorted(banned_by_ngrams([1, 2, 3, 1, 2], 3)) == [3]
    assert banned_by_ngrams([1, 2, 3], 2) == []
    assert set(banned_by_ngrams([4, 5, 4], 1)) == {4, 5}


def test_sampling_is_reproducible_across_batch_size_and_order(bundle, lines):
    translator = Translator(bundle(), threads=1)
    options = dict(sampling_topk=0, sampling_temperature=1.5, seed=42)
    reference = translator.translate_lines(lines, max_batch_size=1, **options)
    order = list(range(len(lines)))
    random.Random(0).shuffle(order)
    for batch_size in (5, 64):
        shuffled = translator.translate_lines([lines[i] for i in order], max_batch_size=batch_size, **options)
        assert [shuffled[order.index(i)] for i in range(len(lines))] == reference
    other_seed = translator.translate_lines(lines, **{**options, "seed": 7})
    assert other_seed != reference


@pytest.mark.parametrize("options", [{"sampling_temperature": 0.0}, {"sampling_temperature": 1e-4},
                                     {"sampling_topp": 1e-6}])
def test_sampling_limits_equal_greedy(bundle, lines, options):
    translator = Translator(bundle(), threads=1)
    assert translator.translate_lines(lines, sampling_topk=0, seed=5, **options) == \
           translator.translate_lines(lines)


def test_top_k_sampling_draws_from_the_truncated_renormalised_distribution():
    logits = np.log(np.array([0.05, 0.3, 0.1, 0.2, 0.15, 0.02, 0.18], dtype=np.float32))
    opts = DecodingOptions(sampling_topk=3)
    rng = np.random.default_rng(123)
    n = 20_000
    counts = np.bincount([draw(logits, rng, opts) for _ in range(n)], minlength=len(logits))
    kept = [1, 3, 6]  # the three most likely
    assert counts[[i for i in range(len(logits)) if i not in kept]].sum() == 0
    p = np.array([0.3, 0.2, 0.18]) / 0.68
    chi2 = float((((counts[kept] - n * p) ** 2) / (n * p)).sum())
    assert chi2 < 13.82  # chi-square, 2 degrees of freedom, p = 0.001


def test_nucleus_keeps_the_smallest_set_reaching_p():
    logits = np.log(np.array([0.1, 0.5, 0.25, 0.15]))
    ids, probs = truncated_distribution(logits, 1.0, 0, 0.7)
    assert ids.tolist() == [1, 2] and probs.tolist() == pytest.approx([2 / 3, 1 / 3])
    ids, _ = truncated_distribution(logits, 1.0, 0, 0.75)
    assert ids.tolist() == [1, 2]
    ids, _ = truncated_distribution(logits, 1.0, 0, 0.76)
    assert ids.tolist() == [1, 2, 3]


def test_jsonl_output_carries_n_best_and_scores(bundle, tmp_path):
    from s2s_batch.runtime.cli.main import main

    src = tmp_path / "in.txt"
    src.write_text("I see the dog.\n\nWe eat a big cat.\n")
    result = CliRunner().invoke(main, ["translate", str(src), "--bundle", str(bundle()), "-q",
                                       "--beam-size", "4", "--num-hypotheses", "2",
                                       "--output-format", "jsonl", "--return-scores"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3 and rows[1] == {"source": "", "translation": "", "hypotheses": [], "pieces": 0,
                                          "cropped": False, "capped": False}
    for row in (rows[0], rows[2]):
        assert len(row["hypotheses"]) == 2
        # beam search's score ranks: the total over length ** 1.0 (<eos> counted), best first
        assert [h["score"] for h in row["hypotheses"]] == sorted((h["score"] for h in row["hypotheses"]),
                                                                 reverse=True)
        for h in row["hypotheses"]:
            assert h["score"] == pytest.approx(sum(h["token_scores"]) / len(h["token_scores"]), abs=1e-4)
            assert all(s <= 0 for s in h["token_scores"])
    text = CliRunner().invoke(main, ["translate", str(src), "--bundle", str(bundle()), "-q",
                                     "--beam-size", "4", "--num-hypotheses", "2"])
    assert [line for line in text.stdout.splitlines()] == [r["hypotheses"][0]["text"] if r["hypotheses"]
                                                            else "" for r in rows]


def test_bad_decoding_options_are_usage_errors(bundle, tmp_path):
    from s2s_batch.runtime.cli.main import main

    src = tmp_path / "in.txt"
    src.write_text("I see.\n")
    result = CliRunner().invoke(main, ["translate", str(src), "--bundle", str(bundle()),
                                       "--beam-size", "2", "--num-hypotheses", "3"])
    assert result.exit_code == 2
    # the flags the user typed, not the API's field names
    assert "--num-hypotheses must be between 1 and --beam-size; see s2s-batch translate --help" in result.stderr
    result = CliRunner().invoke(main, ["translate", str(src), "--bundle", str(bundle()),
                                       "--sampling-topp", "0"])
    assert result.exit_code == 2 and "--sampling-topp must be in (0, 1]" in result.stderr


@pytest.mark.parametrize("flag", ["--return-attention", "--replace-unk"])
def test_attention_flags_on_a_model_without_attention_are_a_usage_error(bundle, tmp_path, flag):
    from s2s_batch.runtime.cli.main import main

    src = tmp_path / "in.txt"
    src.write_text("I see.\n")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["translate", str(src), "-o", str(out), "--bundle", str(bundle()),
                                       "--output-format", "jsonl", flag])
    assert result.exit_code == 2 and "need a model with attention" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()


def test_sampling_never_draws_a_banned_token():
    logits = np.array([-np.inf, 0.0, 1e-3, -np.inf], dtype=np.float32)
    ids, probs = truncated_distribution(logits, 1.0, 0, 1.0)
    assert sorted(ids.tolist()) == [1, 2] and probs.sum() == pytest.approx(1.0)

    class Last:  # a generator whose draw is as close to 1 as floats allow
        def random(self):
            return np.nextafter(1.0, 0.0)

    assert draw(logits, Last(), DecodingOptions(sampling_topk=0)) in (1, 2)


def test_negative_seed_is_rejected():
    with pytest.raises(ValueError, match="seed must be >= 0"):
        DecodingOptions(sampling_topk=0, seed=-1)


@pytest.mark.parametrize("beam,vocab,banned,min_len", [(1, 7, None, 0), (4, 50, 3, 0), (3, 40, 3, 5)])
def test_per_row_candidates_rank_as_the_full_logits(beam, vocab, banned, min_len):
    from s2s_batch.runtime.search.beam import MASKED_AT_MOST, _candidates, _mask, rank_rows

    rng = np.random.default_rng(vocab)
    sentences, eos = 6, 2
    logits = rng.standard_normal((sentences * beam, vocab)).astype(np.float32) * 4
    logits[0, :4] = logits[0, 4]  # ties inside a row
    beam_scores = -rng.random((sentences, beam)).astype(np.float32) * 3
    beam_scores[1, 1:] = -np.inf  # a sentence with one live beam, as at the first step
    opts = DecodingOptions(beam_size=beam, min_decoding_length=min_len)
    mask = _mask(vocab, 0, eos, banned, opts)
    free = log_softmax(logits)
    logp = free + mask
    total = (beam_scores.reshape(-1, 1) + logp).reshape(sentences, beam * vocab)
    flat, scores = _candidates(total, beam)
    # each row's best, as the decoder step returns them: by log-probability, then by id
    width = min(beam + MASKED_AT_MOST, vocab)
    row_ids = np.lexsort((np.broadcast_to(np.arange(vocab), free.shape), -free), axis=1)[:, :width]
    row_logp = np.take_along_axis(free, row_ids, 1)
    got_flat, got_scores, got_logp = rank_rows(row_logp, row_ids, mask, beam_scores, 2 * beam, vocab)
    # The K best are the full ranking's (what beam search reads past them: the best K
    # non-<eos> ones, at most K from a row, each row holding its K best allowed ids).
    finite = np.isfinite(scores[:, :beam])
    assert (got_flat[:, :beam][finite] == flat[:, :beam][finite]).all()
    assert np.array_equal(got_scores[:, :beam][finite], scores[:, :beam][finite])
    # every one returned carries its exact total and log-probability
    returned = np.isfinite(got_scores)
    assert np.array_equal(got_scores[returned], np.take_along_axis(total, got_flat, 1)[returned])
    assert np.array_equal(got_logp[returned],
                          np.take_along_axis(logp.reshape(sentences, -1), got_flat, 1)[returned])
    forbidden = [i for i in (banned, eos if min_len else None) if i is not None]
    assert not np.isin(got_flat[np.isfinite(got_scores)] % vocab, forbidden).any()


def test_per_row_candidates_refuse_masks_they_cannot_honour():
    from s2s_batch.runtime.search.beam import MASKED_AT_MOST, rank_rows

    mask = np.zeros(20, np.float32)
    mask[: MASKED_AT_MOST + 1] = -np.inf
    with pytest.raises(ValueError, match="at most"):
        rank_rows(np.zeros((2, 4), np.float32), np.zeros((2, 4), np.int64), mask,
                  np.zeros((1, 2), np.float32), 4, 20)


@pytest.mark.parametrize("attention", ["none", "additive"])
def test_beam_search_on_per_row_candidates_equals_it_on_the_logits(bundle, lines, attention):
    translator = Translator(bundle("gru", attention=attention), threads=1)
    assert translator.graphs.takes_row_candidates
    options = {"beam_size": 4, "num_hypotheses": 2, "length_penalty": 1.0, "min_decoding_length": 3,
               "return_scores": True}
    with_candidates = translator.translate_batch(lines, **options)
    translator.graphs.takes_row_candidates = False  # as a bundle exported before them
    with_logits = translator.translate_batch(lines, **options)
    assert [r.ids for r in with_candidates] == [r.ids for r in with_logits]
    for a, b in zip(with_candidates, with_logits):
        assert a.scores == pytest.approx(b.scores, abs=1e-5)


def test_the_strategy_follows_the_options(bundle):
    from s2s_batch.runtime.search.strategies import BeamSearch, GreedySearch, Sampling, choose_strategy

    graphs = Translator(bundle(), threads=1).graphs
    pick = lambda device=None, **kw: choose_strategy(DecodingOptions(**kw), graphs, device or "cpu",  # noqa: E731
                                                     None, 0)
    assert isinstance(pick(), GreedySearch) and not pick().on_device
    assert isinstance(pick(beam_size=2), BeamSearch)
    assert isinstance(pick(sampling_topk=0), Sampling)
    with pytest.raises(ValueError, match="sampling draws one hypothesis"):
        pick(beam_size=3, sampling_topk=5)  # refused, not silently one or the other
    assert pick("cuda").on_device  # greedy on CUDA: the bound loop
    assert not pick("cuda", return_scores=True).on_device  # scores read the logits on the host
