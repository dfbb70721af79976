// The current step's card for every UI mode, and the cards for not-started, abandoned and completed.

import { h, richText, uid } from "../dom.js";
import { KIND_LABELS, percent, plural, points } from "../format.js";
import { codeEditor } from "./code_editor.js";


function stepHeader(view) {
  const step = view.step;
  return [
    h(
      "p",
      { class: "step-kicker" },
      `Step ${step.index + 1} of ${view.progress.total_steps}`,
      h("span", { class: "kind-chip", text: KIND_LABELS[step.kind] || step.kind }),
    ),
    h("h2", { class: "step-title", id: "step-title", tabindex: "-1", text: step.title || `Step ${step.index + 1}` }),
  ];
}

function choiceList({ type, name, choices, choicesHtml, labelledBy, describedBy }) {
  return h(
    "fieldset",
    { class: "choices", "aria-labelledby": labelledBy, "aria-describedby": describedBy },
    choices.map((text, i) => {
      const id = uid(`${name}-${i}`);
      return h(
        "div",
        { class: "choice" },
        h("input", { type, name, id, value: String(i), "data-index": String(i) }),
        h(
          "label",
          { for: id },
          i < 9 ? h("kbd", { class: "choice-key", "aria-hidden": "true", text: String(i + 1) }) : null,
          richText("span", { class: "choice-text" }, choicesHtml[i], text),
        ),
      );
    }),
  );
}

function trueFalse({ name, labelledBy, describedBy }) {
  return h(
    "fieldset",
    { class: "choices choices-tf", "aria-labelledby": labelledBy, "aria-describedby": describedBy },
    [
      ["true", "True"],
      ["false", "False"],
    ].map(([value, label], i) => {
      const id = uid(`${name}-${value}`);
      return h(
        "div",
        { class: "choice" },
        h("input", { type: "radio", name, id, value, "data-index": String(i) }),
        h("label", { for: id }, h("kbd", { class: "choice-key", "aria-hidden": "true", text: String(i + 1) }), h("span", { class: "choice-text" }, label)),
      );
    }),
  );
}

function chatBox({ name, labelledBy, describedBy, draft, onDraft, maxChars }) {
  const id = uid(name);
  const counterId = `${id}-count`;
  const area = h("textarea", {
    id,
    name,
    rows: 5,
    maxlength: maxChars,
    "aria-labelledby": labelledBy,
    "aria-describedby": [describedBy, counterId].join(" "),
    placeholder: "Write your answer in your own words…",
    spellcheck: "true",
  });
  area.value = draft || "";
  const counter = h("p", { class: "char-count muted", id: counterId, "aria-live": "off" });
  const count = () => {
    counter.textContent = `${area.value.length} / ${maxChars} characters`;
  };
  // maxlength cuts a long paste silently: say so (the server would refuse it anyway).
  const cut = h("p", { class: "notice notice-warn paste-cut", role: "status", hidden: true });
  area.addEventListener("paste", (event) => {
    const pasted = (event.clipboardData && event.clipboardData.getData("text")) || "";
    const room = maxChars - (area.value.length - (area.selectionEnd - area.selectionStart));
    cut.hidden = pasted.length <= room;
    if (!cut.hidden) {
      cut.textContent = `Only the first ${maxChars.toLocaleString("en")} characters fit: ${(pasted.length - Math.max(room, 0)).toLocaleString("en")} pasted characters were left out.`;
    }
  });
  area.addEventListener("input", () => {
    count();
    if (onDraft) onDraft(area.value);
  });
  count();
  return h("div", { class: "chat-box" }, area, counter, cut);
}

function lastFeedbackFor(view) {
  const entries = view.transcript.filter((e) => e.kind === "feedback" && e.step_id === view.step.id);
  return entries[entries.length - 1] || null;
}

function stepMeta(step) {
  const bits = [];
  if (step.kind !== "gate") {
    bits.push(
      h("span", { class: "meta-item" }, "Worth ", h("strong", { text: String(step.available_shown) }), step.available < step.points ? ` of ${points(step.points)}` : "", " points"),
    );
    bits.push(h("span", { class: "meta-item" }, h("strong", { text: String(step.attempts_left) }), ` ${step.attempts_left === 1 ? "attempt" : "attempts"} left`));
    bits.push(h("span", { class: "meta-item" }, h("strong", { text: String(step.hints_left) }), ` ${step.hints_left === 1 ? "hint" : "hints"} left`));
  }
  return bits.length ? h("p", { class: "step-meta" }, bits) : null;
}

const KEY_HELP = {
  CONTINUE_GATE: "Press Enter to continue.",
  MCQ_SINGLE: "Keys: 1–9 pick a choice, Enter submits, H takes a hint.",
  MCQ_MULTI: "Keys: 1–9 toggle choices, Enter submits, H takes a hint.",
  TRUE_FALSE: "Keys: 1 or T for true, 2 or F for false, Enter submits, H takes a hint.",
  CHAT: "Enter submits, Shift+Enter starts a new line.",
  CODE: "Run tests checks the visible tests without using an attempt; Submit runs every test.",
};

/**
 * The card for the step on screen. ``handlers`` has submit(answer), continue(), hint();
 * the returned object exposes the form and its parts for focus and keyboard handling.
 */
export function buildStepCard(view, { draft, handlers }) {
  const step = view.step;
  const mode = view.ui_mode;
  const promptId = uid("prompt");
  const helpId = uid("keys");
  const error = h("p", { class: "form-error", role: "alert" });
  const working = h("p", { class: "working", role: "status", hidden: true }, h("span", { class: "spinner", "aria-hidden": "true" }), h("span", { class: "working-text" }));

  const prompt = step.prompt ? richText("div", { class: "prose step-prompt", id: promptId }, step.prompt_html, step.prompt) : null;
  const labelledBy = prompt ? promptId : "step-title";
  let control = null;
  if (mode === "MCQ_SINGLE") {
    control = choiceList({ type: "radio", name: "choice", choices: step.choices, choicesHtml: step.choices_html, labelledBy, describedBy: helpId });
  } else if (mode === "MCQ_MULTI") {
    control = [
      // Authors often end the prompt with it already; say it once.
      /select all that apply/i.test(step.prompt || "") ? null : h("p", { class: "muted select-all" }, "Select all that apply."),
      choiceList({ type: "checkbox", name: "choice", choices: step.choices, choicesHtml: step.choices_html, labelledBy, describedBy: helpId }),
    ];
  } else if (mode === "TRUE_FALSE") {
    control = trueFalse({ name: "truth", labelledBy, describedBy: helpId });
  } else if (mode === "CHAT") {
    control = chatBox({ name: "answer", labelledBy, describedBy: helpId, draft, onDraft: handlers.draft, maxChars: step.answer_max_chars });
  }
  const code = mode === "CODE" ? codeEditor({ view, labelledBy, describedBy: helpId }) : null;
  if (code) control = code.el;

  const isGate = mode === "CONTINUE_GATE";
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, isGate ? "Continue" : "Submit answer");
  const hintButton = isGate
    ? null
    : h(
        "button",
        {
          type: "button",
          class: "btn btn-secondary",
          disabled: step.hints_left <= 0,
          "aria-describedby": "hint-cost",
          onclick: () => handlers.hint(),
        },
        step.hints_left > 0 ? `Get a hint (${step.hints_left} left)` : "No hints left",
      );

  const form = h(
    "form",
    { class: "step-form", novalidate: true, "aria-labelledby": "step-title" },
    prompt,
    control,
    error,
    working,
    h("div", { class: "step-actions" }, hintButton, submit),
    hintButton ? h("p", { class: "muted small", id: "hint-cost" }, "Each hint lowers what this step can still earn.") : null,
    h("p", { class: "muted small key-help", id: helpId, text: KEY_HELP[mode] || "" }),
  );

  function readAnswer() {
    if (mode === "MCQ_SINGLE") {
      const picked = form.querySelector('input[name="choice"]:checked');
      if (!picked) return { error: "Pick an answer first." };
      return { value: Number(picked.value) };
    }
    if (mode === "MCQ_MULTI") {
      const picked = Array.from(form.querySelectorAll('input[name="choice"]:checked')).map((el) => Number(el.value));
      if (!picked.length) return { error: "Pick at least one answer." };
      return { value: picked };
    }
    if (mode === "TRUE_FALSE") {
      const picked = form.querySelector('input[name="truth"]:checked');
      if (!picked) return { error: "Choose True or False first." };
      return { value: picked.value === "true" };
    }
    if (code) {
      const source = code.value();
      if (!source.trim()) return { error: "Write your code first." };
      if (source.length > step.answer_max_chars) return { error: `Your code is too long (limit ${step.answer_max_chars} characters).` };
      return { value: source };
    }
    const text = form.querySelector("textarea").value.trim();
    if (!text) return { error: "Write your answer first." };
    if (text.length > step.answer_max_chars) return { error: `Your answer is too long (limit ${step.answer_max_chars} characters).` };
    return { value: text };
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    error.textContent = "";
    if (isGate) {
      handlers.continue();
      return;
    }
    const { value, error: problem } = readAnswer();
    if (problem) {
      error.textContent = problem;
      const first = form.querySelector("input, textarea");
      if (first) first.focus();
      return;
    }
    handlers.submit(value);
  });

  const feedback = lastFeedbackFor(view);
  const retry =
    feedback && !feedback.passed && step.attempts_used > 0
      ? h(
          "p",
          { class: "notice notice-warn" },
          `Your last answer scored ${Math.round(Number(feedback.score) || 0)} of ${points(feedback.max_points)} points. `,
          step.attempts_left > 0 ? `Try again: ${plural(step.attempts_left, "attempt")} left.` : "",
        )
      : null;

  const card = h(
    "section",
    { class: "card step-card", "aria-labelledby": "step-title", "data-mode": mode },
    stepHeader(view),
    richText("div", { class: "prose step-body" }, step.body_html, step.body),
    retry,
    stepMeta(step),
    form,
  );

  function setBusy(busy, label = "") {
    for (const el of form.querySelectorAll("input, textarea, button")) {
      if (busy) {
        el.dataset.wasDisabled = el.disabled ? "1" : "";
        el.disabled = true;
      } else {
        el.disabled = el.dataset.wasDisabled === "1";
      }
    }
    form.setAttribute("aria-busy", busy ? "true" : "false");
    working.hidden = !busy;
    working.querySelector(".working-text").textContent = label;
  }

  return {
    el: card,
    form,
    mode,
    heading: card.querySelector("#step-title"),
    hintButton,
    showError(message) {
      error.textContent = message;
    },
    setBusy,
    firstInput: () => form.querySelector("input:not([disabled]), textarea:not([disabled])") || submit,
    draft: () => {
      const area = code ? null : form.querySelector("textarea");
      return area ? area.value : "";
    },
  };
}

export function buildNotStartedCard(view, onBegin) {
  const button = h("button", { type: "button", class: "btn btn-primary", onclick: (e) => onBegin(e.currentTarget) }, "Begin the challenge");
  return {
    el: h(
      "section",
      { class: "card step-card", "aria-labelledby": "step-title" },
      h("h2", { class: "step-title", id: "step-title", tabindex: "-1" }, "Ready when you are"),
      h("p", {}, `${plural(view.progress.total_steps, "step")}, worth ${points(view.progress.max_score)} points in all.`),
      h("div", { class: "step-actions" }, button),
    ),
    focusTarget: button,
  };
}

export function buildAbandonedCard(onRestart) {
  const button = h("button", { type: "button", class: "btn btn-primary", onclick: (e) => onRestart(e.currentTarget) }, "Start a new attempt");
  return {
    el: h(
      "section",
      { class: "card step-card", "aria-labelledby": "step-title" },
      h("h2", { class: "step-title", id: "step-title", tabindex: "-1" }, "You left this session"),
      h("p", {}, "This attempt has ended. You can start the challenge again whenever you like."),
      h("div", { class: "step-actions" }, h("a", { class: "btn btn-secondary", href: "#/challenges" }, "All challenges"), button),
    ),
    focusTarget: null,
  };
}

/** The result screen's table: per step, whole points, attempts and hints (from the view's result). */
function resultBreakdown(steps) {
  if (!Array.isArray(steps) || !steps.length) return null;
  const scored = steps.filter((s) => s.points > 0);
  if (!scored.length) return null;
  return h(
    "table",
    { class: "result-breakdown" },
    h("caption", { class: "visually-hidden" }, "Points per step"),
    h("thead", {}, h("tr", {}, ["Step", "Points", "Attempts", "Hints"].map((t) => h("th", { scope: "col", text: t })))),
    h(
      "tbody",
      {},
      scored.map((s) =>
        h(
          "tr",
          { class: s.passed ? "is-pass" : "is-fail" },
          h("th", { scope: "row", text: s.title }),
          h("td", { text: `${s.score_shown} / ${s.points}` + (s.hint_deduction_shown > 0 ? ` (hints −${s.hint_deduction_shown})` : "") }),
          h("td", { text: String(s.attempts) }),
          h("td", { text: String(s.hints) }),
        ),
      ),
    ),
  );
}

/** The next challenge not yet passed (chosen by the server), with a button that starts it. */
function nextChallenge(next, onStart) {
  if (!next) return null;
  const start = h("button", { type: "button", class: "btn btn-primary", onclick: (e) => onStart(next.id, e.currentTarget) }, `Start “${next.title}”`);
  return h(
    "section",
    { class: "next-challenge", "aria-labelledby": "next-challenge-title" },
    h("h3", { id: "next-challenge-title", class: "panel-title" }, "Next challenge"),
    h("p", {}, h("strong", { text: next.title }), h("span", { class: "muted", text: ` · ${next.difficulty} · about ${next.estimated_minutes} min` })),
    start,
  );
}

export function buildCompletionCard(view, onPlayAgain, onStart) {
  const r = view.result; // a completed session always has its result
  const pct = r.percent;
  let xpLine;
  if (r.xp_granted > 0) xpLine = h("p", { class: "xp-earned" }, h("span", { class: "xp-value", text: `+${r.xp_granted} XP` }), " earned");
  else if (r.passed) xpLine = h("p", { class: "muted" }, "You already earned the XP for this challenge.");
  else xpLine = h("p", { class: "muted" }, `Reach ${r.passing_score}% to pass and earn XP. You can try again!`);

  const ring = h("div", { class: ["result-ring", r.passed ? "pass" : "fail"], role: "img", "aria-label": `Score ${percent(pct)}` });
  const fill = h("span", { class: "result-ring-fill" });
  fill.style.setProperty("--pct", String(Math.max(0, Math.min(100, pct))));
  ring.append(fill, h("span", { class: "result-ring-text", "aria-hidden": "true", text: percent(pct) }));

  return {
    el: h(
      "section",
      { class: ["card", "completion-card", r.passed ? "is-pass" : "is-fail"], "aria-labelledby": "completion-title" },
      h("p", { class: "step-kicker" }, "Challenge complete"),
      h("h2", { id: "completion-title", tabindex: "-1", class: "step-title", text: r.passed ? "You passed!" : "Not passed this time" }),
      ring,
      h(
        "dl",
        { class: "facts facts-result" },
        h("div", {}, h("dt", {}, "Score"), h("dd", { text: `${r.score_shown} / ${r.max_score}` })),
        h("div", {}, h("dt", {}, "Result"), h("dd", { text: percent(pct) })),
        h("div", {}, h("dt", {}, "Pass mark"), h("dd", { text: `${r.passing_score}%` })),
        h("div", {}, h("dt", {}, "XP"), h("dd", { class: "xp-granted", text: `+${r.xp_granted}` })),
      ),
      xpLine,
      resultBreakdown(r.steps),
      nextChallenge(r.next_challenge, onStart),
      h(
        "div",
        { class: "step-actions" },
        h("a", { class: r.next_challenge ? "btn btn-secondary" : "btn btn-primary", href: "#/challenges" }, "Back to challenges"),
        h("button", { type: "button", class: "btn btn-secondary", onclick: (e) => onPlayAgain(e.currentTarget) }, "Play again"),
        h("a", { class: "btn btn-ghost", href: "#/profile" }, "Your profile"),
      ),
    ),
    focusTarget: null,
  };
}
