"""A checkpoint packed into float16 parts for the GPU machine's small return pipe comes
back as a working fp32 checkpoint, and a damaged or missing part is refused."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from s2s_batch.train.checkpoint import load_checkpoint, read_payload  # noqa: E402
from s2s_batch.train.transport import INDEX, main, pack, unpack  # noqa: E402


def test_a_packed_checkpoint_comes_back_in_fp32_within_float16_rounding(trained, tmp_path):
    source = trained("gru", False, "general+after")
    written = pack(source, tmp_path / "parts", part_bytes=20_000)
    parts = [p for p in written if p.name != INDEX]
    assert len(parts) > 2 and all(p.stat().st_size <= 20_000 for p in parts)
    assert sum(p.stat().st_size for p in parts) < source.stat().st_size / 2  # no optimizer, half the bytes
    assert "optimizer" in read_payload(source)

    restored = unpack(tmp_path / "parts", tmp_path / "back" / "averaged.pt")
    net, cfg, src_vocab, tgt_vocab, payload = load_checkpoint(source)
    net2, cfg2, src_vocab2, tgt_vocab2, payload2 = load_checkpoint(restored)
    assert cfg2 == cfg and src_vocab2.idx_to_token == src_vocab.idx_to_token
    assert tgt_vocab2.idx_to_token == tgt_vocab.idx_to_token
    assert payload2["history"] == payload["history"] and "optimizer" not in payload2
    for name, tensor in net.state_dict().items():
        got = net2.state_dict()[name]
        assert got.dtype == tensor.dtype
        torch.testing.assert_close(got, tensor, rtol=2**-10, atol=1e-7)
    assert any(not torch.equal(net2.state_dict()[n], t) for n, t in net.state_dict().items())


def test_a_damaged_or_missing_part_is_refused(trained, tmp_path, capsys):
    pack(trained("gru", False, "general+after"), tmp_path, part_bytes=20_000)
    damaged = tmp_path / "checkpoint.part-01"
    damaged.write_bytes(b"x" + damaged.read_bytes()[1:])
    with pytest.raises(ValueError, match="sha256 differs"):
        unpack(tmp_path, tmp_path / "out.pt")
    damaged.unlink()
    with pytest.raises(SystemExit, match="part-01: missing"):
        main(["unpack", str(tmp_path), str(tmp_path / "out.pt")])
    assert not (tmp_path / "out.pt").exists()
