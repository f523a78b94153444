"""A page's event wiring built from its declared element ids, without the model (issue 35).

A page written before its script guessed the handler's name (`onclick="addItem()"` where the
script defined `addBook`). Here the page's logic functions are written and chosen first, and the
wiring that connects the page to them is generated from `Binding`s: which element, which event,
which logic function, which inputs' values it takes and where its result is shown. So a handler
name can never be guessed: a binding naming an id the page lacks or a function the script does
not define is dropped, with a note, instead of failing in the browser.

The wiring is one self-contained block (its helpers in a closure, nothing added to the page's
globals) that runs once the page's elements exist: at `DOMContentLoaded`, or at once when the
document has already loaded. Each handler reads the inputs (`Number(value)` for a number or
range input, `checked` for a checkbox), calls the function, and shows what it returns: an array
as `<li>` items in a list element or one line per item elsewhere, an object as JSON text,
anything else as text (a form field's `value`). A submit handler calls `preventDefault`; a
`keydown` binding fires on Enter. An error the function throws is shown in the output element
and logged with `console.warn`, never swallowed: not `console.error`, which the page checks
count as the page failing, while a function refusing a bad input (an empty title) is the page
working.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..kinds.web.html import HTMLChecker

__all__ = ["Binding", "page_wiring", "page_ids"]


@dataclass
class Binding:
    """One event of one element calling one logic function."""

    element: str
    """The id of the button, form or input (no '#')."""
    event: str
    """"click", "submit", "input", "change", "keydown" (on Enter)..."""
    function: str
    """The logic function it calls."""
    inputs: list[str] = field(default_factory=list)
    """The ids whose values are the function's arguments, in order."""
    output: str = ""
    """The id where the return value is shown ("" for nowhere)."""
    clear: bool = True
    """Clear the inputs after a call that did not throw."""


_HELPERS = """  function matrioskaValue(element) {
    if (!element) return undefined;
    if (element.type === "checkbox") return element.checked;
    if (element.type === "number" || element.type === "range") return Number(element.value);
    return "value" in element ? element.value : element.textContent;
  }
  function matrioskaText(item) {
    return item !== null && typeof item === "object" ? JSON.stringify(item) : String(item);
  }
  function matrioskaShow(output, value) {
    if (!output || value === undefined) return;
    if (Array.isArray(value)) {
      if (output.tagName === "UL" || output.tagName === "OL") {
        output.replaceChildren(...value.map(function (item) {
          const li = document.createElement("li");
          li.textContent = matrioskaText(item);
          return li;
        }));
      } else {
        output.style.whiteSpace = "pre-line";
        output.textContent = value.map(matrioskaText).join("\\n");
      }
    } else if (value !== null && typeof value === "object") {
      output.style.whiteSpace = "pre-wrap";
      output.textContent = JSON.stringify(value, null, 2);
    } else if ("value" in output && output.tagName !== "LI" && output.tagName !== "BUTTON") {
      output.value = value === null ? "" : String(value);
    } else {
      output.textContent = value === null ? "" : String(value);
    }
  }
  function matrioskaFailed(output, error) {
    console.warn(error);
    if (output) output.textContent = "Error: " + (error && error.message ? error.message : String(error));
  }
  function matrioskaClear(inputs) {
    inputs.forEach(function (input) {
      if (!input) return;
      if (input.type === "checkbox") input.checked = false;
      else if ("value" in input) input.value = "";
    });
  }
"""


def _handler(binding: Binding, index: int) -> str:
    """The lines that wire one binding."""
    js = json.dumps
    inputs = ", ".join(f"document.getElementById({js(i)})" for i in binding.inputs)
    output = f"document.getElementById({js(binding.output)})" if binding.output else "null"
    guard = ""
    if binding.event == "submit":
        guard = "      event.preventDefault();\n"
    elif binding.event == "keydown":
        guard = '      if (event.key !== "Enter") return;\n      event.preventDefault();\n'
    clear = "          matrioskaClear(inputs);\n" if binding.clear and binding.inputs else ""
    return f"""    const element{index} = document.getElementById({js(binding.element)});
    element{index}.addEventListener({js(binding.event)}, function (event) {{
{guard}      const inputs = [{inputs}];
      const output = {output};
      try {{
        const result = {binding.function}(...inputs.map(matrioskaValue));
        const done = function (value) {{
          matrioskaShow(output, value);
{clear}        }};
        if (result && typeof result.then === "function") {{
          result.then(done, function (error) {{ matrioskaFailed(output, error); }});
        }} else {{
          done(result);
        }}
      }} catch (error) {{
        matrioskaFailed(output, error);
      }}
    }});
"""


def _problem(binding: Binding, page: set[str], functions: set[str] | None) -> str | None:
    """Why a binding cannot be wired, or None."""
    if functions is not None and binding.function not in functions:
        known = ", ".join(sorted(functions)) or "none"
        return f"{binding.function} is not a function of the page's script (it defines: {known})"
    if not binding.function.isidentifier():
        return f"{binding.function!r} is not a function name"
    missing = [
        i for i in [binding.element, *binding.inputs, *([binding.output] if binding.output else [])] if i not in page
    ]
    if missing:
        return f"the page has no element with id {', '.join(repr(m) for m in dict.fromkeys(missing))}"
    if not binding.event.replace("-", "").isalpha():
        return f"{binding.event!r} is not an event name"
    return None


def page_wiring(
    bindings: list[Binding], page_ids: set[str], functions: set[str] | None = None
) -> tuple[str, list[str]]:
    """The page's wiring script for `bindings` (to be appended to its script) and one note per
    binding left out: an id not on the page, a function not in `functions` (the script's
    functions; None: not checked). "" when no binding is left."""
    notes: list[str] = []
    handlers: list[str] = []
    for binding in bindings:
        problem = _problem(binding, page_ids, functions)
        if problem:
            notes.append(f"#{binding.element} {binding.event} -> {binding.function}: {problem}; not wired")
            continue
        handlers.append(_handler(binding, len(handlers)))
    if not handlers:
        return "", notes
    script = (
        "/* The page's event wiring, generated from its element ids (Matrioska). */\n"
        "(function () {\n"
        f"{_HELPERS}"
        "  function matrioskaWire() {\n"
        f"{''.join(handlers)}"
        "  }\n"
        '  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", matrioskaWire);\n'
        "  else matrioskaWire();\n"
        "})();\n"
    )
    return script, notes


def page_ids(html: str) -> set[str]:
    """The element ids an HTML page declares."""
    checker = HTMLChecker()
    try:
        checker.feed(html)
        checker.close()
    except Exception:  # HTMLParser is lenient; what it read before a failure still counts
        pass
    return set(checker.ids)
