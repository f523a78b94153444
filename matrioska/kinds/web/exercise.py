"""Exercising a loaded page the way a first-time user would: every visible input filled with a sample
value, every visible button clicked once (at most `MAX_CLICKS`), within the page's time. A small
toolkit injected into the page counts what each click changes (DOM mutations, storage writes, canvas
drawing, input values) next to what the listeners saw (navigations, dialogs, popups, requests); a
button named for an action ("Add", "Save", "Calculate"...) whose click changes nothing at all is a
`silent_button` problem, any other silent button only a note."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from .watch import (
    JS_TIMEOUT,
    PageState,
    action_failure,
    close_quietly,
    evaluate,
    first_line,
    one_line,
)

MAX_CLICKS = 12
CLICK_TIMEOUT = 2.0
CLICK_SETTLE = 0.3
FILL_SETTLE = 0.15
_BUTTONS = "button, input[type=button], input[type=submit], [role=button]"
# The words of a button whose click must visibly do something (English, a little Portuguese and Spanish).
_ACTION_WORDS = re.compile(
    r"\b(?:add|save|submit|create|calculate|compute|search|find|filter|delete|remove|clear|update|edit|register"
    r"|log ?in|sign ?in|send|generate|convert|total|adicionar|salvar|buscar|pesquisar|calcular|excluir|remover"
    r"|guardar|agregar)\b",
    re.IGNORECASE,
)

# Installed once per document: a MutationObserver counting DOM changes, counters of storage writes and
# canvas drawing, and the helpers that fill inputs, pick the next button and take a snapshot. Kept on a
# non-enumerable window property; a navigation drops it (that is how a navigation is told apart).
_TOOLKIT_JS = r"""() => {
  if (window.__matrioska) return false;
  const s = {n: 0, writes: 0, draws: 0, texts: 0, inputs: 0, fields: new WeakSet(), seen: new WeakSet(), target: null};
  Object.defineProperty(window, '__matrioska', {value: s, configurable: true, enumerable: false});
  s.observer = new MutationObserver(records => { s.n += records.length; });
  s.observer.observe(document, {childList: true, attributes: true, characterData: true, subtree: true});
  const wrap = (proto, names, key) => {
    if (!proto) return;
    for (const name of names) {
      const original = proto[name];
      if (typeof original !== 'function') continue;
      proto[name] = function (...args) { s[key] += 1; return original.apply(this, args); };
    }
  };
  wrap(window.Storage && Storage.prototype, ['setItem', 'removeItem', 'clear'], 'writes');
  wrap(window.CanvasRenderingContext2D && CanvasRenderingContext2D.prototype,
       ['fillRect', 'strokeRect', 'clearRect', 'fillText', 'strokeText', 'fill', 'stroke', 'drawImage', 'putImageData'],
       'draws');
  const visible = el => {
    if (!el.isConnected) return false;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) return false;  // as Playwright sees it: an empty box is hidden
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') return false;
    return el.checkVisibility ? el.checkVisibility() : true;
  };
  const SKIP = new Set(['file', 'hidden', 'submit', 'button', 'reset', 'image', 'range', 'color']);
  const FIXED = {email: 'test@example.com', url: 'https://example.com', tel: '555-0100', password: 'Sample-pass1',
                 date: '2026-01-05', time: '09:30', 'datetime-local': '2026-01-05T09:30', month: '2026-01',
                 week: '2026-W02'};
  const sample = el => {
    if (el.tagName === 'TEXTAREA') return `Sample text ${++s.texts}`;
    if (el.type === 'number') {
      let value = 3;
      const min = parseFloat(el.min), max = parseFloat(el.max);
      if (!isNaN(min) && value < min) value = min;
      if (!isNaN(max) && value > max) value = max;
      return String(value);
    }
    if (el.type in FIXED) return FIXED[el.type];
    if (el.inputMode === 'numeric' || el.inputMode === 'decimal') return '3';
    const text = `Sample ${++s.texts}`;
    return el.maxLength > 0 ? text.slice(0, el.maxLength) : text;
  };
  const setValue = (el, value) => {  // through the prototype's setter, so that frameworks see the change
    const proto = {TEXTAREA: HTMLTextAreaElement, SELECT: HTMLSelectElement}[el.tagName] || HTMLInputElement;
    const setter = Object.getOwnPropertyDescriptor(proto.prototype, 'value');
    if (setter && setter.set) setter.set.call(el, value); else el.value = value;
    el.dispatchEvent(new Event('input', {bubbles: true}));
    el.dispatchEvent(new Event('change', {bubbles: true}));
  };
  s.fill = () => {  // every visible, enabled field that is empty; checkboxes and radios the first time seen
    let changed = 0;
    for (const el of document.querySelectorAll('input, textarea, select')) {
      const type = el.tagName === 'INPUT' ? el.type : el.tagName.toLowerCase();
      if (SKIP.has(type) || el.disabled || el.readOnly || !visible(el)) continue;
      if (!s.fields.has(el)) { s.fields.add(el); s.inputs += 1; }
      if (type === 'checkbox' || type === 'radio') {
        if (s.seen.has(el)) continue;
        s.seen.add(el);
        if (el.checked) continue;
        if (type === 'radio' && el.name) {
          const group = [...(el.form || document).querySelectorAll('input[type=radio]')];
          if (group.some(other => other.name === el.name && other.checked)) continue;
        }
        el.click();
        changed += 1;
      } else if (type === 'select') {
        if (el.value !== '') continue;
        const option = [...el.options].find(o => o.value !== '' && !o.disabled);
        if (option) { setValue(el, option.value); changed += 1; }
      } else if (el.value === '') {
        setValue(el, sample(el));
        changed += 1;
      }
    }
    return changed;
  };
  s.pick = done => {  // the first visible, enabled button not clicked yet, in DOM order
    s.target = null;
    for (const el of document.querySelectorAll(%BUTTONS%)) {
      if (el.disabled || el.getAttribute('aria-disabled') === 'true' || !visible(el)) continue;
      const input = el.tagName === 'INPUT';
      const info = {
        tag: el.tagName.toLowerCase(), id: el.id || '',
        text: ((input ? el.value : el.innerText || el.textContent) || '').replace(/\s+/g, ' ').trim().slice(0, 60),
        label: el.getAttribute('aria-label') || '', title: el.getAttribute('title') || '',
        value: input ? '' : el.getAttribute('value') || '', name: el.getAttribute('name') || '',
      };
      info.key = [info.tag, info.id, info.text, info.label, info.title, info.name].join('\u0001');
      if (done.includes(info.key)) continue;
      s.target = el;
      return info;
    }
    return null;
  };
  s.snap = () => {
    s.n += s.observer.takeRecords().length;  // the changes not delivered yet belong before the snapshot
    let values = '';
    for (const el of document.querySelectorAll('input, textarea, select')) {
      values += (el.type === 'checkbox' || el.type === 'radio' ? String(el.checked) : el.value) + '\u0000';
    }
    let hash = 0;
    for (let i = 0; i < values.length; i++) hash = (hash * 31 + values.charCodeAt(i)) | 0;
    const t = s.target;
    const invalid = !!(t && t.isConnected && t.form && t.type === 'submit' && !t.form.checkValidity());
    return {n: s.n, writes: s.writes, draws: s.draws, values: hash, invalid};
  };
  return true;
}""".replace("%BUTTONS%", json.dumps(_BUTTONS))
_PREPARE_JS = (
    "done => { (" + _TOOLKIT_JS + ")(); const s = window.__matrioska; const filled = s.fill();"
    " const info = s.pick(done); return {filled, inputs: s.inputs, info, before: s.snap()}; }"
)


def exercise_page(page: Any, state: PageState, url: str, deadline: float) -> dict[str, int]:
    """Fill every input and click every button of the loaded `page` (at `url`) before `deadline` (a
    `time.monotonic()` value); {"inputs": n, "buttons": n, "acted": n}. Never raises: what goes wrong is a
    note in `state`, a silent action button a problem."""
    return _Exercise(page, state, url, deadline).run()


class _Stop(Exception):
    """The exercise cannot go on (the page stopped responding, its time ran out); the note is written."""


class _Exercise:
    """Fill every input, click every button once: a click that acts not at all is a silent button."""

    def __init__(self, page: Any, state: PageState, url: str, deadline: float) -> None:
        self.page = page
        self.state = state
        self.url = url
        self.deadline = deadline
        self.counts = {"inputs": 0, "buttons": 0, "acted": 0}
        self.done: list[str] = []  # the keys of the buttons clicked (or tried)

    def run(self) -> dict[str, int]:
        """Never raises: what goes wrong is a note."""
        try:
            self._run()
        except _Stop:
            pass
        except Exception as exc:  # noqa: BLE001 (a Playwright error, a page that went away: a note at most)
            self.state.notes.append(one_line(f"the exercise stopped early: {first_line(exc)}"))
        finally:
            self.state.during = ""
        return self.counts

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def js(self, function: str, arg: Any = None, name: str = "", wait: float = JS_TIMEOUT) -> Any:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        wait = min(wait, self.left())
        try:
            return evaluate(self.page, function, arg, wait)
        except PlaywrightTimeout:
            after = f"after clicking the button {name}" if name else "while it was exercised"
            self.note(
                f"the page stopped responding {after} (no answer within {max(wait, 0.2):.1f} s): "
                "a script may never finish; the rest of the page was not exercised"
            )
            raise _Stop from None

    def note(self, text: str) -> None:
        note = one_line(text)
        if note not in self.state.notes:
            self.state.notes.append(note)

    def _run(self) -> None:
        while True:
            if self.left() < 1.0:
                self.note(
                    f"the page's time ran out after {self.counts['buttons']} button click(s); the rest not clicked"
                )
                return
            if _without_fragment(self.page.url) != _without_fragment(self.url):
                self._back_on_the_page()  # a script took the page elsewhere after a click had settled
            # one evaluation: the toolkit installed (if a reload dropped it), inputs filled, next button picked
            prepared = self.js(_PREPARE_JS, self.done)
            self.counts["inputs"] = max(self.counts["inputs"], prepared["inputs"])
            info = prepared["info"]
            if not info:
                return
            if len(self.done) >= MAX_CLICKS:
                self.note(f"only the first {MAX_CLICKS} buttons were clicked (the page has more)")
                return
            self.done.append(info["key"])
            before = prepared["before"]
            if prepared["filled"]:  # what the page does in answer to the new input is no effect of the click
                self.page.wait_for_timeout(min(FILL_SETTLE, max(0.0, self.left())) * 1000)
                before = self.js("() => window.__matrioska.snap()")
            if self._click(info, before):
                self._back_on_the_page()

    def _back_on_the_page(self) -> None:
        """After a navigation: back to the page when it went elsewhere (a reload of the page stays)."""
        wait = max(0.5, self.left()) * 1000
        if _without_fragment(self.page.url) != _without_fragment(self.url):
            self.page.goto(self.url, wait_until="load", timeout=wait)
        else:
            self.page.wait_for_load_state("load", timeout=wait)

    def _click(self, info: dict[str, Any], before: dict[str, Any]) -> bool:
        """Click the button the toolkit picked; whether the page navigated away from its document."""
        from playwright.sync_api import Error as PlaywrightError

        state = self.state
        name = _button_name(info)
        element = self.page.wait_for_function(
            "() => window.__matrioska && window.__matrioska.target", timeout=JS_TIMEOUT * 1000
        ).as_element()
        if element is None:
            return False
        marks = (state.navigations, len(state.dialogs), len(state.popups), state.requests)
        errors = len(state.problems) + state.dropped
        state.during = f"clicking the button {name}"
        try:
            element.click(timeout=min(CLICK_TIMEOUT, max(0.2, self.left() - 0.5)) * 1000)
        except PlaywrightError as exc:
            self.js("() => 1", name=name, wait=0.5)  # a click that hung the page stops here
            self.note(f"could not click the button {name}: {action_failure(exc)}")
            state.during = ""
            return False
        self.counts["buttons"] += 1
        self.page.wait_for_timeout(min(CLICK_SETTLE, max(0.0, self.left())) * 1000)
        after = self.js("() => window.__matrioska ? window.__matrioska.snap() : null", name=name)
        state.during = ""
        for popup in state.popups[marks[2] :]:
            close_quietly(popup)
        acted = (
            after is None
            or marks != (state.navigations, len(state.dialogs), len(state.popups), state.requests)
            or any(after[key] != before[key] for key in ("n", "writes", "draws", "values"))
        )
        if acted:
            self.counts["acted"] += 1
            return after is None
        if len(state.problems) + state.dropped > errors:
            return False  # the click raised an error: that problem says more than "nothing happened"
        if after["invalid"]:
            self.note(f"clicking the button {name} did not submit its form: the browser found the sample input invalid")
            return False
        filled = " with every input filled" if self.counts["inputs"] else ""
        if _should_act(info):
            source = state.scripts[0] if state.scripts else state.page
            state.add(
                "silent_button",
                f"clicking the button {name}{filled} changed nothing on the page (no element added, removed or "
                "changed, no dialog, no navigation): its handler does not act",
                source,
            )
        else:
            self.note(f"clicking the button {name}{filled} changed nothing on the page")
        return False


def _button_name(info: dict[str, Any]) -> str:
    """'"Add book" (#add-btn)', '"Add book"', '#add-btn' or 'a <button> without a label'."""
    label = info.get("text") or info.get("label") or info.get("title") or info.get("value") or ""
    ident = f"#{one_line(info['id'], 60)}" if info.get("id") else ""
    if label:
        return f'"{one_line(label, 60)}"' + (f" ({ident})" if ident else "")
    return ident or f"<{info.get('tag', 'button')}> without a label"


def _should_act(info: dict[str, Any]) -> bool:
    """Whether a button's text, value, aria-label, title or id names an action that must show an effect."""
    for text in (info.get(key) or "" for key in ("text", "value", "label", "title", "id")):
        words = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).replace("_", " ").replace("-", " ")
        if _ACTION_WORDS.search(words):
            return True
    return False


def _without_fragment(url: str) -> str:
    """`url` without its #fragment: a jump inside the page is no navigation away from it."""
    return url.split("#", 1)[0]
