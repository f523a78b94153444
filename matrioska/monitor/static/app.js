// Matrioska monitor. Everything that comes from a model is put on the page as text
// (textContent / createTextNode), never as markup, and never as a link target.
"use strict";

const $ = (id) => document.getElementById(id);
let current = null;
let source = null;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

async function loadRuns() {
  const runs = await api("/api/runs");
  const list = $("runs");
  list.replaceChildren();
  for (const run of runs) {
    const item = el("li");
    item.dataset.thread = run.thread_id;
    item.appendChild(el("strong", run.project_name || run.task || run.thread_id));
    item.appendChild(el("div", `${run.thread_id} · ${run.status} · ${run.completed}/${run.total}`, "muted"));
    if (current === run.thread_id) item.classList.add("selected");
    item.addEventListener("click", () => select(run.thread_id));
    list.appendChild(item);
  }
  if (!current && runs.length) select(runs[0].thread_id);
}

function select(thread) {
  current = thread;
  for (const item of $("runs").children) item.classList.toggle("selected", item.dataset.thread === thread);
  if (source) source.close();
  source = new EventSource(`/api/runs/${encodeURIComponent(thread)}/events`);
  source.addEventListener("state", () => { refresh(); loadRuns(); });
  source.addEventListener("rate", (event) => {
    const rate = JSON.parse(event.data);
    $("run-rate").textContent = `${rate.module}: ${rate.tokens} tokens, ${rate.tokens_per_second} tok/s`;
  });
  source.onerror = () => { $("connection").textContent = "reconnecting…"; };
  source.onopen = () => { $("connection").textContent = "live"; };
  refresh();
}

async function refresh() {
  if (!current) return;
  const run = await api(`/api/runs/${encodeURIComponent(current)}`);
  $("run").hidden = false;
  $("run-title").textContent = run.project_name || run.thread_id;
  $("run-task").textContent = run.task;
  $("run-status").textContent = run.status;
  $("run-status").dataset.status = run.status;
  if (!run.rate) $("run-rate").textContent = "";
  $("zip").hidden = !run.zip;
  $("resume").hidden = run.status !== "stopped";
  drawGraph(run.modules);
  drawWhiteboard(run.shared_state);
  drawFiles(run);
  drawConsistency(run.consistency);
  drawVerification(run.verification);
  drawReview(run.pending_review);
}

function levels(modules) {
  const byId = new Map(modules.map((m) => [m.id, m]));
  const depth = new Map();
  const visit = (id, seen) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0;
    seen.add(id);
    const deps = (byId.get(id) || { dependencies: [] }).dependencies.filter((d) => byId.has(d));
    const d = deps.length ? 1 + Math.max(...deps.map((x) => visit(x, seen))) : 0;
    depth.set(id, d);
    return d;
  };
  modules.forEach((m) => visit(m.id, new Set()));
  return depth;
}

function drawGraph(modules) {
  const svg = $("graph");
  const NS = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const depth = levels(modules);
  const columns = new Map();
  const position = new Map();
  const W = 150, H = 36, GX = 60, GY = 16;
  for (const m of modules) {
    const d = depth.get(m.id) || 0;
    const row = columns.get(d) || 0;
    columns.set(d, row + 1);
    position.set(m.id, { x: 10 + d * (W + GX), y: 10 + row * (H + GY) });
  }
  const rows = Math.max(1, ...columns.values());
  svg.setAttribute("height", String(20 + rows * (H + GY)));
  svg.setAttribute("width", String(20 + columns.size * (W + GX)));
  for (const m of modules) {
    for (const dep of m.dependencies) {
      const a = position.get(dep), b = position.get(m.id);
      if (!a || !b) continue;
      const path = document.createElementNS(NS, "path");
      path.setAttribute("class", "edge");
      path.setAttribute("d", `M${a.x + W},${a.y + H / 2} C${a.x + W + GX / 2},${a.y + H / 2} ${b.x - GX / 2},${b.y + H / 2} ${b.x},${b.y + H / 2}`);
      svg.appendChild(path);
    }
  }
  for (const m of modules) {
    const p = position.get(m.id);
    const group = document.createElementNS(NS, "g");
    group.setAttribute("class", `node status-${m.status}`);
    group.setAttribute("data-module", m.id);
    group.setAttribute("data-status", m.status);
    const rect = document.createElementNS(NS, "rect");
    rect.setAttribute("x", p.x); rect.setAttribute("y", p.y);
    rect.setAttribute("width", W); rect.setAttribute("height", H);
    const label = document.createElementNS(NS, "text");
    label.setAttribute("x", p.x + 8); label.setAttribute("y", p.y + 15);
    label.textContent = m.name.length > 22 ? m.name.slice(0, 21) + "…" : m.name;
    const state = document.createElementNS(NS, "text");
    state.setAttribute("x", p.x + 8); state.setAttribute("y", p.y + 29);
    state.textContent = m.status + (m.attempts > 1 ? ` (${m.attempts} attempts)` : "");
    const title = document.createElementNS(NS, "title");
    title.textContent = `${m.id}\nreads: ${m.reads.join(", ")}\nwrites: ${m.writes.join(", ")}${m.problems.length ? "\n" + m.problems.join("\n") : ""}${m.candidates_line ? "\n" + m.candidates_line : ""}${m.contract ? "\ncontract:\n" + m.contract : ""}${m.interface ? "\ninterface:\n" + m.interface : ""}`;
    group.append(rect, label, state, title);
    // a module's own view (its artifact, interface and candidates), once it has an artifact
    group.addEventListener("click", () => {
      if (m.status === "waiting" || m.status === "running") return;
      openArtifact(m.id, null).catch((error) => { $("viewer-title").textContent = error.message; });
    });
    svg.appendChild(group);
  }
}

function drawWhiteboard(rows) {
  const body = $("whiteboard").tBodies[0];
  body.replaceChildren();
  for (const row of rows) {
    const tr = el("tr");
    tr.appendChild(el("td", row.key));
    tr.appendChild(el("td", row.writer || "-"));
    tr.appendChild(el("td", row.readers.join(", ") || "-"));
    const cell = el("td");
    cell.appendChild(el("pre", row.value));
    tr.appendChild(cell);
    body.appendChild(tr);
  }
}

function drawFiles(run) {
  const list = $("artifacts");
  list.replaceChildren();
  for (const artifact of run.artifacts) {
    const button = el("button", `artifact: ${artifact.module} (${artifact.chars} chars)`);
    button.dataset.module = artifact.module;
    button.addEventListener("click", () => openArtifact(artifact.module, null));
    const item = el("li"); item.appendChild(button); list.appendChild(item);
  }
  for (const file of run.files) {
    const button = el("button", file.path);
    button.dataset.file = file.path;
    button.addEventListener("click", () => openArtifact(file.module, file.path));
    const item = el("li"); item.appendChild(button); list.appendChild(item);
  }
}

const KEYWORDS = new Set("function return const let var if else for while class def import from export async await new try except catch finally raise throw in of not and or None null true false True False self this".split(" "));

function highlight(code) {
  // Tokens become text nodes inside spans: the code is shown, never interpreted.
  const pre = el("pre");
  const pattern = /(\/\/[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\/)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_$][\w$]*)/g;
  let last = 0, match;
  while ((match = pattern.exec(code)) !== null) {
    if (match.index > last) pre.appendChild(document.createTextNode(code.slice(last, match.index)));
    let cls = null;
    if (match[1]) cls = "tok-com"; else if (match[2]) cls = "tok-str"; else if (match[3]) cls = "tok-num";
    else if (KEYWORDS.has(match[4])) cls = "tok-kw";
    pre.appendChild(cls ? el("span", match[0], cls) : document.createTextNode(match[0]));
    last = pattern.lastIndex;
  }
  if (last < code.length) pre.appendChild(document.createTextNode(code.slice(last)));
  return pre;
}

async function openArtifact(module, path) {
  const data = await api(`/api/runs/${encodeURIComponent(current)}/artifacts/${encodeURIComponent(module)}`);
  const body = $("viewer-body");
  body.replaceChildren();
  if (path) {
    const file = data.files.find((f) => f.path === path);
    $("viewer-title").textContent = path;
    body.appendChild(highlight(file ? file.content : ""));
  } else {
    $("viewer-title").textContent = `artifact of ${module}`;
    if (data.interface) {
      body.appendChild(el("h3", "Interface (what the modules that depend on it build against)"));
      const face = el("pre", data.interface);
      face.className = "interface";
      body.appendChild(face);
    }
    drawFunctions(body, data);
    drawCandidates(body, data);
    if (data.interface || (data.candidates || []).length) body.appendChild(el("h3", "Artifact"));
    body.appendChild(highlight(data.text));
  }
}

function drawFunctions(body, data) {
  // a module written function by function: each function, its examples, whether the kept candidate passes
  const plan = data.functions;
  if (!plan) return;
  const section = el("div", null, "functions");
  section.appendChild(el("h3", "Functions (each written alone, chosen by running its examples)"));
  if (plan.line) section.appendChild(el("p", plan.line, "muted functions-line"));
  const table = el("table", null, "functions-table");
  const head = el("tr");
  for (const name of ["function", "examples", "candidates", "chosen", "why they failed"]) head.appendChild(el("th", name));
  table.appendChild(el("thead")).appendChild(head);
  const rows = el("tbody");
  for (const f of plan.functions) {
    const tr = el("tr", null, f.passing ? "kept" : "");
    tr.dataset.function = f.name;
    tr.append(
      el("td", `${f.signature}\n${f.purpose}`),
      el("td", f.examples.join("\n")),
      el("td", f.candidates),
      el("td", f.passing ? "✓" : f.chosen ? "✓ (consensus)" : "✗"),
      el("td", (f.why || []).join("\n")),
    );
    rows.appendChild(tr);
  }
  table.appendChild(rows);
  section.appendChild(table);
  if (plan.commands.length) section.appendChild(el("p", `commands: ${plan.commands.join(", ")}`, "muted"));
  body.appendChild(section);
}

function drawCandidates(body, data) {
  // best of N: the module's candidates, which one was kept, and the rejected ones' text
  const candidates = data.candidates || [];
  if (!candidates.length) return;
  const section = el("div", null, "candidates");
  section.appendChild(el("h3", `Candidates (${data.samples} per attempt)`));
  if (data.candidates_line) section.appendChild(el("p", data.candidates_line, "muted candidates-line"));
  const table = el("table", null, "candidates-table");
  const head = el("tr");
  for (const name of ["attempt", "#", "problems", "checked", "kept", "first problem"]) head.appendChild(el("th", name));
  table.appendChild(el("thead")).appendChild(head);
  const rows = el("tbody");
  for (const c of candidates) {
    const tr = el("tr", null, c.kept ? "kept" : "");
    tr.dataset.attempt = String(c.attempt);
    tr.dataset.number = String(c.number);
    const checked = c.checked
      ? (c.checks.length && c.checks.every((k) => k.ok) ? "passed" : c.checks.length ? "FAILED" : "yes")
      : "no";
    tr.append(
      el("td", c.attempt === 0 ? "0 (previous files)" : c.attempt),
      el("td", c.number),
      el("td", c.problems),
      el("td", checked),
      el("td", c.kept ? "✓ kept" : ""),
      el("td", c.problem_list[0] || ""),
    );
    rows.appendChild(tr);
  }
  table.appendChild(rows);
  section.appendChild(table);
  for (const c of candidates) {
    if (c.kept || !c.artifact) continue;
    const details = el("details", null, "candidate");
    details.dataset.attempt = String(c.attempt);
    details.dataset.number = String(c.number);
    const label = c.attempt === 0 ? "previous files" : `attempt ${c.attempt} #${c.number}`;
    details.appendChild(el("summary", `rejected candidate: ${label}, ${c.problems} problems, ${c.chars} chars`));
    if (c.problem_list.length) details.appendChild(el("p", c.problem_list.join("\n"), "candidate-problems"));
    details.appendChild(el("pre", c.artifact));
    section.appendChild(details);
  }
  body.appendChild(section);
}

function drawConsistency(rows) {
  const body = $("consistency").tBodies[0];
  body.replaceChildren();
  for (const row of rows) {
    const tr = el("tr", null, row.status === "broken" ? "broken" : "");
    tr.append(el("td", row.contract), el("td", row.status), el("td", row.where), el("td", row.problem || ""));
    body.appendChild(tr);
  }
}

function drawVerification(result) {
  const verdict = $("verdict");
  const body = $("checks").tBodies[0];
  body.replaceChildren();
  if (!result) {
    verdict.textContent = "not run yet";
    verdict.dataset.works = "";
    return;
  }
  const words = { true: "works", false: "does not work", null: "not verified" };
  // the three verdicts a finished run reaches: works, does not work, runs, not checked (no evidence)
  const word = result.verdict || words[String(result.works)];
  const pending = result.status === "fixing" ? ` (fix round ${result.rounds + 1} in progress)` : "";
  verdict.textContent = `verdict: ${word}${pending}; fix rounds used: ${result.rounds}` +
    (result.reason ? ` (${result.reason})` : "");
  verdict.dataset.works = String(result.works);
  verdict.dataset.verdict = word;
  for (const check of result.checks) {
    const tr = el("tr", null, check.ok === false ? "broken" : "");
    const output = el("td");
    output.appendChild(el("pre", check.output));
    const status = check.ok === true ? "passed" : check.ok === false ? "FAILED" : check.inconclusive ? "inconclusive" : "skipped";
    tr.append(el("td", check.kind), el("td", check.command), el("td", status), el("td", check.modules.join(", ")), output);
    body.appendChild(tr);
  }
  // the acceptance scenarios: what the task asked for, run like a user would
  const scenarios = result.acceptance || [];
  if (scenarios.length) {
    const passed = scenarios.filter((s) => s.ok === true).length;
    verdict.textContent += `; acceptance: ${passed}/${scenarios.length} scenarios passed`;
  }
  for (const scenario of scenarios) {
    const tr = el("tr", null, scenario.ok === false ? "broken" : "");
    const output = el("td");
    output.appendChild(el("pre", scenario.output));
    const status = scenario.ok === true ? "passed" : scenario.ok === false ? "FAILED" : "not run";
    tr.append(el("td", `acceptance (${scenario.source})`), el("td", scenario.scenario), el("td", status),
      el("td", (scenario.modules || []).join(", ")), output);
    body.appendChild(tr);
  }
}

let reviewPlan = null;
function drawReview(pending) {
  $("review").hidden = !pending;
  if (!pending) return;
  reviewPlan = pending.plan;
  $("review-error").hidden = !pending.error;
  $("review-error").textContent = pending.error || "";
  // the plan, its contract and its acceptance scenarios, edited as one document (the review reads
  // "contract" and "acceptance")
  const edited = { ...pending.plan, contract: { modules: pending.contract || {} }, acceptance: pending.acceptance || [] };
  if ($("editor").hidden) $("plan-text").value = JSON.stringify(edited, null, 2);
}

async function answer(body) {
  try {
    await api(`/api/runs/${encodeURIComponent(current)}/review`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    $("editor").hidden = true;
  } catch (error) {
    $("review-error").hidden = false;
    $("review-error").textContent = error.message;
  }
}

$("approve").addEventListener("click", () => answer({ action: "approve" }));
$("replan").addEventListener("click", () => answer({ action: "replan", comment: $("comment").value }));
$("edit-toggle").addEventListener("click", () => { $("editor").hidden = !$("editor").hidden; });
$("save-plan").addEventListener("click", () => answer({ action: "edit", plan: $("plan-text").value }));
$("resume").addEventListener("click", async () => {
  try { await api(`/api/runs/${encodeURIComponent(current)}/resume`, { method: "POST" }); }
  catch (error) { $("run-rate").textContent = error.message; }
});

loadRuns().catch((error) => { $("connection").textContent = error.message; });
setInterval(() => loadRuns().catch(() => {}), 5000);
