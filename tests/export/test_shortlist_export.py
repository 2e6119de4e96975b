"""Export ships the shortlist table, and the CLI translates with it."""

from __future__ import annotations

from tests.helpers import run


def test_cli_shortlist(bundle, trained, input_file, tmp_path):  # noqa: F811 (a fixture)
    out = tmp_path / "out.txt"
    result = run("translate", input_file, "-o", out, "--bundle", bundle(), "--shortlist", "-q")
    assert result.exit_code == 0
    assert len(out.read_text().splitlines()) == len(input_file.read_text().splitlines())
    result = run("translate", input_file, "--bundle", bundle(), "--shortlist", "--beam-size", "2")
    assert result.exit_code == 2 and "greedy search only" in result.stderr
    plain = tmp_path / "plain-bundle"
    from click.testing import CliRunner

    from s2s_batch.export.cli import main as export_main

    exported = CliRunner().invoke(export_main, [str(trained()), "-o", str(plain), "--no-shortlist"])
    assert exported.exit_code == 0, exported.output
    result = run("translate", input_file, "--bundle", plain, "--shortlist")
    assert result.exit_code == 2 and "no shortlist table" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
