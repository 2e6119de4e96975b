"""Training draws its loss and BLEU curves beside the checkpoint."""

from __future__ import annotations


def test_training_draws_its_curves_beside_the_checkpoint(trained):
    png = trained("gru", False, "additive").parent / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
