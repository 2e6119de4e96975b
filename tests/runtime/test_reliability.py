"""A run that fails keeps what it finished, and a run never writes a short output: a full
disk mid-run leaves the chunks done for --resume; an input that changes mid-run stops it."""

from __future__ import annotations

import errno
import os

import pytest

from s2s_batch.runtime.errors import InputError, OutputError
from s2s_batch.runtime.files import output as output_module
from s2s_batch.runtime.files.job import translate_stream_file
from s2s_batch.runtime.files.options import FileOptions
from s2s_batch.runtime.files.output import progress_record
from s2s_batch.runtime.translator import Translator


@pytest.fixture
def lines_file(tmp_path, toy_sentences):
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{toy_sentences[i % 40]}\n" for i in range(50)))
    return src


def _full_disk_from_chunk(monkeypatch, translator, chunk: int) -> None:
    """Every fsync of the output job fails with ENOSPC from the `chunk`-th chunk's
    translation on (the disk fills while it is translated)."""
    real_fsync, real_translate, calls = os.fsync, translator.translate_batch, []

    def translate(*args, **kwargs):
        calls.append(1)
        return real_translate(*args, **kwargs)

    def fsync(fd):
        if len(calls) >= chunk:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(translator, "translate_batch", translate)
    monkeypatch.setattr(output_module.os, "fsync", fsync)


@pytest.mark.parametrize("dst_name", ["out.txt", "out.txt.gz"])
def test_a_full_disk_keeps_the_chunks_done_for_resume(bundle, lines_file, tmp_path, monkeypatch, dst_name):
    translator = Translator(bundle(), threads=1)
    dst = tmp_path / dst_name
    expected = tmp_path / ("expected" + dst_name[3:])
    translate_stream_file(translator, lines_file, expected, FileOptions(chunk_lines=10, progress=False))
    _full_disk_from_chunk(monkeypatch, translator, 3)
    with pytest.raises(OutputError, match="the 20 lines done are kept: free space and rerun with --resume"):
        translate_stream_file(translator, lines_file, dst, FileOptions(chunk_lines=10, progress=False))
    assert not dst.exists() and progress_record(dst).exists()
    monkeypatch.undo()  # space freed
    translate_stream_file(translator, lines_file, dst, FileOptions(chunk_lines=10, progress=False, resume=True))
    assert dst.read_bytes() == expected.read_bytes() and not progress_record(dst).exists()


def test_a_full_disk_before_any_chunk_leaves_nothing(bundle, lines_file, tmp_path, monkeypatch):
    dst = tmp_path / "out.txt"
    translator = Translator(bundle(), threads=1)
    _full_disk_from_chunk(monkeypatch, translator, 1)
    with pytest.raises(OutputError, match="no output was left behind"):
        translate_stream_file(translator, lines_file, dst, FileOptions(chunk_lines=10, progress=False))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


@pytest.mark.parametrize("change", ["truncate", "append", "replace"])
def test_an_input_changed_mid_run_stops_it_without_a_short_output(bundle, lines_file, tmp_path, change):
    translator = Translator(bundle(), threads=1)
    dst = tmp_path / "out.txt"
    dst.write_text("the old output\n")
    real = translator.translate_batch
    calls = []

    def translate_then_change(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # while the second chunk is translated
            if change == "truncate":
                lines_file.write_text("I see.\n")
            elif change == "append":
                with lines_file.open("a") as f:
                    f.write("One more line.\n")
            else:
                other = tmp_path / "other.txt"
                other.write_text(lines_file.read_text())
                os.replace(other, lines_file)
        return real(*args, **kwargs)

    translator.translate_batch = translate_then_change
    with pytest.raises(InputError, match="changed while it was being translated"):
        translate_stream_file(translator, lines_file, dst, FileOptions(chunk_lines=10, progress=False))
    assert dst.read_text() == "the old output\n"


def test_a_huge_line_is_read_no_further_than_the_input_limit_needs():
    import io

    from s2s_batch.runtime.files.job import CroppedLine, read_lines

    huge = "é" * 5000  # two bytes a character: the cut falls inside one
    data = f"short\n{huge}\nlast\r\n".encode()
    lines = list(read_lines(io.BytesIO(data), "in.txt", max_line_bytes=1001))
    assert lines == ["short", "é" * 500, "last"]
    assert [isinstance(line, CroppedLine) for line in lines] == [False, True, False]
    bad = io.BytesIO(b"x" * 3000 + b"\nok\n\xff\n")
    with pytest.raises(InputError, match="line 3: invalid UTF-8 at file byte offset 3004"):
        list(read_lines(bad, "in.txt", max_line_bytes=100))  # offsets count the skipped bytes


@pytest.mark.parametrize("long_inputs", ["crop", "empty"])
def test_a_cut_line_is_reported_and_answered_like_a_cropped_one(bundle, tmp_path, long_inputs):
    from tests.helpers import run

    src = tmp_path / "in.txt"
    src.write_text("I see the dog.\n" + "we eat a big cat " * 400 + "\nHe has a car.\n")  # 6,800 bytes > 8 x 256
    result = run("translate", src, "--bundle", bundle(), "--max-input-length", 8, "--long-inputs", long_inputs)
    assert result.exit_code == 0, result.output
    out = result.stdout.split("\n")
    assert len(out) == 4 and out[0] and out[2] and out[3] == ""  # a line per line, the last newline
    assert (out[1] == "") == (long_inputs == "empty")
    assert "(line 2)" in result.stderr and "1 lines cropped" in result.stderr


def test_a_beam_past_the_documented_maximum_is_refused_before_any_work(bundle, tmp_path):
    from s2s_batch.runtime.search.options import MAX_BEAM_SIZE, DecodingOptions
    from tests.helpers import run

    DecodingOptions(beam_size=MAX_BEAM_SIZE, num_hypotheses=1)
    with pytest.raises(ValueError, match=f"beam_size must be at most {MAX_BEAM_SIZE}"):
        DecodingOptions(beam_size=MAX_BEAM_SIZE + 1)
    src = tmp_path / "in.txt"
    src.write_text("I see the dog.\n" * 10)
    result = run("translate", src, "--bundle", bundle(), "--beam-size", 10_000)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "--beam-size must be at most" in result.stderr
