#!/usr/bin/env bash
# The prepared GPU run: train the teacher on the lent device in about 8 minutes and send
# its averaged checkpoint back through $OUT (float16 parts, train/transport.py).
#
# Once, here (the corpus does not travel from ../shared, and must not be committed):
#   mkdir -p .devdata && cp ../shared/data/fra-eng/fra.txt ../shared/data/fra-eng/_about.txt .devdata/
#   grep -qx '/.devdata/' .git/info/exclude || echo /.devdata/ >> .git/info/exclude
# The device tool's call: run(command="bash train/device_teacher.sh", carry=[".devdata"], timeout_s=600)
# Then, here: python -m s2s_batch.train.transport unpack FILES_AT runs/teacher-gpu/averaged.pt
#             s2s-export runs/teacher-gpu/averaged.pt -o runs/bundle-teacher-gpu
#
# The device's python3 holds torch, onnx, onnxruntime, sentencepiece, sacrebleu, click and
# tqdm (/work/.library/device/KINDS.md); this package is put on its path without pip.
# TIME_S bounds the training (the last finished epoch's averaged.pt is packed);
# EXTRA adds or overrides s2s-train flags, DEVICE=cpu tries the script here.
set -uo pipefail
: "${OUT:?set OUT: the folder whose files come back}"
DATA=${DATA:-.devdata/fra.txt}
DEVICE=${DEVICE:-cuda}
TIME_S=${TIME_S:-420}
RUN=${RUN:-/tmp/teacher}

pkg=$(mktemp -d)
mkdir -p "$pkg/s2s_batch"
cp api/*.py "$pkg/s2s_batch/"
for part in train export runtime models; do ln -s "$PWD/$part" "$pkg/s2s_batch/$part"; done
export PYTHONPATH="$pkg" PYTHONUNBUFFERED=1
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee "$OUT/device.log"

# The teacher recipe of docs/default-model.md, sized for the GPU: batches of 256.
# shellcheck disable=SC2086
timeout "$TIME_S" python3 -m s2s_batch.train.cli --data "$DATA" --out "$RUN" --device "$DEVICE" \
  --tokenizer sentencepiece --spm-vocab-size 8000 --num-steps 48 --max-decode-len 64 \
  --label-smoothing 0.1 --attention general --attention-placement after-cell --bidirectional \
  --hidden-size 512 --embed-size 256 --dropout 0.3 --batch-size 256 --lr 0.001 --warmup-steps 500 \
  --epochs 30 --average-last 3 --quiet ${EXTRA:-} 2>&1 | tee -a "$OUT/device.log"
echo "training ended with status ${PIPESTATUS[0]} (124: stopped at TIME_S=$TIME_S)" | tee -a "$OUT/device.log"
cp "$RUN/metrics.jsonl" "$OUT/" 2>/dev/null
python3 -m s2s_batch.train.transport pack "$RUN/averaged.pt" "$OUT" | tee -a "$OUT/device.log"
