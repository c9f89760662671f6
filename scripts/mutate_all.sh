#!/usr/bin/env bash
# The mutation run of issue 48: a seeded sample of mutants in each module the issue names (the functions it changed),
# each against the tests a developer would name for it. One module at a time, one thread; a module whose result file
# exists is skipped (rerun after an interruption). Results: runs/mutants/<module>.json; summary: docs/results/mutants.json.
# Modules after stream (whose tests take about a minute a mutant on a busy machine) get 8 mutants; a run past TIMEOUT counts as killed
# (a mutant that loops forever is caught that way).
#     bash scripts/mutate_all.sh            (N=20 mutants a module, SEED=0, TIMEOUT=150 s)
set -uo pipefail
N=${N:-20}; SEED=${SEED:-0}; OUT=${OUT:-runs/mutants}; TIMEOUT=${TIMEOUT:-150}
mkdir -p "$OUT"
m() {   # module --only FUNCS... --tests TESTS...
  local mod=$1; shift
  [ -f "$OUT/$mod.json" ] || OMP_NUM_THREADS=1 python scripts/mutate.py "simple_speaker_embedding/$mod.py" "$@" \
      --sample "$N" --seed "$SEED" --timeout "$TIMEOUT" --out "$OUT/$mod.json" > "$OUT/$mod.log" 2>&1
  tail -1 "$OUT/$mod.log"
}
m loss      --only __init__ forward logits similarity group_by_speaker --tests tests/test_loss.py
m hub       --only average_checkpoints load_checkpoint --tests tests/test_hub.py tests/test_decisions.py
N=8 m data --only held_out_speakers split_by_speaker get_idxs _pick speaker_dataloaders _client_groups \
            --tests tests/test_properties.py tests/test_data.py tests/test_degrade.py --select "held or share or client or batch or split"
m stream    --tests tests/test_stream.py tests/test_properties.py
N=8 m track --only _decide _open _assign _merge _live enrol segments _windows _flush --tests tests/test_track.py tests/test_properties.py
N=8 m metrics --only eer threshold_at_fa _roc min_dcf --tests tests/test_evaluate.py tests/test_calibrate.py tests/test_properties.py
N=8 m calibrate --only calibrate_model --tests tests/test_calibrate.py
N=8 m diarize --only _no_short_turns overlap_segments resegment window_segments cluster_windows estimate_speakers affinity --tests tests/test_diarize.py tests/test_meetings.py
N=8 m store --only load_stores _shard_one _done _degrade_plan pack_mels --tests tests/test_store.py tests/test_stores.py tests/test_degrade.py
N=8 m callbacks --only after_epoch before_fit after_batch before_batch value --tests tests/test_resume.py tests/test_tracking.py
N=8 m learner --only speaker_centroids check_run ge2e_learner finish_training --tests tests/test_training.py tests/test_provenance.py
N=8 m commands --only listen_cmd --tests tests/test_track.py --select listen
python - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = {p.stem: json.loads(p.read_text()) for p in sorted(Path(sys.argv[1]).glob("*.json"))}
Path("docs/results/mutants.json").write_text(json.dumps(out, indent=1))
for k, v in out.items(): print(f"{k:10s} {sum(r['killed'] for r in v)}/{len(v)} killed; survivors: " + "; ".join(r['mutant'] for r in v if not r['killed']))
PY
