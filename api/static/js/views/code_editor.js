// The editor of a code step: monospace, line numbers, Tab indents, the draft kept across reloads,
// the visible tests, and "Run tests" (the visible tests, without spending an attempt).

import { request } from "../api.js";
import { h, replaceChildren, uid } from "../dom.js";
import { plural } from "../format.js";

const INDENT = "    ";
const DRAFT_PREFIX = "curiouscore.code.";

function draftKey(view) {
  return `${DRAFT_PREFIX}${view.session_id}.${view.step.id}`;
}

function loadDraft(view) {
  try {
    return localStorage.getItem(draftKey(view));
  } catch {
    return null;
  }
}

function saveDraft(view, text) {
  try {
    localStorage.setItem(draftKey(view), text);
  } catch {
    // Storage full or blocked: the draft lives only on the page.
  }
}

function lineStart(text, index) {
  return text.lastIndexOf("\n", index - 1) + 1;
}

/** Indent (or with ``outdent``, dedent) the lines the selection touches, or insert an indent. */
function indent(area, outdent) {
  const { value, selectionStart: start, selectionEnd: end } = area;
  const first = lineStart(value, start);
  if (!outdent && start === end) {
    area.setRangeText(INDENT, start, end, "end");
    return;
  }
  const last = end > start && value[end - 1] === "\n" ? end - 1 : end;
  const block = value.slice(first, last);
  const lines = block.split("\n");
  const changed = lines.map((line) => (outdent ? line.replace(/^( {1,4}|\t)/, "") : INDENT + line)).join("\n");
  area.setRangeText(changed, first, last, "preserve");
  const firstDelta = outdent ? -(lines[0].length - lines[0].replace(/^( {1,4}|\t)/, "").length) : INDENT.length;
  area.selectionStart = Math.max(first, start + firstDelta);
  area.selectionEnd = Math.max(area.selectionStart, last + (changed.length - block.length));
}

/** Enter keeps the line's indentation, one level deeper after a Python block opener. */
function newline(area, language) {
  const { value, selectionStart: start, selectionEnd: end } = area;
  const line = value.slice(lineStart(value, start), start);
  let pad = (line.match(/^[ \t]*/) || [""])[0];
  if (language === "python" && /:\s*(#.*)?$/.test(line)) pad += INDENT;
  area.setRangeText(`\n${pad}`, start, end, "end");
}

function resultList(tests) {
  return h(
    "ul",
    { class: "code-results" },
    tests.map((t) =>
      h(
        "li",
        { class: ["code-result", t.passed ? "is-pass" : "is-fail"], "data-test": t.id },
        h("span", { class: "code-result-mark", "aria-hidden": "true", text: t.passed ? "✔" : "✘" }),
        h("strong", { text: t.id }),
        h("span", { class: "visually-hidden", text: t.passed ? " passed" : " failed" }),
        t.message ? h("span", { class: "code-result-message", text: ` — ${t.message}` }) : null,
        t.output ? h("pre", { class: "code-result-output", text: t.output }) : null,
      ),
    ),
  );
}

/**
 * The editor for ``view.step`` (ui_mode CODE). Returns { el, value(), focus() }; the step card's
 * form submits ``value()`` as the answer.
 */
export function codeEditor({ view, labelledBy, describedBy }) {
  const step = view.step;
  const code = step.code; // a CODE step always carries its code
  const id = uid("code");
  const area = h("textarea", {
    id,
    name: "code",
    class: "code-input",
    rows: 14,
    maxlength: step.answer_max_chars,
    spellcheck: "false",
    autocapitalize: "off",
    autocomplete: "off",
    wrap: "off",
    "aria-labelledby": labelledBy,
    "aria-describedby": describedBy,
    "data-language": code.language,
  });
  area.value = loadDraft(view) ?? code.starter;
  const gutter = h("pre", { class: "code-gutter", "aria-hidden": "true" });
  const drawGutter = () => {
    const count = area.value.split("\n").length;
    gutter.textContent = Array.from({ length: count }, (_, i) => String(i + 1)).join("\n");
    gutter.scrollTop = area.scrollTop;
  };
  let escaped = false;
  area.addEventListener("input", () => {
    drawGutter();
    saveDraft(view, area.value);
  });
  area.addEventListener("scroll", () => {
    gutter.scrollTop = area.scrollTop;
  });
  area.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      escaped = true; // the next Tab leaves the editor (keyboard users are never trapped)
      return;
    }
    if (event.key === "Tab" && !escaped && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      indent(area, event.shiftKey);
    } else if (event.key === "Enter" && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      event.stopPropagation(); // Enter is a new line here, not "submit"
      newline(area, code.language);
    } else if (event.key === "Enter") {
      event.stopPropagation();
      area.form?.requestSubmit(); // Ctrl+Enter submits
      return;
    }
    escaped = false;
    if (event.key === "Tab" || event.key === "Enter") {
      drawGutter();
      saveDraft(view, area.value);
    }
  });
  drawGutter();

  const visible = code.tests.filter((t) => !t.hidden);
  const hidden = code.tests.length - visible.length;
  const tests = h(
    "details",
    { class: "code-tests" },
    h("summary", {}, `Tests: ${plural(visible.length, "visible test")}${hidden ? `, ${hidden} hidden` : ""}`),
    visible.map((t) => h("div", { class: "code-test" }, h("p", { class: "small" }, h("strong", { text: t.id }), ` · ${t.points} points`), t.code ? h("pre", { class: "code-test-code", text: t.code }) : null)),
  );

  const results = h("div", { class: "code-run", role: "status", "aria-live": "polite" });
  const runButton = h("button", { type: "button", class: "btn btn-secondary code-run-button" }, "Run tests");
  runButton.addEventListener("click", async () => {
    if (!area.value.trim()) {
      replaceChildren(results, h("p", { class: "form-error" }, "Write your code first."));
      return;
    }
    runButton.disabled = true;
    replaceChildren(results, h("p", { class: "muted" }, "Running the visible tests…"));
    try {
      const run = await request("POST", `/api/sessions/${encodeURIComponent(view.session_id)}/run`, {
        body: { step_id: step.id, code: area.value },
      });
      const passed = run.tests.filter((t) => t.passed).length;
      const note = run.status === "timeout" ? " Your code ran out of time." : run.status === "output_limit" ? " Your code printed too much." : "";
      replaceChildren(
        results,
        h("p", { class: "code-run-summary" }, `${passed} of ${plural(run.tests.length, "visible test")} passed in ${run.duration_ms} ms.${note} No attempt used.`),
        resultList(run.tests),
      );
    } catch (error) {
      replaceChildren(results, h("p", { class: "form-error" }, error.message));
    } finally {
      runButton.disabled = false;
    }
  });

  const el = h(
    "div",
    { class: "code-box" },
    h("div", { class: "code-editor" }, gutter, area),
    h("p", { class: "muted small" }, `${code.language === "sql" ? "SQL (SQLite)" : "Python"} · runs in a sandbox, ${code.time_limit_seconds || 2} s and ${code.memory_limit_mb || 128} MB per run. Tab indents; Esc then Tab leaves the editor; Ctrl+Enter submits.`),
    tests,
    h("div", { class: "step-actions code-actions" }, runButton),
    results,
  );
  return { el, value: () => area.value, focus: () => area.focus() };
}
