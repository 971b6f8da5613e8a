#!/usr/bin/env bash
# Regenerates docs/quality/: the `structkv eval` runs behind the published
# report, then the plots and report.md. Every step is resumable (answers
# already in docs/quality/data/*.jsonl are skipped), so the script can be
# killed and restarted, and the steps run in the order they were run for the
# report. On 2 shared cores the whole sequence takes hours; the report shows
# whatever is finished.
#   tools/scripts/quality_run.sh           # runs, then the report
#   tools/scripts/quality_run.sh --report  # the report only
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${STRUCTKV:-build/tools/structkv}
M=${MODEL:-models-cache/gemma-3-270m-q4_k_m.gguf}
OUT=docs/quality/data
T=${THREADS:-1}
ALL_TASKS=niah_single_1,niah_single_2,niah_single_3,niah_multikey_1,niah_multikey_2,niah_multikey_3,niah_multivalue,niah_multiquery,vt,cwe,fwe,qa
# The tasks the uncompressed model scores above zero on at 2K (step 1): a
# task it cannot do says nothing about compression.
SWEEP_TASKS=${SWEEP_TASKS:-niah_single_1,niah_single_2,niah_multikey_1,niah_multivalue,niah_multiquery,fwe}
COMMON=(-m "$M" -t "$T" --max-new-tokens 48 --out "$OUT")

if [ "${1:-}" != "--report" ]; then
  # 1. The uncompressed model on every task (2 samples of the first tasks, 1 of the rest).
  "$B" eval "${COMMON[@]}" --tasks niah_single_1,niah_single_2,niah_single_3,niah_multikey_1,niah_multikey_2 \
    --methods full --lengths 2048 --mode agnostic,aware --samples 2
  "$B" eval "${COMMON[@]}" --tasks "$ALL_TASKS" --methods full --lengths 2048 --mode agnostic,aware --samples 1
  # 2. Fidelity at 2K: every method x budget.
  "$B" eval -m "$M" -t "$T" --fidelity --methods all --budgets 0.1,0.2,0.5 --lengths 2048 --out "$OUT"
  # 3. Needle heatmaps.
  "$B" eval "${COMMON[@]}" --tasks needle --methods full,snapkv,structkv --budgets 0.2 \
    --lengths 1024,2048 --mode agnostic
  # 4. The method sweep at 2K, in order of priority.
  S=("${COMMON[@]}" --tasks "$SWEEP_TASKS" --lengths 2048 --methods all)
  "$B" eval "${S[@]}" --budgets 0.2 --mode agnostic,aware --samples 1
  "$B" eval "${S[@]}" --budgets 0.1,0.5 --mode agnostic --samples 1
  "$B" eval "${S[@]}" --budgets 0.2 --mode agnostic,aware --samples 2
  "$B" eval "${S[@]}" --budgets 0.1,0.5 --mode aware --samples 1
  # 5. 4K.
  "$B" eval -m "$M" -t "$T" --fidelity --methods all --budgets 0.2 --lengths 4096 --out "$OUT"
  "$B" eval "${COMMON[@]}" --tasks needle --methods full,snapkv,structkv --budgets 0.2 \
    --lengths 4096 --mode agnostic
  # 6. (2026-11-23, session 4) KVCompose's rows were dropped from data/ after its budget fix
  #    (f3eff37: the first run's 50% rows had compressed nothing); steps 2 and 4 redo them.
  # 7. In order of priority: the method sweep at 4K (20%, both modes), 8K fidelity and needle,
  #    the other Debian haystacks (niah_single_2 at 2K, 20%), then 4K at 10% and 50%.
  S4=("${COMMON[@]}" --tasks "$SWEEP_TASKS" --methods all --samples 1)
  "$B" eval "${S4[@]}" --lengths 4096 --budgets 0.2 --mode agnostic,aware
  "$B" eval -m "$M" -t "$T" --fidelity --methods all --budgets 0.2 --lengths 8192 --out "$OUT"
  "$B" eval "${COMMON[@]}" --tasks needle --methods full,snapkv,structkv --budgets 0.2 \
    --lengths 8192 --mode aware
  for H in gcide fortunes; do
    "$B" eval "${COMMON[@]}" --tasks niah_single_2 --methods all --budgets 0.2 --lengths 2048 \
      --mode agnostic,aware --samples 1 --haystack "$H"
  done
  # 8. (session 5) 16K before the remaining 4K budgets: fidelity at 20% and the query-aware needle.
  "$B" eval -m "$M" -t "$T" --fidelity --methods all --budgets 0.2 --lengths 16384 --out "$OUT"
  "$B" eval "${COMMON[@]}" --tasks needle --methods full,snapkv,structkv --budgets 0.2 \
    --lengths 16384 --mode aware --depths 0,25,50,75,100
  "$B" eval "${COMMON[@]}" --tasks needle --methods full,snapkv,structkv --budgets 0.2 \
    --lengths 16384 --mode agnostic --depths 0,25,50,75,100
  "$B" eval "${S4[@]}" --lengths 4096 --budgets 0.1,0.5 --mode agnostic,aware
  "$B" eval "${S4[@]}" --lengths 8192 --budgets 0.2 --mode aware
  # Session 7: the 8K grid completed, a second prompt per task at 4K, 16K tasks.
  "$B" eval "${S4[@]}" --lengths 8192 --budgets 0.1,0.2,0.5 --mode agnostic,aware
  "$B" eval "${COMMON[@]}" --tasks "$SWEEP_TASKS" --methods all --samples 2 --lengths 4096 \
    --budgets 0.1,0.2,0.5 --mode agnostic,aware
  "$B" eval "${S4[@]}" --lengths 16384 --budgets 0.2 --mode agnostic,aware
  # Session 8: 16K at 10% and 50%: query-aware, then query-agnostic on the two tasks the
  # uncompressed model still scores on at 16K (finding 18), then the rest.
  "$B" eval "${S4[@]}" --lengths 16384 --budgets 0.1,0.5 --mode aware
  "$B" eval "${COMMON[@]}" --tasks fwe,niah_multivalue --methods all --samples 1 --lengths 16384 \
    --budgets 0.1,0.5 --mode agnostic
  "$B" eval "${S4[@]}" --lengths 16384 --budgets 0.1,0.5 --mode agnostic
fi
.venv/bin/python tools/scripts/eval_report.py "$OUT" --out docs/quality \
  --title "Quality of KV compression on Gemma 3 270M (generated)" \
  --preamble docs/quality/preamble.md
