#!/usr/bin/env bash
# onnxruntime-gpu for the GPU machine, where nothing can be installed from the network:
# its wheel unpacked without the TensorRT provider (unused), re-packed with xz (the cuDNN
# and cuBLAS it links to come with the machine's torch) and split into parts of SIZE that
# travel one call each (bench/device_cuda.sh says how). Run once, in the repo's root.
set -euo pipefail
VERSION=${VERSION:-1.31.1}
SIZE=${SIZE:-60M}
work=$(mktemp -d)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 -d "$work" "onnxruntime-gpu==$VERSION"
(cd "$work" && unzip -q onnxruntime_gpu-*.whl && rm onnxruntime/capi/libonnxruntime_providers_tensorrt.so \
  && tar cf - onnxruntime onnxruntime_gpu-*.dist-info | xz -9 -T0 > ort.tar.xz)
rm -rf .ortgpu*
(cd "$work" && split -b "$SIZE" -d ort.tar.xz ort.tar.xz.part)
i=1
for part in "$work"/ort.tar.xz.part*; do
  mkdir -p ".ortgpu$i" && mv "$part" ".ortgpu$i/" && i=$((i + 1))
done
grep -qx '/.ortgpu\*/' .git/info/exclude 2>/dev/null || echo '/.ortgpu*/' >> .git/info/exclude
rm -rf "$work"
du -sh .ortgpu*
