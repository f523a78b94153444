"""The JavaScript harness of a function trial (issue 35), as the text `trial` writes into the sandbox.

The same protocol as the Python harness (`harness`): node reads the input file, runs every
candidate of every function against its examples and appends one JSON line per event to the
results file. Each candidate is judged in a fresh `vm` context that holds the project's other
scripts (each loaded in a try, so a page script touching `document` still leaves its functions
defined), the plan's constants, the siblings (the kept candidate of those judged before, the
first of those after) and the candidate itself; each call runs under `vm`'s `timeout`, in a
fresh empty working folder with the example's files written first, `console.log` captured.
Values are compared after a JSON round trip (undefined as null), numbers within a relative 1e-6,
and the choice and the agreement rule are those of `harness.choose` / `harness.agreement`.
"""

from __future__ import annotations

__all__ = ["NODE_HARNESS"]

NODE_HARNESS = r"""
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const util = require('util');
const vm = require('vm');

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const timeout = Math.max(1, Math.round(spec.call_timeout * 1000));
const OUTPUT = 20000, SHOWN = 1000, GOT = 2000;

function write(record) { fs.appendFileSync(spec.out, JSON.stringify(record) + '\n'); }

function describe(e) {
  if (e && e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return 'timeout';
  try {
    if (e && typeof e === 'object' && 'message' in e) return (String(e.name || 'Error') + ': ' + String(e.message)).slice(0, 500);
    return ('Error: ' + String(e)).slice(0, 500);
  } catch (_) { return 'Error: (unprintable)'; }
}

function canonical(value) {
  if (Array.isArray(value)) return '[' + value.map(canonical).join(', ') + ']';
  if (value && typeof value === 'object') {
    return '{' + Object.keys(value).sort().map(k => JSON.stringify(k) + ': ' + canonical(value[k])).join(', ') + '}';
  }
  return JSON.stringify(value);
}

function replacer(key, value) {
  if (value instanceof Set || (value && value.constructor && value.constructor.name === 'Set')) return Array.from(value);
  if (value instanceof Map || (value && value.constructor && value.constructor.name === 'Map')) return Object.fromEntries(value);
  return value;
}

function plain(value) {
  try {
    const text = JSON.stringify(value === undefined ? null : value, replacer);
    const got = JSON.parse(text === undefined ? 'null' : text);
    return [got, canonical(got), true];
  } catch (_) {
    let shown;
    try { shown = util.inspect(value).slice(0, 300); } catch (__) { shown = '<value>'; }
    return [shown, 'repr:' + shown, false];
  }
}

function same(got, expected) {
  if (typeof expected === 'boolean' || typeof got === 'boolean') return got === expected;
  if (typeof expected === 'number' && typeof got === 'number') {
    return got === expected || Math.abs(got - expected) <= Math.max(1e-6 * Math.max(Math.abs(got), Math.abs(expected)), 1e-9);
  }
  if (Array.isArray(expected) && Array.isArray(got)) {
    return got.length === expected.length && got.every((g, i) => same(g, expected[i]));
  }
  if (expected && got && typeof expected === 'object' && typeof got === 'object' && !Array.isArray(expected) && !Array.isArray(got)) {
    const a = Object.keys(got).sort(), b = Object.keys(expected).sort();
    return a.length === b.length && a.every((k, i) => k === b[i] && same(got[k], expected[k]));
  }
  return got === expected;
}

function normal(text) { return String(text).split(/\s+/).filter(Boolean).join(' '); }

function score(run, checked) {
  const results = run.results || [];
  return checked.filter(i => i < results.length && results[i].ok).length;
}

function choose(runs, checked) {
  if (!runs.length) return -1;
  const scores = runs.map(r => score(r, checked));
  let pool = runs.map((r, i) => i).filter(i => !runs[i].error);
  if (!pool.length) pool = runs.map((r, i) => i);
  for (const i of pool) if (scores[i] === checked.length) return i;
  let best = pool[0];
  for (const i of pool) if (scores[i] > scores[best]) best = i;
  return best;
}

function doubted(runs, examples) {
  const out = new Set();
  if (runs.length < 2) return out;
  examples.forEach((example, index) => {
    if (example.suspect || example.value === false) return;
    const results = runs.map(r => (r.results || [])[index]);
    if (results.some(r => r && r.ok)) return;
    const keys = results.filter(r => r && !r.error && r.key !== null && r.key !== undefined).map(r => r.key);
    if (!keys.length) return;
    const counts = new Map();
    keys.forEach(k => counts.set(k, (counts.get(k) || 0) + 1));
    let key = keys[0];
    for (const k of keys) if (counts.get(k) > counts.get(key)) key = k;
    const count = counts.get(key);
    if (count < 2 || count * 2 <= keys.length) return;
    if (!key.startsWith('repr:') && same(JSON.parse(key), example.expected)) return;
    out.add(index);
  });
  return out;
}

function decide(runs, examples) {
  const doubt = doubted(runs, examples);
  const checked = examples.map((e, i) => i).filter(i => !examples[i].suspect && !doubt.has(i));
  return choose(runs, checked);
}

const scripts = (spec.scripts || []).map(p => {
  try { return [p, fs.readFileSync(path.join(spec.root, p), 'utf8')]; } catch (_) { return [p, '']; }
});

function context(printed) {
  const say = (...args) => { if (printed.text.length < OUTPUT) printed.text += util.format(...args) + '\n'; };
  const module = { exports: {} };
  return vm.createContext({
    console: { log: say, info: say, debug: say, warn: () => {}, error: () => {} },
    require, module, exports: module.exports, setTimeout, clearTimeout, setInterval, clearInterval,
  });
}

function define(ctx, source, where) {
  try { vm.runInContext(source, ctx, { timeout, filename: where }); return ''; } catch (e) { return describe(e); }
}

function call(ctx, printed, name, example) {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'example-'));
  for (const [relative, text] of Object.entries(example.files || {})) {
    const target = path.resolve(folder, relative);
    if (!target.startsWith(folder + path.sep)) continue;
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, String(text));
  }
  printed.text = '';
  let value = null, error = '';
  try {
    process.chdir(folder);
    value = vm.runInContext(name + '(...' + JSON.stringify(example.args) + ')', ctx, { timeout });
  } catch (e) {
    error = describe(e);
  } finally {
    process.chdir(spec.root);
    fs.rmSync(folder, { recursive: true, force: true });
  }
  const text = printed.text;
  let got = null, key = null, isPlain = false;
  if (!error) [got, key, isPlain] = plain(value);
  let ok = !error;
  if (ok && example.value !== false) ok = isPlain && same(got, example.expected);
  if (ok && example.stdout !== null && example.stdout !== undefined) ok = normal(text).includes(normal(example.stdout));
  if (key !== null && key.length > GOT) got = key.slice(0, GOT) + '...';
  return { ok: !!ok, got, error, stdout: text.slice(0, SHOWN), key };
}

function runCandidate(index, source, siblings) {
  const fn = spec.functions[index];
  const printed = { text: '' };
  const ctx = context(printed);
  for (const [p, text] of scripts) define(ctx, text, p);
  for (const line of spec.constants || []) define(ctx, line, '<constant>');
  for (const sibling of siblings) if (sibling) define(ctx, sibling, '<sibling>');
  let error = define(ctx, source, '<' + fn.name + '>');
  if (!error) {
    let kind = 'undefined';
    try { kind = vm.runInContext('typeof ' + fn.name, ctx, { timeout }); } catch (_) { /* left undefined */ }
    if (kind !== 'function') error = 'ReferenceError: the candidate does not define ' + fn.name;
  }
  if (error) {
    return { error, results: fn.examples.map(() => ({ ok: false, got: null, error, stdout: '', key: null })) };
  }
  return { error: '', results: fn.examples.map(e => call(ctx, printed, fn.name, e)) };
}

const kept = {};
spec.functions.forEach((fn, index) => {
  const siblings = spec.functions
    .map((f, j) => (j === index ? undefined : j < index ? kept[f.name] : f.candidates[0]))
    .filter((s, j) => j !== index);
  const runs = [];
  fn.candidates.forEach((source, i) => {
    const number = i + 1;
    let run = ((spec.given || {})[fn.name] || {})[String(number)];
    if (!run) {
      write({ start: [fn.name, number] });
      run = runCandidate(index, source, siblings);
      write({ run: Object.assign({ function: fn.name, number }, run) });
    }
    runs.push(run);
  });
  const chosen = decide(runs, fn.examples);
  kept[fn.name] = chosen >= 0 ? fn.candidates[chosen] : null;
});
write({ done: true });
process.exit(0);
"""
