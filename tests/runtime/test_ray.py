"""--ray against a real Ray head on 127.0.0.1 with two worker CPUs: same bytes as a local run."""

import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

if os.environ.get("S2S_REQUIRE_RAY"):  # CI installs the extra: there, a skip would hide a failure
    import ray  # noqa: F401
else:
    pytest.importorskip("ray")


RAY = str(Path(sys.executable).parent / "ray")
CLI = str(Path(sys.executable).parent / "s2s-batch")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """A Ray head on 127.0.0.1 with 2 CPUs (two actors), stopped at the end."""
    port = free_port()
    # Ray >= 2.59 turns on token auth for `ray start --head` once ~/.ray/auth_token exists
    # (any earlier local ray.init writes one); this head stays open like a fresh machine's.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    subprocess.run([RAY, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                    "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats"],
                   check=True, capture_output=True, env=env, timeout=120)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def many_lines(toy_sentences, tmp_path_factory) -> Path:
    """1,200 lines with blanks, so that 100-line blocks make 12 blocks for the two actors."""
    path = tmp_path_factory.mktemp("ray") / "in.txt"
    lines = [toy_sentences[i % len(toy_sentences)] if i % 17 else "" for i in range(1200)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "translate", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_ray_output_is_identical_to_local(ray_head, bundle, many_lines, tmp_path):
    local, remote = tmp_path / "local.txt", tmp_path / "ray.txt"
    alone = cli(many_lines, "-o", local, "--bundle", bundle())
    assert alone.returncode == 0, alone.stderr
    result = cli(many_lines, "-o", remote, "--bundle", bundle(), "--ray", ray_head,
                 "--ray-actors", 2, "--chunk-lines", 100)
    assert result.returncode == 0, result.stderr
    assert remote.read_bytes() == local.read_bytes()
    assert len(local.read_text().splitlines()) == 1200
    # The summary adds up the workers' counts: lines, tokens, unknown words, splits, crops.
    counts = [[re.sub(r" in [\d.]+ s \([\d,]+ sentences/s\)", "", line)
               for line in run.stderr.splitlines() if line.startswith("s2s-batch: 1,200 lines, ")]
              for run in (alone, result)]
    assert counts[0] == counts[1] and len(counts[0]) == 1


def test_ray_names_the_notable_lines_as_a_local_run_does(ray_head, bundle, toy_sentences, tmp_path):
    # Lines cropped and capped in later blocks than the first: their numbers must come
    # back from the actors, in input order.
    src = tmp_path / "in.txt"
    short = [line for line in toy_sentences[:120] if len(line.split()) <= 8]
    lines = [" ".join(short[:6]) if i % 37 == 20 else short[i % len(short)] for i in range(400)]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    flags = ["--bundle", bundle(), "--max-input-length", 20, "--no-split-sentences"]
    alone = cli(src, "-o", tmp_path / "local.txt", *flags)
    result = cli(src, "-o", tmp_path / "ray.txt", *flags, "--ray", ray_head, "--ray-actors", 2,
                 "--chunk-lines", 50)
    assert alone.returncode == 0 and result.returncode == 0, alone.stderr + result.stderr
    notable = [[line for line in run.stderr.splitlines() if "cropped (line" in line] for run in (alone, result)]
    assert len(notable[0]) == 1 and "cropped (lines 21, 58, 95, 132, 169, ...)" in notable[0][0], notable
    assert notable[1] == notable[0]


def test_ray_formats_and_gzip_match_local(ray_head, bundle, many_lines, tmp_path):
    src = tmp_path / "in.jsonl.gz"
    records = [json.dumps({"en": line}) for line in many_lines.read_text().splitlines()]
    src.write_bytes(gzip.compress(("\n".join(records) + "\n").encode()))
    args = ["--bundle", bundle(), "-q", "--input-format", "jsonl", "--field", "en",
            "--output-format", "tsv", "--chunk-lines", 150]
    local, remote = tmp_path / "local.tsv.gz", tmp_path / "ray.tsv.gz"
    assert cli(src, "-o", local, *args).returncode == 0
    result = cli(src, "-o", remote, *args, "--ray", ray_head)
    assert result.returncode == 0, result.stderr
    assert gzip.decompress(remote.read_bytes()) == gzip.decompress(local.read_bytes())


def test_jsonl_fields_kept_on_ray_match_local(ray_head, bundle, many_lines, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"n": i, "en": line}) + "\n"
                           for i, line in enumerate(many_lines.read_text().splitlines()[:300])))
    args = ["--bundle", bundle(), "-q", "--input-format", "jsonl", "--field", "en",
            "--output-format", "jsonl", "--target-field", "fr", "--chunk-lines", 70]
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert cli(src, "-o", local, *args).returncode == 0
    result = cli(src, "-o", remote, *args, "--ray", ray_head)
    assert result.returncode == 0, result.stderr
    assert remote.read_bytes() == local.read_bytes()
    assert [json.loads(line)["n"] for line in local.read_text().splitlines()] == list(range(300))


def test_nbest_line_numbers_on_ray_match_local(ray_head, bundle, many_lines, tmp_path):
    args = ["--bundle", bundle(), "-q", "--output-format", "nbest", "--beam-size", 2,
            "--num-hypotheses", 2, "--chunk-lines", 150]
    local, remote = tmp_path / "local.txt", tmp_path / "ray.txt"
    assert cli(many_lines, "-o", local, *args).returncode == 0
    result = cli(many_lines, "-o", remote, *args, "--ray", ray_head)
    assert result.returncode == 0, result.stderr
    assert remote.read_bytes() == local.read_bytes()
    assert local.read_text().splitlines()[-1].startswith("1199 ||| ")


def test_bad_line_read_on_ray_is_one_line_exit_3(ray_head, bundle, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "I see the dog."}\n{"text": oops}\n')
    out = tmp_path / "out.txt"
    result = cli(src, "-o", out, "--bundle", bundle(), "--input-format", "jsonl", "--ray", ray_head)
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip().splitlines() == [
        result.stderr.strip().splitlines()[-1]] and "line 2: not valid JSON" in result.stderr
    assert not out.exists()


def test_unreachable_cluster_is_exit_7():
    result = cli("README.md", "--ray", f"127.0.0.1:{free_port()}")
    assert result.returncode == 7 and "cannot reach a Ray cluster" in result.stderr


def test_a_killed_local_run_resumes_on_ray_byte_identical(ray_head, job, tmp_path):  # noqa: F811 (a fixture)
    from tests.helpers import RESUME_LINES as N_LINES
    from tests.helpers import resume_cli as local_cli
    from tests.helpers import start_and_stop_at

    bundle_dir, src, reference = job
    dst = tmp_path / "out.txt"
    progress = tmp_path / ".out.txt.progress.json"
    code, _ = start_and_stop_at(local_cli(bundle_dir, src, dst), progress, N_LINES // 3,
                                signal.SIGKILL)
    assert code == -signal.SIGKILL and not dst.exists()
    done = json.loads(progress.read_text())["lines"]
    assert 0 < done < N_LINES
    # The same options (the job key) on Ray: the datasource skips the lines already done.
    args = local_cli(bundle_dir, src, dst, "--resume", "--ray", ray_head)
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert dst.read_bytes() == reference


def _translate_actor_pids() -> list[int]:
    import psutil  # a dependency of ray

    pids = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if "TranslateBlocks" in " ".join(proc.info["cmdline"] or []):
                pids.append(proc.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return pids


def test_a_worker_killed_mid_run_is_restarted_and_the_output_is_byte_identical(
        ray_head, bundle, toy_sentences, tmp_path):
    import time

    src = tmp_path / "in.txt"
    lines = [toy_sentences[i % len(toy_sentences)] if i % 13 else "" for i in range(24000)]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    local, remote = tmp_path / "local.txt", tmp_path / "ray.txt"
    assert cli(src, "-o", local, "--bundle", bundle(), "-q").returncode == 0
    run = subprocess.Popen([CLI, "translate", str(src), "-o", str(remote), "--bundle", str(bundle()),
                            "-q", "--ray", ray_head, "--ray-actors", "2", "--chunk-lines", "50"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, killed = time.monotonic() + 120, None
    started = None
    while killed is None and time.monotonic() < deadline and run.poll() is None:
        pids = _translate_actor_pids()
        if pids and started is None:
            started = time.monotonic()
        if pids and time.monotonic() - started >= 1.0:  # let it take a block or two first
            try:
                os.kill(pids[0], signal.SIGKILL)
                killed = pids[0]
            except ProcessLookupError:  # it exited between the listing and the kill: look again
                continue
        else:
            time.sleep(0.1)
    _, stderr = run.communicate(timeout=300)
    assert killed is not None, "the run ended before an actor could be killed; give it more lines"
    assert run.returncode == 0, stderr
    assert remote.read_bytes() == local.read_bytes()
