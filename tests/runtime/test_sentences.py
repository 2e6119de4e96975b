"""Every input line gets a whole translation: sentence splitting and rejoining, inputs
longer than the model was trained on, and output caps relative to the source."""

from __future__ import annotations

import json
import signal
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from s2s_batch.runtime.batching import pad_batch
from s2s_batch.runtime.cli.main import main
from s2s_batch.runtime.search.beam import beam_search
from s2s_batch.runtime.search.device_loop import greedy_decode_on_device
from s2s_batch.runtime.search.loop import greedy_decode
from s2s_batch.runtime.search.options import DecodingOptions
from s2s_batch.runtime.search.sampling import sample_decode
from s2s_batch.runtime.text import SentenceSplitter, join_pieces
from s2s_batch.runtime.translator import Translator
from tests.toy import make_pairs

SPLITTER = SentenceSplitter("en")


@pytest.mark.parametrize("line,pieces", [
    ("I see the dog. We eat a big cat!", ["I see the dog.", "We eat a big cat!"]),
    ("Is it red? It is.  It was!", ["Is it red?", "It is.", "It was!"]),
    ("Mr. Smith met Dr. Jones in the U.S. last year.", ["Mr. Smith met Dr. Jones in the U.S. last year."]),
    ('He said "Go!" Then he left.', ['He said "Go!"', "Then he left."]),
    ("No sentence mark at all", ["No sentence mark at all"]),
    ("...", ["..."]),
    ("?!", ["?!"]),
    ("   ", ["   "]),
    ("", [""]),
])
def test_lines_split_into_their_sentences(line, pieces):
    assert SPLITTER.split(line) == pieces


def test_pieces_join_back_into_one_line_skipping_empty_ones():
    assert join_pieces(["Je vois le chien.", "", "Nous mangeons."]) == "Je vois le chien. Nous mangeons."


@pytest.fixture(scope="module")
def translator(bundle):
    return Translator(bundle(), threads=1)


def test_a_split_line_is_its_sentences_translated_alone_and_joined(translator):
    first, second = "I see the dog.", "They eat the apple!"
    alone = translator.translate_batch([first, second], return_scores=True)
    (joined,) = translator.translate_batch([f"{first} {second}"], return_scores=True)
    assert joined.best == f"{alone[0].best} {alone[1].best}"
    assert joined.ids[0] == alone[0].ids[0] + alone[1].ids[0]
    assert joined.scores[0] == pytest.approx(alone[0].scores[0] + alone[1].scores[0])
    assert joined.pieces == 2 and alone[0].pieces == 1
    assert translator.translate_ids([f"{first} {second}"]) == [alone[0].ids[0] + alone[1].ids[0]]


def test_no_split_sentences_reads_the_line_as_one(bundle):
    plain = Translator(bundle(), threads=1, split_sentences=False)
    (result,) = plain.translate_batch(["I see the dog. They eat the apple!"])
    assert result.pieces == 1


def test_blank_and_punctuation_only_lines_keep_their_place(translator):
    lines = ["", "...", "   ", "I see the dog. ?!", "?!"]
    results = translator.translate_batch(lines)
    assert len(results) == len(lines)
    assert [r.pieces for r in results] == [0, 1, 0, 1, 1]  # a lone "?!" stays with its sentence
    assert results[0].best == "" and results[2].best == ""


def test_a_5000_word_line_is_cropped_and_its_output_capped(bundle):
    words = " ".join(["dog"] * 5000)
    translator = Translator(bundle(), threads=1, max_input_length=1024)
    (result,) = translator.translate_batch([words])
    assert result.cropped and translator.stats.truncated_lines == 1
    assert len(result.ids[0]) <= DecodingOptions().length_caps(np.array([1024]))[0]
    empty = Translator(bundle(), threads=1, long_inputs="empty")
    (skipped,) = empty.translate_batch([words])
    assert skipped.cropped and skipped.best == ""
    # With sentence marks, the same words are many short sentences, none cropped.
    sentences = " ".join(["I see the dog."] * 1250)
    (split,) = translator.translate_batch([sentences])
    assert split.pieces == 1250 and not split.cropped and split.best.count(".") >= 1250


def test_a_sentence_longer_than_training_is_read_whole(bundle):
    line = "We eat a big red old small big dog house car book ."  # 13 tokens, num_steps 12
    translator = Translator(bundle(), threads=1)
    assert len(translator.source_ids(line)) == 14 > translator.config.num_steps
    (result,) = translator.translate_batch([line])
    assert not result.cropped


def _never_ending(translator, lines):
    """Source batch and per-row caps, with <eos> banned so every row runs to its cap."""
    rows = [translator.source_ids(line) for line in lines]
    src, src_len = pad_batch(rows, translator.src_vocab.pad)
    caps = DecodingOptions().length_caps(src_len - 1)
    return src, src_len, rows, caps


@pytest.mark.parametrize("search", ["greedy", "device", "beam", "sampling"])
def test_each_row_stops_at_its_own_cap(translator, search):
    lines = ["I see the dog.", "We eat a big red old small big dog house car book .", "He eats."]
    src, src_len, rows, caps = _never_ending(translator, lines)
    graphs, tv = translator.graphs, translator.tgt_vocab
    if search == "greedy":
        hyps = greedy_decode(graphs, src, src_len, tv.bos, tv.eos, caps, banned=tv.eos)
    elif search == "device":
        hyps = greedy_decode_on_device(graphs, src, src_len, tv.bos, tv.eos, caps, banned=tv.eos)
    elif search == "beam":
        hyps = [h[0] for h in beam_search(graphs, src, src_len, tv.bos, tv.eos, caps,
                                          DecodingOptions(beam_size=3, min_decoding_length=99))]
    else:
        hyps = sample_decode(graphs, src, src_len, rows, tv.bos, tv.eos, caps,
                             DecodingOptions(sampling_topk=0, seed=3), banned=tv.eos)
    assert [len(h.ids) for h in hyps] == caps.tolist()
    assert caps.tolist() == [2 * (len(r) - 1) + 10 for r in rows]


def test_capped_lines_are_reported(bundle, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("I see the dog.\nWe eat a big cat. I see the dog.\n")
    result = CliRunner().invoke(main, ["translate", str(src), "--bundle", str(bundle()), "--max-len", "2",
                                       "--output-format", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["pieces"], r["capped"], r["cropped"]) for r in rows] == [(1, True, False), (2, True, False)]
    assert "2 lines stopped at their length cap before <eos> (lines 1, 2)" in result.stderr
    assert "1 lines split into sentences" in result.stderr


def test_cropped_lines_are_named_on_stderr(bundle, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("I see the dog.\n" + " ".join(["dog"] * 30) + "\n")
    result = CliRunner().invoke(main, ["translate", str(src), "--bundle", str(bundle()), "-q",
                                       "--max-input-length", "20"])
    assert result.exit_code == 0
    assert result.stderr.strip() == ("s2s-batch: 1 lines had a sentence longer than 20 source tokens, "
                                     "cropped (line 2)")


@pytest.fixture(scope="module")
def multi_sentence_file(tmp_path_factory):
    """600 lines of 1-4 toy sentences, some blank."""
    rng = np.random.default_rng(5)
    sentences = [en for en, _ in make_pairs(1500, seed=11)]
    lines, at = [], 0
    for i in range(600):
        k = 0 if i % 41 == 0 else int(rng.integers(1, 5))
        lines.append(" ".join(sentences[at : at + k]))
        at += k
    path = tmp_path_factory.mktemp("multi") / "in.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_splitting_keeps_batch_invariance_and_order(bundle, multi_sentence_file):
    lines = multi_sentence_file.read_text().splitlines()
    translator = Translator(bundle(), threads=1)
    outputs = [translator.translate_lines(lines, max_batch_size=size) for size in (1, 7, 256)]
    assert outputs[0] == outputs[1] == outputs[2]
    assert len(outputs[0]) == len(lines)
    for line, out in zip(lines[:50], outputs[0][:50]):
        assert out == " ".join(translator.translate_lines(SPLITTER.split(line))) if line else out == ""


def test_a_killed_run_with_splitting_resumes_byte_identical(bundle, multi_sentence_file, tmp_path):
    from tests.helpers import resume_cli as cli
    from tests.helpers import start_and_stop_at

    reference = tmp_path / "reference.txt"
    assert subprocess.run(cli(bundle(), multi_sentence_file, reference), capture_output=True).returncode == 0
    dst, progress = tmp_path / "out.txt", tmp_path / ".out.txt.progress.json"
    code, _ = start_and_stop_at(cli(bundle(), multi_sentence_file, dst), progress, 200, signal.SIGKILL)
    assert code == -signal.SIGKILL and not dst.exists()
    resumed = subprocess.run(cli(bundle(), multi_sentence_file, dst, "--resume"), capture_output=True,
                             text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert dst.read_bytes() == reference.read_bytes()
    # A different splitting setting is another job: --resume refuses it.
    code, _ = start_and_stop_at(cli(bundle(), multi_sentence_file, tmp_path / "b.txt"),
                                tmp_path / ".b.txt.progress.json", 200, signal.SIGKILL)
    refused = subprocess.run(cli(bundle(), multi_sentence_file, tmp_path / "b.txt", "--resume",
                                 "--no-split-sentences"), capture_output=True, text=True)
    assert refused.returncode == 2, refused.stderr


def test_lines_may_come_from_any_iterable_but_not_one_string(translator):
    lines = ["I see the dog.", "They eat the apple!"]
    assert translator.translate_lines(line for line in lines) == translator.translate_lines(lines)
    assert translator.translate_ids(iter(lines)) == translator.translate_ids(lines)
    with pytest.raises(TypeError, match="not one string"):
        translator.translate_batch("I see the dog.")
