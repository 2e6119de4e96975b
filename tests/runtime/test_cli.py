"""The s2s-batch CLI end to end, its error lines and exit codes, and a runtime without torch."""

import json
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from s2s_batch.runtime.cli.main import main
from tests.helpers import LINES, run


def test_translate_file_keeps_line_count_and_empty_lines(bundle, input_file, tmp_path):
    out = tmp_path / "out.txt"
    result = run("translate", input_file, "-o", out, "--bundle", bundle(), "--batch-size", 2)
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines) - 1 == len(LINES)
    assert lines[1] == "" and lines[2] == ""
    assert all(lines[i] for i in (0, 3, 4, 6))
    assert not list(tmp_path.glob("*.partial"))


def test_translate_stdin_to_stdout_without_final_newline(bundle):
    result = run("translate", "-", "--bundle", bundle(), "-q", input="I see the dog.\n\nWe eat a cat.")
    assert result.exit_code == 0
    assert result.stdout.count("\n") == 3


def test_translate_output_equals_the_library(bundle, input_file, tmp_path):
    from s2s_batch.runtime.translator import Translator

    out = tmp_path / "out.txt"
    assert run("translate", input_file, "-o", out, "--bundle", bundle(), "-q").exit_code == 0
    expected = Translator(bundle()).translate_lines(LINES)
    assert out.read_text(encoding="utf-8") == "".join(t + "\n" for t in expected)


def test_crlf_and_bom_are_stripped(bundle, tmp_path):
    plain, dos = tmp_path / "plain.txt", tmp_path / "dos.txt"
    plain.write_bytes(b"I see the dog.\nWe eat a cat.\n")
    dos.write_bytes(b"\xef\xbb\xbfI see the dog.\r\nWe eat a cat.\r\n")
    outs = []
    for path in (plain, dos):
        result = run("translate", path, "--bundle", bundle(), "-q")
        assert result.exit_code == 0
        outs.append(result.stdout)
    assert outs[0] == outs[1]


ERROR_CASES = [
    # (what to break, exit code, words the message must contain)
    ("missing_bundle", 4, "not a directory"),
    ("bad_checksum", 4, "sha256"),
    ("bad_version", 4, "format version"),
    ("corrupt_onnx", 4, "sha256"),
    ("bad_utf8", 3, "line 2: invalid UTF-8 at file byte offset 14"),
    ("missing_input", 3, "cannot read input"),
    ("bad_output_dir", 6, "cannot write output"),
    ("cuda", 5, "--device cpu"),
]


@pytest.mark.parametrize("case,code,words", ERROR_CASES)
def test_user_errors_are_one_line_with_documented_exit_codes(case, code, words, bundle, input_file,
                                                            tmp_path):
    import shutil

    root = tmp_path / "bundle"
    shutil.copytree(bundle(), root)
    args = ["translate", input_file, "--bundle", root]
    if case == "missing_bundle":
        args[3] = tmp_path / "nope"
    elif case == "bad_checksum":
        with (root / "tgt_vocab.txt").open("a") as f:
            f.write("extra\n")
    elif case == "bad_version":
        manifest = json.loads((root / "manifest.json").read_text())
        manifest["format_version"] = 99
        (root / "manifest.json").write_text(json.dumps(manifest))
    elif case == "corrupt_onnx":
        data = bytearray((root / "decoder_step.onnx").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (root / "decoder_step.onnx").write_bytes(bytes(data))
    elif case == "bad_utf8":
        input_file.write_bytes(b"I see.\nWe eat \xff a cat.\n")
    elif case == "missing_input":
        args[1] = tmp_path / "missing.txt"
    elif case == "bad_output_dir":
        args += ["-o", tmp_path / "no" / "such" / "out.txt"]
    elif case == "cuda":
        import onnxruntime
        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            pytest.skip("this machine has a CUDA provider")
        args += ["--device", "cuda"]
    result = run(*args)
    assert result.exit_code == code, result.output
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith("s2s-batch: error:") and words in message


def test_corrupt_onnx_with_matching_checksum_is_a_bundle_error(bundle, tmp_path, input_file):
    import shutil

    from s2s_batch.runtime.bundle.manifest import sha256_of

    root = tmp_path / "bundle"
    shutil.copytree(bundle(), root)
    (root / "encoder.onnx").write_bytes((root / "encoder.onnx").read_bytes()[:200])
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"]["encoder.onnx"] = sha256_of(root / "encoder.onnx")
    (root / "manifest.json").write_text(json.dumps(manifest))
    result = run("translate", input_file, "--bundle", root)
    assert result.exit_code == 4 and "encoder.onnx: onnxruntime cannot load it" in result.stderr


def test_failed_run_leaves_no_partial_output(bundle, tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(b"I see the dog.\n" * 5 + b"bad \xff\n")
    out = tmp_path / "out.txt"
    result = run("translate", src, "-o", out, "--bundle", bundle())
    assert result.exit_code == 3
    assert not out.exists() and not list(tmp_path.glob(".*partial"))


def test_errors_replace_translates_invalid_utf8(bundle, tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(b"I see the dog.\nbad \xff cat\n")
    result = run("translate", src, "--bundle", bundle(), "--errors", "replace", "-q")
    assert result.exit_code == 0 and result.stdout.count("\n") == 2


def test_evaluate_prints_sacrebleu_and_seed_bleu(tmp_path):
    hyp, ref1, ref2 = (tmp_path / n for n in ("hyp", "r1", "r2"))
    hyp.write_text("il est calme .\nje suis chez moi .\n")
    ref1.write_text("il est calme .\nje suis à la maison .\n")
    ref2.write_text("il est tranquille .\nje suis chez moi .\n")
    result = run("evaluate", hyp, "--ref", ref1, "--ref", ref2, "--json")
    assert result.exit_code == 0
    scores = json.loads(result.stdout)
    assert scores["bleu"] == pytest.approx(100.0) and scores["seed_bleu"] == pytest.approx(1.0)
    assert "nrefs:2" in scores["signature"] and scores["chrf"] == pytest.approx(100.0)
    one = json.loads(run("evaluate", hyp, "--ref", ref1, "--json").stdout)
    assert one["bleu"] < 100.0


def test_evaluate_rejects_misaligned_references(tmp_path):
    hyp, ref = tmp_path / "hyp", tmp_path / "ref"
    hyp.write_text("a\nb\n")
    ref.write_text("a\n")
    result = run("evaluate", hyp, "--ref", ref)
    assert result.exit_code == 3 and "line-aligned" in result.stderr


@pytest.mark.parametrize("hyp_text, ref_texts, message", [
    ("", [""], "no lines to score"),
    ("a b\nc d\n", ["a b\n\n", "a b\n\n"], "line 2 has no reference"),
])
def test_evaluate_rejects_what_cannot_be_scored(tmp_path, hyp_text, ref_texts, message):
    hyp = tmp_path / "hyp"
    hyp.write_text(hyp_text)
    refs = []
    for i, text in enumerate(ref_texts):
        refs += ["--ref", tmp_path / f"ref{i}"]
        refs[-1].write_text(text)
    result = run("evaluate", hyp, *refs)
    assert result.exit_code == 3 and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_info_describes_the_bundle(bundle):
    result = run("info", "--bundle", bundle("lstm"))
    assert result.exit_code == 0
    assert "lstm encoder-decoder" in result.stdout
    # the attribution and licence the bundle was trained with (tests/fixtures/make_bundles.py)
    assert "data          tests/toy.py (a synthetic toy grammar); licence MIT" in result.stdout
    assert "truecasing table" in result.stdout and "shortlist table" in result.stdout
    assert re.search(r"trained +\d+ epochs on toy.txt", result.stdout)


def test_info_says_when_the_epochs_count_from_a_warm_start():
    # the shipped default was fine-tuned from another bundle: its epochs are the last run's
    from s2s_batch.runtime.bundle.manifest import load_manifest
    from s2s_batch.runtime.translator import default_bundle_dir

    epochs = load_manifest(default_bundle_dir()).data["recipe"]["epochs_trained"]
    result = run("info")
    assert result.exit_code == 0
    assert re.search(rf"trained +{epochs} epochs since its last --init-from on fra.txt", result.stdout)


_NO_TORCH = (
    "import sys; sys.modules['torch'] = None\n"  # any `import torch` now raises ImportError
    "from s2s_batch.runtime.cli.main import main\n"
    "sys.argv = ['s2s-batch'] + sys.argv[1:]\n"
    "main()\n"
)


def test_runtime_translates_with_torch_unimportable(bundle, input_file, tmp_path):
    out = tmp_path / "out.txt"
    proc = subprocess.run([sys.executable, "-c", _NO_TORCH, "translate", str(input_file), "-o",
                           str(out), "--bundle", str(bundle()), "-q"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text(encoding="utf-8").count("\n") == len(LINES)
    check = subprocess.run([sys.executable, "-c", "import sys; sys.modules['torch'] = None\n"
                            "import s2s_batch.runtime.cli.main, s2s_batch.runtime.translator"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_no_module_under_runtime_imports_torch_train_or_export():
    import ast

    repo = Path(__file__).resolve().parents[2]
    paths = sorted((repo / "runtime").rglob("*.py")) + sorted((repo / "api").rglob("*.py"))
    assert repo / "runtime" / "translator.py" in paths and repo / "api" / "__init__.py" in paths
    forbidden = ("torch", "onnx", "s2s_batch.train", "s2s_batch.export")
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == f or n.startswith(f + ".") for n in names for f in forbidden), (path, names)


BUNDLE_FILES = ["encoder.onnx", "decoder_step.onnx", "src_vocab.txt", "tgt_vocab.txt", "manifest.json"]


@pytest.mark.parametrize("where", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("name", BUNDLE_FILES)
def test_a_flipped_byte_in_any_bundle_file_is_a_bundle_error(name, where, bundle, input_file, tmp_path):
    import shutil

    root = tmp_path / "bundle"
    shutil.copytree(bundle(), root)
    data = bytearray((root / name).read_bytes())
    data[min(int(where * len(data)), len(data) - 1)] ^= 0xFF
    (root / name).write_bytes(bytes(data))
    result = run("translate", input_file, "--bundle", root)
    assert result.exit_code == 4, result.output
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert "re-export" in message or "copy the bundle" in message


@pytest.mark.parametrize("name", BUNDLE_FILES)
def test_a_missing_bundle_file_is_named(name, bundle, input_file, tmp_path):
    import shutil

    root = tmp_path / "bundle"
    shutil.copytree(bundle(), root)
    (root / name).unlink()
    result = run("translate", input_file, "--bundle", root)
    assert result.exit_code == 4 and name in result.stderr


def test_device_auto_says_what_it_chose(bundle, input_file):
    result = run("translate", input_file, "--bundle", bundle(), "--device", "auto", "-q")
    assert result.exit_code == 0
    assert "--device auto chose" in result.stderr


def test_a_closed_stdout_pipe_stops_quietly(bundle, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("I see the dog.\n" * 50_000)
    proc = subprocess.Popen([sys.executable, "-m", "s2s_batch.runtime.cli.main", "translate", str(src),
                             "--bundle", str(bundle()), "-q", "--chunk-lines", "1000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    stderr = proc.communicate(timeout=120)[1].decode()
    assert proc.returncode == 141 and "Traceback" not in stderr


def test_environment_variables_set_bundle_and_device(bundle, input_file, monkeypatch):
    monkeypatch.setenv("S2S_BUNDLE", str(bundle("lstm")))
    monkeypatch.setenv("S2S_DEVICE", "auto")
    result = run("translate", input_file, "-q")
    assert result.exit_code == 0 and "--device auto chose" in result.stderr
    from s2s_batch.runtime.translator import Translator
    assert result.stdout.splitlines() == Translator(bundle("lstm")).translate_lines(LINES)


@pytest.mark.parametrize("command", ["s2s-train", "s2s-export"])
def test_training_commands_in_a_runtime_only_install_say_what_to_install(command, monkeypatch, tmp_path):
    import importlib.util

    from s2s_batch.export.cli import main as export_main
    from s2s_batch.train.cli import main as train_main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("torch", "onnx")
                        else real(name, *a))
    data = tmp_path / "c.tsv"
    data.write_text("Hi.\tSalut.\n")
    entry, args = ((train_main, ["--data", str(data), "--out", str(tmp_path / "run")]) if command == "s2s-train"
                   else (export_main, [str(data), "-o", str(tmp_path / "b")]))
    result = CliRunner().invoke(entry, args)
    assert result.exit_code == 2
    assert result.output.strip() == (f"{command}: needs torch and onnx, which a runtime-only install lacks; "
                                     "pip install torch==2.13.0 (a CPU wheel), then from the s2s-batch "
                                     "clone pip install '.[train]'")


def test_return_scores_is_the_one_scores_flag_in_text_output(bundle, input_file):
    result = run("translate", input_file, "--bundle", bundle(), "-q", "--return-scores", "--beam-size", 2)
    assert result.exit_code == 0, result.output
    from s2s_batch.runtime.translator import Translator

    best = Translator(bundle()).translate_batch(LINES, beam_size=2, return_scores=True)
    rows = result.stdout.splitlines()
    assert len(rows) == len(LINES)
    for row, r in zip(rows, best):
        score, text = row.split(" ||| ")
        assert text == r.best and float(score) == pytest.approx(r.scores[0] if r.scores else 0.0, abs=1e-5)
    old = run("translate", input_file, "--bundle", bundle(), "-q", "--with-scores", "--beam-size", 2)
    assert old.stdout == result.stdout and "--with-scores is now --return-scores" in old.stderr


@pytest.mark.parametrize("args,flag", [
    (["--return-scores", "--output-format", "tsv"], "--return-scores"),
    (["--return-attention"], "--return-attention"),
    (["--field", "en"], "--field is for jsonl input"),
    (["--column", "2"], "--column is for tsv input"),
    (["--target-field", "fr"], "--target-field is for jsonl output"),
])
def test_flags_that_would_do_nothing_are_refused(bundle, input_file, args, flag):
    result = run("translate", input_file, "--bundle", bundle(), *args)
    assert result.exit_code == 2 and flag in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_option_errors_name_the_cli_flags(bundle, input_file):
    for args, flag in ((["--num-hypotheses", 3, "--beam-size", 2], "--num-hypotheses"),
                       (["--sampling-topp", 2], "--sampling-topp"),
                       (["--length-penalty", -1], "--length-penalty")):
        result = run("translate", input_file, "--bundle", bundle(), *args)
        assert result.exit_code == 2 and flag in result.stderr, result.output
        assert "_" not in result.stderr.split("error:")[1].split(";")[0]


def test_every_decoding_option_is_a_translate_flag_with_the_librarys_default():
    import dataclasses

    from s2s_batch.runtime.search.options import LENGTH_PENALTY_TYPES, DecodingOptions

    params = {p.name: p for p in main.commands["translate"].params}
    fields = dataclasses.fields(DecodingOptions)
    assert all("help" in f.metadata for f in fields)  # none left out of the CLI
    for f in fields:
        flags = f.metadata["flags"] or ("--" + f.name.replace("_", "-"),)
        param = next(p for p in params.values() if flags[0].split("/")[0] in p.opts)
        assert param.default == f.default and param.help == f.metadata["help"], f.name
        if f.metadata["low"] is not None:
            assert param.type.min == f.metadata["low"], f.name
    assert tuple(params["length_penalty_type"].type.choices) == LENGTH_PENALTY_TYPES


def test_max_decoding_length_caps_the_output_under_both_names(bundle, input_file):
    capped = [run("translate", input_file, "--bundle", bundle(), "-q", flag, 2).stdout
              for flag in ("--max-decoding-length", "--max-len")]
    assert capped[0] == capped[1]
    assert all(len(line.split()) <= 2 for line in capped[0].splitlines())


def test_stdin_from_a_pipe_is_answered_line_by_line(bundle):
    """A line written to the pipe comes back before the next is written or input ends."""
    proc = subprocess.Popen([sys.executable, "-m", "s2s_batch.runtime.cli.main", "translate", "-", "-q",
                             "--bundle", str(bundle())],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        answers = []
        for line in ("I see the dog.", "", "We eat a big cat."):
            proc.stdin.write(line.encode() + b"\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            assert ready, f"no answer to {line!r} within 30 s while input stays open"
            answers.append(proc.stdout.readline().decode().rstrip("\n"))
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0 and proc.stdout.read() == b""
    finally:
        proc.kill()
    from s2s_batch.runtime.translator import Translator

    assert answers == Translator(bundle()).translate_lines(["I see the dog.", "", "We eat a big cat."])
