"""The commands a user runs, in order: s2s-train, s2s-export, s2s-batch translate."""

import json

import pytest
import torch
from click.testing import CliRunner

from s2s_batch.export.cli import main as export_main
from s2s_batch.runtime.cli.main import main as batch_main
from s2s_batch.train.cli import main as train_main


def test_train_export_translate_with_the_d2l_preset(corpus_path, tmp_path):
    runner = CliRunner()
    run_dir, bundle_dir = tmp_path / "run", tmp_path / "bundle"
    result = runner.invoke(train_main, ["--data", str(corpus_path), "--out", str(run_dir),
                                        "--preset", "d2l", "--epochs", "3", "--quiet", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 3
    result = runner.invoke(export_main, [str(run_dir / "checkpoint.pt"), "-o", str(bundle_dir)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    cfg = manifest["model_config"]
    assert (cfg["embed_size"], cfg["hidden_size"], cfg["num_steps"], cfg["pad_source"]) == (32, 32, 10, True)
    assert manifest["recipe"]["train_config"]["max_pairs"] == 600
    assert manifest["recipe"]["epochs_trained"] == 3
    assert manifest["recipe"]["data_file"] == corpus_path.name
    assert manifest["metrics"]["parity_max_abs_diff"] <= 1e-4
    assert set(manifest["files"]) == {"encoder.onnx", "decoder_step.onnx", "src_vocab.txt", "tgt_vocab.txt",
                                      "shortlist.npz", "truecase.txt"}
    src = tmp_path / "in.txt"
    src.write_text("I see the dog.\n\nWe eat.\n")
    result = runner.invoke(batch_main, ["translate", str(src), "--bundle", str(bundle_dir), "-q"])
    assert result.exit_code == 0 and result.stdout.count("\n") == 3


def test_train_rejects_bad_hyperparameters(corpus_path, tmp_path):
    result = CliRunner().invoke(train_main, ["--data", str(corpus_path), "--out", str(tmp_path),
                                             "--cell", "transformer"])
    assert result.exit_code == 2 and "'transformer' is not one of 'rnn', 'gru', 'lstm'" in result.output
    from s2s_batch.runtime.bundle.config import ModelConfig

    with pytest.raises(ValueError, match="cell must be one of rnn, gru, lstm"):
        ModelConfig(cell="transformer")  # a checkpoint or manifest is checked likewise


def test_export_refuses_graphs_that_disagree_with_the_model(trained, tmp_path, monkeypatch):
    from s2s_batch.export import bundle as bundle_module
    from s2s_batch.export.verify import ParityError
    from s2s_batch.train.checkpoint import load_checkpoint

    net, cfg, sv, tv, payload = load_checkpoint(trained("gru", False))
    real_export = bundle_module.export_graphs

    def export_then_drift(model, enc, dec):
        real_export(model, enc, dec)
        with torch.no_grad():
            model.decoder.dense.bias.add_(1e-3)  # the graphs no longer match the model

    monkeypatch.setattr(bundle_module, "export_graphs", export_then_drift)
    out = tmp_path / "bundle"
    with pytest.raises(ParityError, match="differ from the eager model"):
        bundle_module.write_bundle(net, cfg, sv, tv, payload, out)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_export_of_a_file_that_is_not_a_checkpoint_is_one_line(tmp_path):
    bogus = tmp_path / "model.pt"
    bogus.write_bytes(b"not a checkpoint")
    result = CliRunner().invoke(export_main, [str(bogus), "-o", str(tmp_path / "b")])
    assert result.exit_code == 4 and "neither a checkpoint nor a bundle folder" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()


def test_int8_export_is_smaller_translates_and_records_its_distance(trained, tmp_path):
    import onnx

    from s2s_batch.runtime.translator import Translator

    checkpoint = str(trained("gru", False))
    runner = CliRunner()
    for option in ("none", "int8"):
        result = runner.invoke(export_main, [checkpoint, "-o", str(tmp_path / option), "--quantize", option])
        assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "int8" / "manifest.json").read_text())
    assert manifest["precision"] == "int8" and manifest["metrics"]["int8_argmax_agreement"] > 0.9
    ops = {n.op_type for n in onnx.load(str(tmp_path / "int8" / "decoder_step.onnx")).graph.node}
    assert "MatMulInteger" in ops
    lines = ["I see the dog.", "", "We eat a big red apple!"]
    fp32 = Translator(tmp_path / "none").translate_lines(lines)
    int8 = Translator(tmp_path / "int8").translate_lines(lines)
    assert len(int8) == 3 and int8[1] == "" and all(int8[i] for i in (0, 2))
    assert sum(a == b for a, b in zip(fp32, int8)) >= 2


def test_fp16_export_holds_half_weights_translates_and_records_its_distance(trained, tmp_path):
    import onnx
    from onnx import TensorProto

    from s2s_batch.runtime.translator import Translator

    checkpoint = str(trained("gru", False))
    for option in ("none", "fp16"):
        result = CliRunner().invoke(export_main, [checkpoint, "-o", str(tmp_path / option), "--quantize", option])
        assert result.exit_code == 0, result.output
    assert "fp16 vs fp32: logits within" in result.output
    manifest = json.loads((tmp_path / "fp16" / "manifest.json").read_text())
    assert manifest["precision"] == "fp16" and manifest["metrics"]["fp16_argmax_agreement"] > 0.9
    assert "shortlist" not in manifest and "prescore" not in manifest
    for graph in ("encoder.onnx", "decoder_step.onnx"):
        model = onnx.load(str(tmp_path / "fp16" / graph))
        weights = [w for w in model.graph.initializer if len(w.dims) == 2]
        assert weights and all(w.data_type == TensorProto.FLOAT16 for w in weights)
        # inputs and outputs stay fp32: the runtime feeds and reads the same arrays
        assert all(v.type.tensor_type.elem_type != TensorProto.FLOAT16
                   for v in (*model.graph.input, *model.graph.output))
    lines = ["I see the dog.", "", "We eat a big red apple!"]
    fp32 = Translator(tmp_path / "none").translate_lines(lines)
    fp16 = Translator(tmp_path / "fp16", compute_type="float16").translate_lines(lines)
    assert len(fp16) == 3 and fp16[1] == "" and all(fp16[i] for i in (0, 2))
    assert sum(a == b for a, b in zip(fp32, fp16)) >= 2
