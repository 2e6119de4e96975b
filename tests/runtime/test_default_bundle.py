"""The bundle shipped in models/fra-eng: intact, small, attributed, and translating sensibly."""

from pathlib import Path

from click.testing import CliRunner

from s2s_batch.runtime.bundle.manifest import load_manifest
from s2s_batch.runtime.cli.main import main
from s2s_batch.runtime.text import SentenceSplitter
from s2s_batch.runtime.translator import Translator, default_bundle_dir

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample.en.txt"


def test_default_bundle_is_verified_small_and_attributed():
    manifest = load_manifest(default_bundle_dir())  # checks format version and every sha256
    size = sum(p.stat().st_size for p in manifest.root.iterdir() if p.is_file())
    extra = {g.file for graphs, _ in manifest.compute_types.values() for g in graphs.values()}
    # the exact model under 30 MB; the int8 compute type's graphs add 6 MB (2026-12-05)
    assert size - sum((manifest.root / name).stat().st_size for name in extra) < 30e6
    assert extra == {"encoder.int8.onnx", "decoder_step.int8.onnx"} and size < 36e6
    assert "tatoeba" in manifest.data["data_attribution"].lower()
    # the licence: its own field since bundles read it from the corpus's _about.txt
    licence = manifest.data.get("data_license") or manifest.data["data_attribution"]
    assert "creativecommons.org/licenses/by/2.0" in licence
    recipe = manifest.data["recipe"]
    assert recipe["data_file"] == "fra.txt" and len(recipe["data_sha256"]) == 64
    assert recipe["epochs_trained"] >= 1 and manifest.data["metrics"]["dev_bleu"] > 0


def test_default_bundle_translates_simple_sentences_sensibly():
    home, calm, boston = Translator().translate_lines(["I'm home.", "He's calm.", "Tom is in Boston."])
    assert home.startswith("Je suis") and home.endswith(".")
    assert calm.startswith("Il est") and calm.endswith(".")
    assert "Tom" in boston and "Boston" in boston  # truecased names


def test_translate_without_bundle_uses_the_default_and_keeps_2000_lines(tmp_path):
    base = [line for line in SAMPLE.read_text(encoding="utf-8").split("\n")]
    lines = [base[i % len(base)] for i in range(2000)]
    src, out = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["translate", str(src), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    got = out.read_text(encoding="utf-8").split("\n")[:-1]
    assert len(got) == 2000
    assert all((g == "") == (line.strip() == "") for g, line in zip(got, lines))
    assert got[0] == got[len(base)]  # the same line gets the same translation wherever it is


def test_every_file_of_the_default_bundle_is_package_data():
    import fnmatch
    import tomllib

    pyproject = tomllib.loads((SAMPLE.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["s2s_batch.models"]
    for path in default_bundle_dir().iterdir():
        name = f"{path.parent.name}/{path.name}"
        assert any(fnmatch.fnmatch(name, p) for p in patterns), f"{name} would not be installed"


def test_a_100_word_paragraph_translates_whole():
    paragraph = ("Tom lives in a small house near the river. Every morning he walks to the station with "
                 "his dog. He works in a big office in the city, where he writes reports for his boss. "
                 "His colleagues like him because he is always kind and helpful. Last week, his sister "
                 "came to visit him from Boston. They went to the museum together and ate dinner at a "
                 "French restaurant. She told him that she wanted to move to the city next year. Tom was "
                 "very happy to hear that. He hopes that she will find a good job soon. I think they "
                 "will be fine.")
    assert len(paragraph.split()) >= 100
    (result,) = Translator().translate_batch([paragraph])
    assert result.pieces == 10 and not result.cropped and not result.capped
    # Every sentence is translated: the output is as long as the ten sentences' own.
    alone = Translator().translate_ids(SentenceSplitter().split(paragraph))
    assert result.ids[0] == [i for ids in alone for i in ids] and len(result.ids[0]) > 100


def test_tokenizing_many_lines_at_once_gives_each_line_its_own_pieces():
    tokenizer = Translator(split_sentences=False).src_tokenizer
    lines = ["I see the dog.", "", "We eat a big red apple!", "Tom's cat isn't here, is it?"] * 50
    assert tokenizer.encode_many(lines, threads=2) == [tokenizer.encode(line) for line in lines]
    assert tokenizer.encode_many([], threads=2) == []
