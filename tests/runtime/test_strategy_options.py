"""Every decoding option under every search strategy: applied (with a check of what it
does), refused (with a one-line error naming it), or of no effect by construction (with
the reason, and a check that the output is indeed unchanged). One assertion per cell."""

from __future__ import annotations

import numpy as np
import pytest

from s2s_batch.runtime.errors import UsageError
from s2s_batch.runtime.translator import Translator

STRATEGIES = {"greedy": {}, "beam": {"beam_size": 3}, "sampling": {"sampling_topk": 5, "seed": 3}}


def _lengths(results):
    return [len(r.ids[0]) for r in results if r.ids]


def _no_repeats(results, n):
    grams = [[tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)] for r in results for ids in r.ids]
    return all(len(g) == len(set(g)) for g in grams)


APPLIED = {
    "min_decoding_length": ({"min_decoding_length": 6}, lambda rs, t: min(_lengths(rs)) >= 6),
    "max_decoding_length": ({"max_decoding_length": 2}, lambda rs, t: max(_lengths(rs)) <= 2),
    "max_length_a/b": ({"max_length_a": 0.0, "max_length_b": 2}, lambda rs, t: max(_lengths(rs)) <= 2),
    "no_repeat_ngram_size": ({"no_repeat_ngram_size": 1}, lambda rs, t: _no_repeats(rs, 1)),
    # below 1 the penalty rewards what a hypothesis holds: its first words come back
    "repetition_penalty": ({"repetition_penalty": 0.001, "max_decoding_length": 6},
                           lambda rs, t: all(not _no_repeats([r], 1) for r in rs if len(r.ids[0]) > 2)),
    "return_scores": ({"return_scores": True},
                      lambda rs, t: all(len(r.scores) == len(r.hypotheses) and
                                        len(r.token_scores[0]) in (len(r.ids[0]), len(r.ids[0]) + 1)
                                        for r in rs if r.ids)),
    "return_attention": ({"return_attention": True},
                         lambda rs, t: all(len(r.attention[0]) >= len(r.ids[0]) for r in rs if r.ids)),
    "disable_unk": ({"disable_unk": True}, lambda rs, t: all(t.tgt_vocab.unk not in ids for r in rs for ids in r.ids)),
    "replace_unknowns": ({"replace_unknowns": True},
                         lambda rs, t: all("<unk>" not in h for r in rs for h in r.hypotheses)),
}
# Options that change only what some strategies do; elsewhere the output must not change.
SEARCH_ONLY = {"length_penalty": {"length_penalty": 0.0}, "length_penalty_type": {"length_penalty_type": "gnmt"}}
SAMPLING_ONLY = {"seed": {"seed": 12}, "sampling_topp": {"sampling_topp": 0.5},
                 "sampling_temperature": {"sampling_temperature": 0.5}}


@pytest.fixture(scope="module")
def translator(bundle):
    return Translator(bundle("gru", False, "additive"), threads=1, split_sentences=False)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("option", APPLIED)
def test_applied_everywhere(translator, toy_sentences, strategy, option):
    options, check = APPLIED[option]
    results = translator.translate_batch(toy_sentences, **{**STRATEGIES[strategy], **options})
    assert check(results, translator), (strategy, option)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("option", [*SEARCH_ONLY, *SAMPLING_ONLY])
def test_options_of_one_strategy(translator, toy_sentences, strategy, option):
    options = {**SEARCH_ONLY, **SAMPLING_ONLY}[option]
    plain = translator.translate_ids(toy_sentences, **STRATEGIES[strategy])
    changed = translator.translate_ids(toy_sentences, **{**STRATEGIES[strategy], **options})
    if option in SAMPLING_ONLY and strategy != "sampling" or option in SEARCH_ONLY and strategy == "greedy":
        # no effect by construction: greedy keeps one hypothesis, so nothing is ranked by
        # length; search is deterministic, so the sampling fields have nothing to act on
        assert changed == plain
    elif option in SAMPLING_ONLY:
        assert changed != plain  # another seed, nucleus or temperature draws other tokens
    elif strategy == "sampling":
        # sampling draws one hypothesis per sentence: ranking by length changes nothing
        assert changed == plain
    else:
        scored = translator.translate_batch(toy_sentences, beam_size=3, num_hypotheses=3, return_scores=True,
                                            **options)
        assert all(len(r.hypotheses) == 3 for r in scored if r.ids)  # applied: ranking by the penalty


@pytest.mark.parametrize("strategy,options,message", [
    ("greedy", {"num_hypotheses": 2}, "num_hypotheses must be between 1 and beam_size"),
    ("sampling", {"num_hypotheses": 2}, "num_hypotheses"),
    ("sampling", {"beam_size": 3}, "sampling draws one hypothesis"),
    ("greedy", {"coverage_penalty": 0.2}, "coverage_penalty re-ranks beam search"),
    ("sampling", {"coverage_penalty": 0.2}, "coverage_penalty re-ranks beam search"),
    ("beam", {"coverage_penalty": -0.2}, "coverage_penalty must be a finite number >= 0"),
])
def test_refused(translator, strategy, options, message):
    with pytest.raises(ValueError, match=message):
        translator.translate_batch(["hello ."], **{**STRATEGIES[strategy], **options})


def test_num_hypotheses_applied_to_beam_search(translator, toy_sentences):
    results = translator.translate_batch(toy_sentences, beam_size=3, num_hypotheses=2)
    assert all(len(r.hypotheses) == 2 for r in results if r.ids)


def test_temperature_zero_samples_the_argmax(translator, toy_sentences):
    assert (translator.translate_ids(toy_sentences, sampling_topk=0, sampling_temperature=0.0)
            == translator.translate_ids(toy_sentences))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_target_prefix_starts_every_hypothesis_and_the_search_goes_on(translator, toy_sentences, strategy):
    prefix = ["la", "maison"]  # words the toy model puts at no line's start
    ids = translator.tgt_vocab.encode(prefix)
    results = translator.translate_batch(toy_sentences, [prefix] * len(toy_sentences), num_hypotheses=1,
                                         **STRATEGIES[strategy])
    assert all(r.ids[0][:2] == ids and len(r.ids[0]) > 2 for r in results if r.ids), strategy


def test_a_prefix_beats_every_rule_and_lines_without_one_are_untouched(translator, toy_sentences):
    lines = toy_sentences[:6]
    plain = translator.translate_batch(lines, beam_size=2)
    prefixes = [None, "la maison", None, ["<unk>"], None, []]
    got = translator.translate_batch(lines, prefixes, beam_size=2, min_decoding_length=1)
    assert got[3].ids[0][0] == translator.tgt_vocab.unk  # forced, though disable_unk bans it
    assert got[1].tokens[0][:2] == ["la", "maison"]  # text prefixes are tokenized
    assert [got[i].hypotheses for i in (0, 2, 4, 5)] == [plain[i].hypotheses for i in (0, 2, 4, 5)]
    with pytest.raises(ValueError, match="one prefix"):
        translator.translate_batch(lines, [None])


@pytest.mark.parametrize("beta", [0.0, 0.3])
def test_the_coverage_penalty_is_ctranslate2s(translator, toy_sentences, beta):
    """Each beam hypothesis's score: its total over length, plus beta x the sum over source
    positions that its tokens (not <eos>) attended to of log(min(received, 1))."""
    results = translator.translate_batch(toy_sentences, beam_size=3, num_hypotheses=3, return_scores=True,
                                         return_attention=True, coverage_penalty=beta)
    for r in results:
        for ids, score, steps, weights in zip(r.ids, r.scores, r.token_scores, r.attention):
            received = np.asarray(weights, dtype=np.float64)[: len(ids)].sum(axis=0)
            covered = beta * np.log(np.minimum(received[received > 0], 1.0)).sum()
            assert score == pytest.approx(sum(steps) / len(steps) + covered, abs=1e-4)
        assert r.scores == sorted(r.scores, reverse=True)


def test_the_coverage_penalty_ranks_up_hypotheses_that_read_more_of_the_source(translator, toy_sentences):
    def coverage(result):
        received = np.asarray(result.attention[0])[: len(result.ids[0])].sum(axis=0)
        return np.log(np.minimum(received[received > 0], 1.0)).sum()

    plain = translator.translate_batch(toy_sentences, beam_size=4, return_attention=True)
    covering = translator.translate_batch(toy_sentences, beam_size=4, return_attention=True, coverage_penalty=5.0)
    changed = [i for i, (p, c) in enumerate(zip(plain, covering)) if p.ids != c.ids]
    assert changed  # the penalty re-ranked some line's beams
    assert all(coverage(covering[i]) >= coverage(plain[i]) for i in changed)


def test_the_coverage_penalty_reads_the_weights_itself_on_either_ranking_path(translator, toy_sentences):
    options = {"beam_size": 3, "num_hypotheses": 3, "return_scores": True, "coverage_penalty": 0.3}
    with_weights = translator.translate_batch(toy_sentences, return_attention=True, **options)
    alone = translator.translate_batch(toy_sentences, **options)
    # n-gram bans send every row's logits to numpy: the other ranking path, the same result
    full_logits = translator.translate_batch(toy_sentences, no_repeat_ngram_size=40, **options)
    assert [r.scores for r in alone] == [r.scores for r in with_weights]
    assert [r.ids for r in full_logits] == [r.ids for r in alone]
    flat = [x for r in full_logits for x in r.scores]
    assert flat == pytest.approx([x for r in alone for x in r.scores], abs=1e-5)  # float32 sums in another order
    assert [r.scores for r in alone] != [r.scores for r in translator.translate_batch(
        toy_sentences, **{**options, "coverage_penalty": 0.0})]


def test_the_coverage_penalty_needs_a_model_with_attention(bundle):
    plain = Translator(bundle(), threads=1)
    with pytest.raises(UsageError, match="--coverage-penalty"):
        plain.translate_batch(["hello ."], beam_size=2, coverage_penalty=0.2)
