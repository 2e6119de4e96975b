"""Input/output formats, gzip, the config file, progress lines and the run summary."""

import gzip
import json
import re
from pathlib import Path

import pytest

from s2s_batch.runtime.files.output import FileJob
from s2s_batch.runtime.files.progress import Progress
from tests.helpers import run

SENTENCES = ["I see the dog.", "", "She likes a big red car!", "We want the bread?", "They eat the apple."]


def translate_lines(bundle_dir, path, *extra) -> list[str]:
    result = run("translate", path, "--bundle", bundle_dir, "-q", *extra)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    return path


def test_jsonl_and_tsv_inputs_translate_the_chosen_field(bundle, text_file, tmp_path):
    expected = translate_lines(bundle(), text_file)
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text("\n".join(json.dumps({"id": i, "en": s}) for i, s in enumerate(SENTENCES)) + "\n")
    assert translate_lines(bundle(), jsonl, "--input-format", "jsonl", "--field", "en") == expected
    tsv = tmp_path / "in.tsv"
    tsv.write_text("\n".join(f"{i}\t{s}\textra" for i, s in enumerate(SENTENCES)) + "\n")
    assert translate_lines(bundle(), tsv, "--input-format", "tsv", "--column", 2) == expected


def test_jsonl_blank_line_and_null_field_give_empty_lines(bundle, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "I see the dog."}\n\n{"text": null}\n{"text": "I see the dog."}\n')
    lines = translate_lines(bundle(), path, "--input-format", "jsonl")
    assert len(lines) == 4 and lines[1] == lines[2] == "" and lines[0] == lines[3] != ""


@pytest.mark.parametrize("content,args,message", [
    ('{"text": "a"}\n{"text": \n', ["--input-format", "jsonl"], "line 2: not valid JSON"),
    ('{"en": "a"}\n', ["--input-format", "jsonl"], "line 1: no field 'text'"),
    ('{"text": 3}\n', ["--input-format", "jsonl"], "line 1: field 'text' holds int"),
    ('[1, 2]\n', ["--input-format", "jsonl"], "line 1: no field 'text'"),
    ("a\tb\nc\n", ["--input-format", "tsv", "--column", "2"], "line 2: 1 tab-separated columns"),
])
def test_malformed_records_stop_with_line_number_and_exit_3(bundle, tmp_path, content, args, message):
    path = tmp_path / "in.txt"
    path.write_text(content)
    result = run("translate", path, "--bundle", bundle(), "-q", *args)
    assert result.exit_code == 3
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_tsv_output_is_source_tab_translation(bundle, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("I see\tthe dog.\n\nWe want the bread?\n")
    text = translate_lines(bundle(), path)
    rows = [line.split("\t") for line in translate_lines(bundle(), path, "--output-format", "tsv")]
    assert [len(r) for r in rows] == [2, 2, 2]
    assert [r[0] for r in rows] == ["I see the dog.", "", "We want the bread?"]  # tab made a space
    assert [r[1] for r in rows] == text


def test_jsonl_output_has_source_and_translation(bundle, text_file):
    rows = [json.loads(line) for line in translate_lines(bundle(), text_file, "--output-format", "jsonl")]
    assert [r["source"] for r in rows] == SENTENCES
    assert [r["translation"] for r in rows] == translate_lines(bundle(), text_file)
    assert all(r["translation"] == r["hypotheses"][0]["text"] for r in rows if r["source"])


def test_gzip_input_and_output_by_extension(bundle, text_file, tmp_path):
    expected = (tmp_path / "plain.txt")
    assert run("translate", text_file, "-o", expected, "--bundle", bundle(), "-q").exit_code == 0
    gz_in = tmp_path / "in.txt.gz"
    gz_in.write_bytes(gzip.compress(text_file.read_bytes()))
    gz_out = tmp_path / "out.txt.gz"
    result = run("translate", gz_in, "-o", gz_out, "--bundle", bundle(), "-q", "--chunk-lines", 2)
    assert result.exit_code == 0, result.output
    assert gzip.decompress(gz_out.read_bytes()) == expected.read_bytes()


def test_truncated_gzip_input_is_exit_3(bundle, text_file, tmp_path):
    gz_in = tmp_path / "in.txt.gz"
    gz_in.write_bytes(gzip.compress(text_file.read_bytes() * 50)[:-20])
    result = run("translate", gz_in, "--bundle", bundle(), "-q")
    assert result.exit_code == 3 and "in.txt.gz: cannot read input" in result.stderr


def test_gzip_job_chunks_are_members_of_one_stream(tmp_path):
    dst = tmp_path / "out.txt.gz"
    job = FileJob(dst, {"k": 1}, resume=False)
    job.write_chunk(b"a\nb\n", 2)
    job.write_chunk(b"c\n", 1)
    job.commit()
    with gzip.open(dst, "rb") as f:
        assert f.read() == b"a\nb\nc\n"


def test_config_file_sets_defaults_and_flags_win(bundle, text_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s2s-batch.toml").write_text(
        f'bundle = "{bundle()}"\n[translate]\noutput-format = "tsv"\nquiet = true\n')
    result = run("translate", text_file)
    assert result.exit_code == 0, result.output
    assert all(len(line.split("\t")) == 2 for line in result.stdout.splitlines())
    assert result.stderr == ""  # quiet = true
    result = run("translate", text_file, "--output-format", "text")
    assert "\t" not in result.stdout and result.exit_code == 0


def test_environment_wins_over_config_file(bundle, text_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s2s-batch.toml").write_text('bundle = "no-such-bundle"\n')
    assert run("translate", text_file, "-q").exit_code == 4  # the file's bundle is used
    assert run("translate", text_file, "-q", env={"S2S_BUNDLE": str(bundle())}).exit_code == 0


def test_config_bundle_path_is_relative_to_the_file(bundle, text_file, tmp_path):
    folder = tmp_path / "conf"
    folder.mkdir()
    config = folder / "custom.toml"
    config.write_text(f'[translate]\nbundle = "{Path(bundle()).resolve()}"\n')
    assert run("--config", config, "translate", text_file, "-q").exit_code == 0
    (folder / "b").symlink_to(Path(bundle()).resolve())
    config.write_text('[translate]\nbundle = "b"\n')  # beside the file, not the working directory
    assert run("--config", config, "translate", text_file, "-q").exit_code == 0


@pytest.mark.parametrize("content,message", [
    ("[translate]\nbeam = 3\n", "[translate] has no option 'beam'"),
    ("[transl]\nbundle = 'x'\n", "unknown table [transl]"),
    ("colour = 'red'\n", "unknown option 'colour'"),
    ("[translate\n", "not valid TOML"),
])
def test_bad_config_file_is_exit_2(text_file, tmp_path, content, message):
    config = tmp_path / "bad.toml"
    config.write_text(content)
    result = run("--config", config, "translate", text_file)
    assert result.exit_code == 2 and message in result.stderr


def test_progress_is_a_bar_on_a_terminal_and_silent_elsewhere(monkeypatch, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("a\nb\nc\n")
    assert Progress.for_input(src, None, lambda p: 3).mode == "off"  # pytest's stderr is no terminal
    assert Progress.for_input(src, False, lambda p: 3).mode == "off"
    bar = Progress.for_input(src, True, lambda p: 3)
    assert (bar.mode, bar.total) == ("bar", 3)


def test_the_bar_has_an_eta_from_its_first_batches():
    import time

    with Progress("bar", total=1000) as progress:
        for lines in (50, 100, 150):
            time.sleep(0.02)
            progress.within(lines)  # batches of the first chunk, before any chunk is written
        task = progress._bar.tasks[0]
        assert task.completed == 150 and task.time_remaining is not None and task.time_remaining > 0


def test_progress_moves_batch_by_batch_inside_a_chunk(bundle, tmp_path, monkeypatch):
    from s2s_batch.runtime.files.job import translate_stream_file
    from s2s_batch.runtime.files.options import FileOptions
    from s2s_batch.runtime.translator import Translator

    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_text("".join(f"I see the dog number {i}.\n" for i in range(200)))
    seen = []
    monkeypatch.setattr(Progress, "within", lambda self, lines: seen.append(("within", lines)))
    monkeypatch.setattr(Progress, "advance", lambda self, lines: seen.append(("advance", lines)))
    translator = Translator(bundle(), threads=1, batch_size=16)
    translate_stream_file(translator, src, dst, FileOptions(chunk_lines=10_000, progress=True))
    within = [n for kind, n in seen if kind == "within"]
    assert seen[-1] == ("advance", 200) and len(within) >= 200 // 16
    assert within == sorted(within) and within[-1] == pytest.approx(200)


def test_summary_counts_lines_and_tokens(bundle, text_file):
    result = run("translate", text_file, "--bundle", bundle())
    assert result.exit_code == 0
    summary = result.stderr.strip().splitlines()[-1]
    # 5 + 7 + 5 + 5 source tokens (words and punctuation; the blank line has none)
    assert re.fullmatch(r"s2s-batch: 5 lines, 22 source and [1-9]\d* target tokens in [\d.]+ s "
                        r"\([\d,]+ sentences/s\); unknown source words [\d.]+%, 0 lines split into sentences, "
                        r"0 lines cropped, 0 capped",
                        summary), summary


def test_nbest_output_names_every_line_across_chunks(bundle, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("I see the dog.\n\nWe eat a big cat.\nThey want the apple!\nHe has a car.\n")
    result = run("translate", src, "--bundle", bundle(), "-q", "--output-format", "nbest",
                 "--beam-size", 3, "--num-hypotheses", 2, "--chunk-lines", 2)
    assert result.exit_code == 0, result.output
    rows = [line.split(" ||| ") for line in result.stdout.splitlines()]
    assert [int(r[0]) for r in rows] == [0, 0, 1, 2, 2, 3, 3, 4, 4]
    assert rows[2][1:] == ["", "F0= 0.000000", "0.000000"]  # the blank line
    jsonl = run("translate", src, "--bundle", bundle(), "-q", "--output-format", "jsonl",
                "--beam-size", 3, "--num-hypotheses", 2)
    expected = [(i, h["text"], round(h["score"], 6)) for i, line in enumerate(jsonl.stdout.splitlines())
                for h in json.loads(line)["hypotheses"]]
    got = [(int(r[0]), r[1], float(r[3])) for r in rows if r[1]]
    assert got == expected
    assert all(r[2] == f"F0= {r[3]}" for r in rows)


def test_jsonl_and_tsv_inputs_keep_their_other_fields_and_columns(bundle, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 3, "text": "I see the dog.", "meta": {"x": 1}}\n\n{"id": 4, "text": "We eat a big cat."}\n')
    result = run("translate", src, "--bundle", bundle(), "-q", "--input-format", "jsonl",
                 "--output-format", "jsonl", "--target-field", "fr")
    assert result.exit_code == 0, result.output
    first, blank, last = (json.loads(line) for line in result.stdout.splitlines())
    assert (first["id"], first["text"], first["meta"], last["id"]) == (3, "I see the dog.", {"x": 1}, 4)
    assert first["fr"] and first["fr"] == first["hypotheses"][0]["text"] and "translation" not in first
    assert blank["fr"] == "" and blank["pieces"] == 0
    tsv = tmp_path / "in.tsv"
    tsv.write_text("a1\tI see the dog.\tz\n\nb2\tWe eat a big cat.\tw\n")
    result = run("translate", tsv, "--bundle", bundle(), "-q", "--input-format", "tsv", "--column", 2,
                 "--output-format", "tsv")
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [r[:3] for r in rows[::2]] == [["a1", "I see the dog.", "z"], ["b2", "We eat a big cat.", "w"]]
    assert all(len(r) == 4 and r[3] for r in rows[::2]) and rows[1] == ["", ""]


def test_n_best_rows_are_read_back_whatever_the_text_holds():
    from s2s_batch.runtime.files.job import format_results, read_nbest
    from s2s_batch.runtime.translator import TranslationResult

    results = [TranslationResult(hypotheses=["a ||| b", "c"], scores=[-1.0, -2.0]), TranslationResult(),
               TranslationResult(hypotheses=["d"], scores=[-0.5])]
    text = format_results(results, ["x", "", "y"], "nbest", with_token_scores=False).decode("utf-8")
    assert read_nbest(text, 3) == [["a ||| b", "c"], [""], ["d"]]
