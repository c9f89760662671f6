#!/usr/bin/env bash
# One GPU call (run from the repo root there): install carried wheels (.whl/), unpack .gpu/data.zip, the arms of the
# study file STUDY (recipes/studies/gpu_stage*.toml) side by side to a shared deadline (TRAIN_S seconds after the start),
# then bench/gpu_check.py if time is left.
START=$(date +%s)
[ -n "$SKIP_PIP" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, fastai, librosa, soundfile, soxr, simple_speaker_embedding.learner, simple_speaker_embedding.distill; print('torch', torch.__version__, 'fastai', fastai.__version__, 'librosa', librosa.__version__)" || exit 1
rm -rf /tmp/bar /tmp/gout /tmp/logs
[ -d /tmp/mels ] || python3 scripts/gpu/unpack.py .gpu/data.zip /tmp/mels || exit 1
echo "unpacked at +$(( $(date +%s) - START )) s"
STUDY=${STUDY:-recipes/studies/gpu_stage4.toml}
ARMS=$(python3 scripts/ablation.py "$STUDY" --arms) || exit 1      # `arm recipe` a line
export MELS=/tmp/mels DEADLINE=$((START + ${TRAIN_S:-455})) NPROCS=$(echo "$ARMS" | wc -l) BARRIER=/tmp/bar THREADS=${THREADS:-2} DEVICE=${DEVICE:-cuda} OUTDIR=/tmp/gout PROBE=${PROBE:-30}
mkdir -p /tmp/gout /tmp/logs
while read -r n recipe; do python3 scripts/gpu/train_one.py "$n" "$recipe" > /tmp/logs/$n.log 2>&1 & done <<< "$ARMS"
while [ -n "$(jobs -r)" ]; do sleep 20; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done
wait
echo "training done at +$(( $(date +%s) - START )) s"
grep -h "\] \(data\|probe\|slowest\|done\)" /tmp/logs/*.log; grep -h -i -B2 "error\|Traceback" /tmp/logs/*.log | tail -30
for n in $(echo "$ARMS" | cut -d' ' -f1); do cp /tmp/gout/$n.pt $OUT/ 2>/dev/null; cp /tmp/gout/$n/history.csv /tmp/logs/$n.history.csv 2>/dev/null; done
tar czf $OUT/logs.tgz -C /tmp logs
LEFT=$(( START + ${CHECK_END:-580} - $(date +%s) ))
if [ $LEFT -gt 30 ]; then timeout $LEFT python3 bench/gpu_check.py --steps 20 > $OUT/gpu_check.txt 2>&1; cat $OUT/gpu_check.txt | tail -40; fi
echo "all done at +$(( $(date +%s) - START )) s"
