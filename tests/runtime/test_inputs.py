"""Input the engine must survive: in every case exactly one output line per input line."""

import errno

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s2s_batch.runtime.batching import sorted_batches
from s2s_batch.runtime.cli.main import main
from s2s_batch.runtime.translator import Translator

# (name, file bytes, expected number of output lines)
INPUT_CASES = [
    ("empty_file", b"", 0),
    ("no_final_newline", b"I see the dog.\nWe eat a cat.", 2),
    ("empty_and_whitespace_lines", b"\n \n\t\nI see the dog.\n\n", 5),
    ("crlf_and_bom", b"\xef\xbb\xbfI see.\r\nWe eat.\r\n\r\n", 3),
    ("tabs_and_control_chars", b"I\tsee\x01the\x7fdog.\nWe\x0beat\x0ca\x1ccat.\n", 2),
    ("zero_width_and_rtl",
     "I\u200bsee\u200d the \u202edog\u202c.\n\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627\n".encode(), 2),
    ("unicode_line_breaks_inside_a_line", "I see\u2028the dog\u2029.\x85ok\n".encode(), 1),
    ("emoji_and_other_scripts", "I see the 🐈.\n猫が好きです。\nПривет, мир!\n".encode(), 3),
    ("unknown_words", b"Zorblax quintessentially flummoxes.\n", 1),
    ("lone_carriage_returns", b"a\rb\rc\nd\n", 2),
]


@pytest.mark.parametrize("name,data,n_lines", INPUT_CASES, ids=[c[0] for c in INPUT_CASES])
def test_every_input_line_gets_exactly_one_output_line(name, data, n_lines, bundle, tmp_path):
    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_bytes(data)
    result = CliRunner().invoke(main, ["translate", str(src), "-o", str(dst), "--bundle",
                                       str(bundle()), "-q"])
    assert result.exit_code == 0, result.output
    out = dst.read_bytes()
    assert out.count(b"\n") == n_lines and (not out or out.endswith(b"\n"))
    assert b"\r" not in out


def test_long_lines_are_read_whole_or_cropped_and_counted_never_silently(bundle, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("I see the dog.\n" + "we eat a big red old cat " * 40 + "\n")
    whole = CliRunner().invoke(main, ["translate", str(src), "--bundle", str(bundle())])
    assert whole.exit_code == 0 and whole.stdout.count("\n") == 2
    assert "0 lines cropped" in whole.stderr  # 280 tokens: far past training, not past the limit
    cropped = CliRunner().invoke(main, ["translate", str(src), "--bundle", str(bundle()),
                                        "--max-input-length", "100"])
    assert cropped.exit_code == 0 and cropped.stdout.count("\n") == 2
    assert "1 lines had a sentence longer than 100 source tokens, cropped (line 2)" in cropped.stderr


def test_a_hundred_thousand_copies_of_one_line(bundle, tmp_path):
    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_text("We see the big dog.\n" * 100_000)
    result = CliRunner().invoke(main, ["translate", str(src), "-o", str(dst), "--bundle",
                                       str(bundle()), "-q", "--batch-size", "1024"])
    assert result.exit_code == 0
    lines = dst.read_text().split("\n")
    assert len(lines) == 100_001 and lines[-1] == "" and len(set(lines[:-1])) == 1 and lines[0]


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(bundle, tmp_path, monkeypatch):
    import os

    from s2s_batch.runtime.files import output

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(output.os, "fsync", no_space)
    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_text("I see the dog.\n")
    result = CliRunner().invoke(main, ["translate", str(src), "-o", str(dst), "--bundle", str(bundle())])
    assert result.exit_code == 6 and "No space left on device" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_a_vocabulary_that_does_not_match_the_graphs_is_a_bundle_error(bundle, tmp_path):
    import json
    import shutil

    from s2s_batch.runtime.bundle.manifest import sha256_of

    root = tmp_path / "bundle"
    shutil.copytree(bundle(), root)
    with (root / "tgt_vocab.txt").open("a", encoding="utf-8") as f:
        f.write("extra\n")
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"]["tgt_vocab.txt"] = sha256_of(root / "tgt_vocab.txt")
    (root / "manifest.json").write_text(json.dumps(manifest))
    src = tmp_path / "in.txt"
    src.write_text("I see.\n")
    result = CliRunner().invoke(main, ["translate", str(src), "--bundle", str(root)])
    assert result.exit_code == 4 and "tgt_vocab.txt" in result.stderr
    assert "does not belong to these graphs" in result.stderr


@given(st.lists(st.integers(min_value=0, max_value=40), max_size=300), st.integers(1, 64))
def test_sorted_batches_cover_every_index_once(lengths, batch_size):
    batches = sorted_batches(lengths, batch_size)
    flat = [int(i) for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(len(b) <= batch_size for b in batches)


_LINE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=40)
_SLOW = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SLOW
@given(st.lists(_LINE, max_size=25))
def test_file_round_trip_keeps_line_count_and_order(bundle, tmp_path, lines):
    translator = Translator(bundle(), threads=1)
    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_bytes("".join(line + "\n" for line in lines).encode("utf-8"))
    translator.translate_file(src, dst, progress=False, chunk_lines=7)
    out = dst.read_text(encoding="utf-8").split("\n")
    assert len(out) == len(lines) + 1 and out[-1] == ""
    one_by_one = [translator.translate_lines([as_read(i, line)])[0] for i, line in enumerate(lines)]
    assert out[:-1] == one_by_one


def as_read(index: int, line: str) -> str:
    """What the reader hands on: a trailing CR dropped, and a BOM opening the file."""
    line = line[:-1] if line.endswith("\r") else line
    return line[1:] if index == 0 and line.startswith("\ufeff") else line


@_SLOW
@given(st.lists(st.sampled_from(["I see the dog.", "We eat a big red apple!", "They want a book?",
                                 "she has the old small car", "", "zebra", "you like the bread."]),
                min_size=1, max_size=40),
       st.integers(1, 50), st.integers(1, 2))
def test_translation_is_independent_of_batch_order_and_threads(bundle, lines, batch_size, threads):
    alone = Translator(bundle("lstm"), threads=1)
    expected = {line: alone.translate_lines([line])[0] for line in set(lines)}
    got = Translator(bundle("lstm"), threads=threads).translate_lines(lines, max_batch_size=batch_size)
    assert got == [expected[line] for line in lines]


@pytest.mark.parametrize("decoding", [{}, {"beam_size": 3, "num_hypotheses": 2},
                                      {"sampling_topk": 5, "seed": 7}, {"return_scores": True}])
def test_concurrent_batch_streams_give_the_same_results(bundle, toy_sentences, decoding):
    lines = [toy_sentences[i % len(toy_sentences)] for i in range(300)]
    one = Translator(bundle(), threads=1).translate_batch(lines, max_batch_size=16, **decoding)
    streams = Translator(bundle(), threads=2, inter_threads=3)
    assert streams.inter_threads == 3
    many = streams.translate_batch(lines, max_batch_size=16, **decoding)
    assert [(r.hypotheses, r.ids) for r in many] == [(r.hypotheses, r.ids) for r in one]
    # Scores are computed by the same kernels on the same batches: equal, not just close.
    assert [r.scores for r in many] == [r.scores for r in one]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=1, max_size=200), st.integers(1, 300))
def test_token_batches_cover_every_index_once_within_the_budget(lengths, budget):
    from s2s_batch.runtime.batching import token_batches

    batches = token_batches(lengths, budget)
    assert sorted(int(i) for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        padded = len(b) * max(lengths[i] for i in b)
        assert padded <= budget or len(b) == 1


def test_token_budget_batching_gives_the_same_translations(bundle, toy_sentences, tmp_path):
    from click.testing import CliRunner

    from s2s_batch.runtime.cli.main import main

    src = tmp_path / "in.txt"
    src.write_text("\n".join(toy_sentences) + "\n")
    base = ["translate", str(src), "--bundle", str(bundle()), "-q"]
    plain = CliRunner().invoke(main, base)
    budget = CliRunner().invoke(main, [*base, "--batch-type", "tokens", "--batch-size", "60"])
    same = CliRunner().invoke(main, [*base, "--max-batch-tokens", "60"])
    assert plain.exit_code == budget.exit_code == same.exit_code == 0
    assert budget.stdout == plain.stdout == same.stdout


def test_a_small_input_gives_every_stream_several_batches(bundle, toy_sentences, monkeypatch):
    from s2s_batch.runtime.batching import BATCHES_PER_STREAM

    lines = [toy_sentences[i % len(toy_sentences)] for i in range(60)]
    streams = Translator(bundle(), threads=2, inter_threads=2)
    sizes = []
    search = streams._search
    monkeypatch.setattr(streams, "_search",
                        lambda batch, opts: (sizes.append(len(batch.rows)), search(batch, opts))[1])
    assert streams.translate_lines(lines) == Translator(bundle(), threads=1).translate_lines(lines)
    # 60 lines, 2 streams: 2 x BATCHES_PER_STREAM batches of 10, not 2 of 30
    assert sorted(sizes) == [60 // (2 * BATCHES_PER_STREAM)] * (2 * BATCHES_PER_STREAM)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=1, max_size=3000), st.integers(1, 300), st.integers(1, 4))
def test_stream_batches_cover_every_index_once_longest_first_and_shrink_at_the_end(lengths, size, streams):
    from s2s_batch.runtime.batching import BATCHES_PER_STREAM, TAIL_FLOOR, sorted_batches, stream_batches

    batches = stream_batches(lengths, size, streams)
    assert sorted(int(i) for b in batches for i in b) == list(range(len(lengths)))
    order = [lengths[int(i)] for b in batches for i in b]
    assert order == sorted(lengths, reverse=True)
    sizes = [len(b) for b in batches]
    if streams == 1:
        assert [list(b) for b in batches] == [list(b) for b in sorted_batches(lengths, size)]
        return
    assert max(sizes) <= min(size, -(-len(lengths) // (BATCHES_PER_STREAM * streams)))
    assert sizes == sorted(sizes, reverse=True)  # the large batches first, the small last
    # every batch but the last is at least the floor, or the whole cap
    assert all(s >= min(TAIL_FLOOR, max(sizes)) for s in sizes[:-1])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 30), max_size=400), st.integers(1, 80), st.integers(0, 64))
def test_length_chunks_cover_every_row_once_longest_first_padding_only_within_the_allowance(
        lengths, max_rows, run_tokens):
    import numpy as np

    from s2s_batch.runtime.batching import length_chunks

    chunks = length_chunks(np.array(lengths, dtype=np.int64), max_rows, run_tokens)
    flat = [int(i) for c in chunks for i in c]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    assert all(1 <= len(c) <= max_rows for c in chunks)
    for chunk in chunks:  # each shorter length in a chunk pads at most run_tokens
        chunk_lengths = [lengths[int(i)] for i in chunk]
        longest = max(chunk_lengths)
        for length in set(chunk_lengths):
            assert chunk_lengths.count(length) * (longest - length) <= run_tokens
    # no allowance: one length per chunk
    exact = length_chunks(np.array(lengths, dtype=np.int64), max_rows, 0)
    assert all(len({lengths[int(i)] for i in c}) == 1 for c in exact)
    # no limit (CUDA): chunks of max_rows whatever their lengths, the last one shorter
    capped = length_chunks(np.array(lengths, dtype=np.int64), max_rows, float("inf"))
    assert [len(c) for c in capped] == [min(max_rows, len(lengths) - i) for i in range(0, len(lengths), max_rows)]
