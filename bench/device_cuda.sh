#!/usr/bin/env bash
# The prepared GPU measurement (issue 34): the CUDA path of greedy search (the decoder loop
# step in CUDA graphs, runtime/search/fixed_loop.py) on onnxruntime's CUDA provider, against every
# PyTorch variant on the same GPU (bench/cuda_greedy.py); the CUDA-only tests; the CLI's
# greedy and beam search on CUDA against the CPU provider, line for line. Every figure
# goes to $OUT (device.log, cuda_tests.log, cuda_greedy.log).
#
# Once, here (none of it is committed; the folders are in .git/info/exclude):
#   python bench/heldout.py --data ../shared/data/fra-eng/fra.txt --out runs/heldout-cased --split test --cased
#   bash bench/pack_ort_gpu.sh          # onnxruntime-gpu as .ortgpu1 ... (xz parts, 50 MB each)
# Each part travels in a call of its own (the working tree of a call is at most 64 MiB),
# with models/ moved aside, and is copied to /tmp/ortgpu on the warm machine:
#   run(command="mkdir -p /tmp/ortgpu && cp .ortgpu1/* /tmp/ortgpu/", carry=[".ortgpu1"])  # and so on
# Then, models/ back in place, within 30 s (the machine stays warm that long):
#   run(command="bash bench/device_cuda.sh", carry=["runs/heldout-cased", ".ortgpuN"], timeout_s=540)
# (the last part, if small, travels with that call: the script copies any .ortgpu* first).
# The device's python3 holds torch (with CUDA's libraries), onnx, sentencepiece, sacrebleu,
# click and pytest (/work/.library/device/KINDS.md); this package is put on its path without pip.
# BUNDLE: a bundle with the loop step (default: models/fra-eng if it has one, else it is
# exported here with s2s-export --device cuda); the fp16 one is always exported here.
set -uo pipefail
: "${OUT:?set OUT: the folder whose files come back}"
PARTS=${PARTS:-/tmp/ortgpu}
start=$(date +%s)
elapsed() { echo "[$(( $(date +%s) - start )) s]"; }

mkdir -p "$PARTS" /tmp/site
for d in .ortgpu*; do [ -d "$d" ] && cp "$d"/* "$PARTS"/; done
if [ -z "${SKIP_ORT:-}" ]; then  # SKIP_ORT=1: a try-out with the onnxruntime already there
  cat "$PARTS"/ort.tar.xz.part* | python3 -c "import sys, tarfile
tarfile.open(fileobj=sys.stdin.buffer, mode='r|xz').extractall('/tmp/site')" || exit 1
fi
pkg=$(mktemp -d)
mkdir -p "$pkg/s2s_batch"
cp api/*.py "$pkg/s2s_batch/"
for part in train export runtime models; do ln -s "$PWD/$part" "$pkg/s2s_batch/$part"; done
# torch first: it loads the CUDA and cuDNN libraries that onnxruntime's provider links to.
export PYTHONPATH="/tmp/site:$pkg:$PWD" PYTHONUNBUFFERED=1
py() { python3 -c "import torch, runpy, sys; sys.argv = sys.argv[1:]; runpy.run_module(sys.argv[0], run_name='__main__')" "$@"; }
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c "import torch, onnxruntime as o; print('torch', torch.__version__, 'onnxruntime', o.__version__, o.get_available_providers())"
  lscpu | grep -E "Model name"
} 2>&1 | tee "$OUT/device.log"

b32=${BUNDLE:-}
if [ -z "$b32" ]; then
  if grep -q decoder_loop models/fra-eng/manifest.json; then b32=models/fra-eng; else
    py s2s_batch.export.cli models/fra-eng --device cuda -o /tmp/b32 2>&1 | tail -1 | tee -a "$OUT/device.log"
    b32=/tmp/b32
  fi
fi
b32=$(realpath "$b32")
py s2s_batch.export.cli "$b32" --device cuda --quantize fp16 -o /tmp/b16 2>&1 | tail -1 | tee -a "$OUT/device.log"
echo "$(elapsed) bundles ready" | tee -a "$OUT/device.log"

# A capture that fails can take the process's CUDA context down: probe it in a process of
# its own, and measure without CUDA graphs if it fails.
if ! python3 -c "import torch, sys; from s2s_batch.runtime.translator import Translator
t = Translator('$b32', device='cuda', split_sentences=False); print(t.translate_ids(['Hello.', 'How are you?']))
sys.exit(0 if t.fixed_loop.cuda_graph else 1)" 2>&1 | tail -3 | tee -a "$OUT/device.log"; then
  echo "CUDA graph capture failed: measuring without" | tee -a "$OUT/device.log"
  export S2S_BATCH_CUDA_GRAPHS=0
fi
S2S_CUDA_BUNDLE=$b32 timeout 120 python3 -c "import torch, pytest, sys; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/runtime/test_cuda_loop.py']))" \
  2>&1 | tail -15 | tee "$OUT/cuda_tests.log"
echo "$(elapsed) tests done" | tee -a "$OUT/device.log"

test=$(realpath "${TEST:-runs/heldout-cased/test.en}")
for beam in ${BEAMS-1 4}; do
  for device in cpu cuda; do
    py s2s_batch.runtime.cli.main translate "$test" --bundle "$b32" -o "/tmp/out.$device.$beam" --device "$device" \
      --beam-size "$beam" --no-split-sentences 2>&1 | tail -1 | sed "s/^/beam $beam $device: /" | tee -a "$OUT/device.log"
  done
  echo "beam $beam: $(cmp -s /tmp/out.cpu.$beam /tmp/out.cuda.$beam && echo same || \
    echo "$(diff /tmp/out.cpu.$beam /tmp/out.cuda.$beam | grep -c '^<') lines differ") on CUDA as on CPU" \
    | tee -a "$OUT/device.log"
done
echo "$(elapsed) CLI done" | tee -a "$OUT/device.log"
(cd bench && timeout "${BENCH_S:-330}" python3 cuda_greedy.py --bundle "$b32" --fp16 /tmp/b16 \
  --input "$test" --repeat-input 8 ${BENCH_FLAGS:-}) 2>&1 | grep -v Warning | tee "$OUT/cuda_greedy.log"
echo "$(elapsed) all done" | tee -a "$OUT/device.log"
