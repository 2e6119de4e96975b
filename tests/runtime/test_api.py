"""The library API beyond translate_batch: scoring, lazy iteration, and closing."""

from __future__ import annotations

import itertools
import json

import pytest
from click.testing import CliRunner

from s2s_batch.runtime.cli.main import main
from s2s_batch.runtime.translator import Translator, default_bundle_dir


@pytest.mark.parametrize("attention", ["none", "general+after"])
def test_the_score_of_a_greedy_translation_is_its_own_greedy_score(bundle, toy_sentences, attention):
    translator = Translator(bundle("gru", False, attention), threads=1, split_sentences=False)
    lines = toy_sentences[:40]
    greedy = translator.translate_batch(lines, return_scores=True)
    scored = translator.score_batch(lines, [r.best for r in greedy])
    for result, score in zip(greedy, scored):
        assert score.score == pytest.approx(result.scores[0], abs=1e-4)
        assert score.log_probs == pytest.approx(result.token_scores[0], abs=1e-4)
        assert score.tokens[-1] == "<eos>" and len(score.tokens) == len(result.ids[0]) + 1


def test_a_worse_translation_scores_lower_and_blank_pairs_score_zero(bundle):
    translator = Translator(bundle(), threads=1)
    best = translator.translate_lines(["I see the dog."])[0]
    good, shuffled, blank = translator.score_batch(["I see the dog."] * 2 + [""],
                                                   [best, " ".join(reversed(best.split())), "x"])
    assert good.score > shuffled.score and blank.score == 0.0 and blank.tokens == []
    with pytest.raises(ValueError, match="one target per source"):
        translator.score_batch(["a", "b"], ["a"])


def test_translate_iterable_yields_in_order_from_an_endless_stream(bundle, toy_sentences):
    translator = Translator(bundle(), threads=1)
    endless = itertools.cycle(toy_sentences[:7])
    got = [r.best for r in itertools.islice(translator.translate_iterable(endless, chunk_lines=5), 23)]
    assert got == translator.translate_lines([toy_sentences[i % 7] for i in range(23)])
    with pytest.raises(TypeError, match="not one string"):
        next(translator.translate_iterable("I see the dog."))


def test_a_translator_closes_as_a_context_manager(bundle):
    with Translator(bundle(), threads=2, inter_threads=2) as translator:
        translator.translate_lines(["I see the dog.", "We eat a big cat.", "He has a car."])
        assert translator._executor is not None
    assert translator._executor is None


def test_score_command_writes_a_score_per_line(bundle, tmp_path):
    src, tgt = tmp_path / "src.txt", tmp_path / "tgt.txt"
    src.write_text("I see the dog.\n\nWe eat a big cat.\n")
    tgt.write_text("je vois le chien .\n\nnous mangeons un grand chat .\n")
    result = CliRunner().invoke(main, ["score", str(src), str(tgt), "--bundle", str(bundle()),
                                       "--output-format", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3 and rows[1] == {"score": 0.0, "tokens": [], "log_probs": []}
    assert rows[0]["score"] < 0 and rows[0]["tokens"][-1] == "<eos>"
    tgt.write_text("one line only\n")
    short = CliRunner().invoke(main, ["score", str(src), str(tgt), "--bundle", str(bundle())])
    assert short.exit_code == 3 and "give one target line per source line" in short.stderr


def test_translate_batch_returns_result_objects_with_text_tokens_and_ids(bundle, toy_sentences):
    translator = Translator(bundle(), threads=1)
    lines = [toy_sentences[0], "", toy_sentences[1]]
    plain = translator.translate_batch(lines, beam_size=3, num_hypotheses=2)
    for result in (plain[0], plain[2]):
        assert len(result.hypotheses) == len(result.tokens) == len(result.ids) == 2
        for text, tokens, ids in zip(result.hypotheses, result.tokens, result.ids):
            assert tokens == translator.tgt_vocab.decode(ids) and text == translator.tgt_tokenizer.decode(tokens)
        assert result.scores == []  # as in CTranslate2, scores only when asked
    assert plain[1].hypotheses == [] and plain[1].pieces == 0
    scored = translator.translate_batch(lines, beam_size=3, num_hypotheses=2, return_scores=True)
    assert [r.hypotheses for r in scored] == [r.hypotheses for r in plain]
    assert all(len(r.scores) == 2 and r.scores[0] <= 0 for r in (scored[0], scored[2]))
    with pytest.raises(TypeError, match="not one string"):
        translator.translate_batch("I see the dog.")


def test_the_package_exports_the_api_at_the_top_level():
    import s2s_batch
    from s2s_batch.runtime import results, translator
    from s2s_batch.runtime.files import options as file_options
    from s2s_batch.runtime.search import options as decoding

    assert s2s_batch.Translator is translator.Translator
    assert s2s_batch.TranslationResult is translator.TranslationResult is results.TranslationResult
    assert s2s_batch.AsyncTranslationResult is results.AsyncTranslationResult
    assert s2s_batch.ScoringResult is results.ScoringResult
    assert s2s_batch.DecodingOptions is decoding.DecodingOptions
    assert s2s_batch.FileOptions is file_options.FileOptions
    assert s2s_batch.__version__
    with pytest.raises(AttributeError):
        s2s_batch.NoSuchThing  # noqa: B018


def test_a_ctranslate2_shaped_script_runs_unchanged_but_for_its_import():
    """examples/ctranslate2_style.py is written against CTranslate2's API (token lists,
    target_prefix, return_scores, asynchronous, translate_iterable, score_batch)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "ctranslate2_style.py"
    assert "import s2s_batch as ctranslate2  # was: import ctranslate2" in path.read_text()
    spec = importlib.util.spec_from_file_location("ctranslate2_style", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    lines = ["I see the dog.", "We are happy.", "Tom has two cats."]
    n = len(lines)
    report = script.main(str(default_bundle_dir()), lines)
    assert len(report) == 2 * n + n + n + n + n
    translator = Translator(threads=1, split_sentences=False)
    results = translator.translate_batch(lines, beam_size=4, num_hypotheses=2, max_decoding_length=64,
                                         return_scores=True, max_batch_size=16)
    nbest = [line.split("\t") for line in report[: 2 * n]]
    # text in, token lists in: the same words for lines the text preparation leaves alone
    assert [h for _, h in nbest] == [h for r in results for h in r.hypotheses]
    assert [float(s) for s, _ in nbest] == pytest.approx([s for r in results for s in r.scores], abs=1e-4)
    assert report[2 * n: 3 * n] == report[: 2 * n][::2]  # translate_iterable: the same best
    prefixed, pending = report[3 * n: 4 * n], report[4 * n: 5 * n]
    assert prefixed == [h for _, h in nbest[::2]]  # its own start as a prefix: the same best
    assert pending == [h for _, h in nbest[::2]]  # asynchronous: the same as beam 4
    for line, result in zip(report[5 * n:], results):  # score_batch: the beam's total, unnormalised
        assert float(line.split("\t")[0]) == pytest.approx(sum(result.token_scores[0]), abs=2e-4)


def test_translate_file_takes_decoding_options_as_keywords(bundle, toy_sentences, tmp_path):
    translator = Translator(bundle(), threads=1)
    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_text("\n".join(toy_sentences[:9]) + "\n", encoding="utf-8")
    translator.translate_file(src, dst, beam_size=2, length_penalty=0.5, progress=False, chunk_lines=4)
    expected = translator.translate_lines(toy_sentences[:9], beam_size=2, length_penalty=0.5)
    assert dst.read_text(encoding="utf-8").splitlines() == expected
    with pytest.raises(TypeError):
        translator.translate_file(src, dst, no_such_option=1)
    with pytest.raises(ValueError, match="beam_size"):
        translator.translate_file(src, dst, beam_size=0)


def test_ctranslate2_thread_and_compute_type_arguments(bundle):
    from s2s_batch.runtime.errors import UsageError

    translator = Translator(bundle(), inter_threads=2, intra_threads=1, compute_type="float32")
    assert translator.settings()["threads"] == 2 and translator.inter_threads == 2
    with pytest.raises(UsageError, match="no float16 graphs"):
        Translator(bundle(), compute_type="float16")
