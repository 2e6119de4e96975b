#!/usr/bin/env bash
# The prepared GPU measurement: the runtime on onnxruntime's CUDA provider (fp32 and fp16
# bundles) against eager PyTorch on the same GPU (bench/cuda_greedy.py), and the CLI's
# greedy and beam search on CUDA against the CPU provider, line for line.
#
# Once, here (the held-out split and the wheel do not travel from elsewhere, and must not
# be committed; both folders are in .git/info/exclude):
#   python bench/heldout.py --data ../shared/data/fra-eng/fra.txt --out runs/heldout-cased --split test --cased
#   s2s-export models/fra-eng --quantize fp16 -o runs/bundle-fp16
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 -d .ortgpu onnxruntime-gpu==1.31.1
# The wheel (256 MB) is larger than one call may carry: split it (split -b 50M) into
# folders .ortgpu1 ... that earlier calls carry and copy to /tmp/ortgpu on the warm machine,
# with models/ moved aside here so that the tree stays under 64 MiB. Then:
#   run(command="bash bench/device_cuda.sh", carry=["runs/heldout-cased", "runs/bundle-fp16"])
# The device's python3 holds torch (with CUDA's libraries), onnx, sentencepiece, sacrebleu
# and click (/work/.library/device/KINDS.md); this package is put on its path without pip.
set -uo pipefail
: "${OUT:?set OUT: the folder whose files come back}"
WHEELS=${WHEELS:-/tmp/ortgpu}
CLI_FLAGS=${CLI_FLAGS:-}

wheel=/tmp/onnxruntime_gpu-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl  # pip reads the name
cat "$WHEELS"/part* > "$wheel" || exit 1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
  "$wheel" || exit 1
pkg=$(mktemp -d)
mkdir -p "$pkg/s2s_batch"
cp api/*.py "$pkg/s2s_batch/"
for part in train export runtime models; do ln -s "$PWD/$part" "$pkg/s2s_batch/$part"; done
# torch first: it loads the CUDA and cuDNN libraries that onnxruntime's provider links to.
export PYTHONPATH="/tmp/site:$pkg" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/device.log"
python3 -c "import torch, onnxruntime as o; print('torch', torch.__version__, 'onnxruntime', o.__version__, o.get_available_providers())" \
  | tee -a "$OUT/device.log"
lscpu | grep -E "Model name" | tee -a "$OUT/device.log"

cli() { python3 -c "import torch; from s2s_batch.runtime.cli import main; main()" "$@"; }
test=${TEST:-runs/heldout-cased/test.en}
for beam in 1 4; do
  for device in cpu cuda; do
    cli translate "$test" -o "/tmp/out.$device.$beam" --device "$device" --beam-size "$beam" --no-split-sentences $CLI_FLAGS 2>&1 | tail -1 \
      | sed "s/^/beam $beam $device: /" | tee -a "$OUT/device.log"
  done
  echo "beam $beam: $(cmp -s /tmp/out.cpu.$beam /tmp/out.cuda.$beam && echo same || \
    echo "$(diff /tmp/out.cpu.$beam /tmp/out.cuda.$beam | grep -c '^<') lines differ") on CUDA as on CPU" \
    | tee -a "$OUT/device.log"
done
(cd bench && timeout 420 python3 cuda_greedy.py --fp16 ../runs/bundle-fp16 --input "../${BENCH_INPUT:-$test}") 2>&1 \
  | grep -v Warning | tee "$OUT/cuda_greedy.log"
