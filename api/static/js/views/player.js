// The player: one session, every UI mode, keyboard-operable, with the transcript beside the step.

import * as api from "../api.js";
import { announce, errorBox, focusEl, h, replaceChildren } from "../dom.js";
import { points } from "../format.js";
import { startChallenge } from "./catalogue.js";
import { buildAbandonedCard, buildCompletionCard, buildNotStartedCard, buildStepCard } from "./step.js";
import { createTranscript } from "./transcript.js";
import { watchSession } from "../stream.js";

const CHOICE_MODES = new Set(["MCQ_SINGLE", "MCQ_MULTI", "TRUE_FALSE"]);

function isTyping(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
  return target.tagName === "INPUT" && !["radio", "checkbox", "button", "submit"].includes(target.type);
}

export async function renderPlayer({ app, params }) {
  const sessionId = params[0];
  let view = await api.session(sessionId);
  // Step titles for the transcript's dividers; the player works without them.
  const outline = await api.challenge(view.challenge_id).catch(() => null);
  const titles = Object.fromEntries(((outline && outline.steps) || []).map((s) => [s.id, s.title]));

  const transcript = createTranscript(titles);
  const title = h("h1", { class: "player-title", text: view.title });
  const stepLine = h("span", { class: "player-step" });
  const scoreLine = h("span", { class: "player-score" });
  const meter = h("div", { class: "meter meter-large", role: "progressbar", "aria-label": "Challenge progress", "aria-valuemin": 0 });
  const meterFill = h("span", { class: "meter-fill" });
  meter.appendChild(meterFill);
  const leaveArea = h("div", { class: "leave" });
  const stepSlot = h("div", { class: "step-slot" });
  const pageError = h("div", { class: "page-error" });
  const emptyTranscript = h("p", { class: "muted transcript-empty" }, "The conversation with the Game Master appears here.");

  let card = null; // the step card on screen (from buildStepCard), or null
  let busy = false;
  let pollTimer = null;
  let pollDelay = 800;
  let disposed = false;
  const drafts = {};

  function drawHeader() {
    const p = view.progress;
    const done = view.ui_mode === "COMPLETED" ? p.total_steps : Math.min(p.step_index, p.total_steps);
    stepLine.textContent =
      view.ui_mode === "COMPLETED"
        ? `All ${p.total_steps} steps done`
        : view.ui_mode === "NOT_STARTED"
          ? `${p.total_steps} steps`
          : `Step ${Math.min(p.step_index + 1, p.total_steps)} of ${p.total_steps}`;
    scoreLine.textContent = `Score ${points(p.score)} / ${points(p.max_score)}`;
    meter.setAttribute("aria-valuemax", String(p.total_steps));
    meter.setAttribute("aria-valuenow", String(done));
    meter.setAttribute("aria-valuetext", `${done} of ${p.total_steps} steps done`);
    meterFill.style.width = `${p.total_steps ? (100 * done) / p.total_steps : 0}%`;
    drawLeave();
  }

  function drawLeave(confirming = false) {
    if (!["CONTINUE_GATE", "MCQ_SINGLE", "MCQ_MULTI", "TRUE_FALSE", "CHAT", "CODE", "NOT_STARTED"].includes(view.ui_mode)) {
      replaceChildren(leaveArea);
      return;
    }
    if (!confirming) {
      replaceChildren(leaveArea, h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => drawLeave(true) }, "Leave challenge"));
      return;
    }
    const yes = h("button", { type: "button", class: "btn btn-danger btn-small", onclick: () => abandon() }, "Yes, abandon");
    const no = h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => { drawLeave(false); focusEl(leaveArea.querySelector("button")); } }, "Keep playing");
    replaceChildren(leaveArea, h("div", { class: "confirm", role: "group", "aria-label": "Abandon this session?" }, h("span", {}, "Abandon this attempt?"), yes, no));
    no.focus();
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    const waiting = view.step && (view.step.awaiting_grade || view.step.awaiting_hint);
    if (!waiting || disposed || live.connected()) {
      pollDelay = 800;
      return;
    }
    pollTimer = setTimeout(async () => {
      try {
        update(await api.session(sessionId));
      } catch (error) {
        showError(error.message);
      }
      pollDelay = Math.min(pollDelay * 1.5, 5000);
    }, pollDelay);
  }

  function showError(message) {
    if (card && card.showError) card.showError(message);
    else replaceChildren(pageError, errorBox(message));
  }

  function drawStep() {
    replaceChildren(pageError);
    if (view.ui_mode === "COMPLETED") {
      const begin = (challengeId, button) => startChallenge(app, challengeId, button).catch((e) => showError(e.message));
      card = buildCompletionCard(view, (button) => begin(view.challenge_id, button), begin);
    } else if (view.ui_mode === "ABANDONED") {
      card = buildAbandonedCard((button) => startChallenge(app, view.challenge_id, button).catch((e) => showError(e.message)));
    } else if (view.ui_mode === "NOT_STARTED") {
      card = buildNotStartedCard(view, (button) => act("answer", "Starting…", () => api.start(sessionId), button));
    } else if (view.step) {
      card = buildStepCard(view, {
        draft: drafts[view.step.id] ?? savedDraft(sessionId, view.step.id),
        handlers: {
          draft: (value) => saveDraft(sessionId, view.step.id, value),
          submit: (value) => {
            if (view.ui_mode === "CHAT") drafts[view.step.id] = value;
            act("answer", view.ui_mode === "CHAT" ? "Grading your answer…" : "Checking…", () => api.answer(sessionId, view.step.id, value));
          },
          continue: () => act("answer", "Moving on…", () => api.continueGate(sessionId, view.step.id)),
          hint: () => act("hint", "Fetching a hint…", () => api.hint(sessionId, view.step.id)),
        },
      });
      if (view.step.awaiting_grade) card.setBusy(true, "Grading your answer…");
      else if (view.step.awaiting_hint) card.setBusy(true, "Fetching a hint…");
    } else {
      card = null;
    }
    replaceChildren(stepSlot, card ? card.el : null);
    fitStepColumn();
  }

  // The step column stays beside the transcript (sticky) only while it fits on the screen; a taller
  // one scrolls with the page, never inside itself, so its title and Submit are always reachable.
  const stepColumn = h("div", { class: "step-column" }, pageError, stepSlot);
  // One column (a phone): never sticky; a new step is scrolled to its title, Submit pinned below.
  const twoColumns = matchMedia("(min-width: 1000px)");
  function fitStepColumn() {
    const header = parseFloat(getComputedStyle(document.documentElement).getPropertyValue("--header-h")) || 64;
    stepColumn.classList.toggle("is-sticky", twoColumns.matches && stepSlot.scrollHeight + 32 <= window.innerHeight - header - 16);
  }
  const resized = () => fitStepColumn();
  window.addEventListener("resize", resized);
  const sizes = typeof ResizeObserver === "function" ? new ResizeObserver(resized) : null;
  if (sizes) sizes.observe(stepSlot);

  /** Show a new view; move focus where the learner's next action is. */
  function update(next, { action = null } = {}) {
    if (next.version < view.version) return; // a pushed view (stream.js) was newer already
    const before = view;
    view = next;
    const added = transcript.update(view.transcript, view.feedback);
    emptyTranscript.hidden = view.transcript.length > 0;
    drawHeader();
    const stepChanged = !before.step || !view.step || before.step.id !== view.step.id || before.ui_mode !== view.ui_mode;
    const stateChanged = stepChanged || JSON.stringify(before.step) !== JSON.stringify(view.step);
    if (card && card.draft && before.step) drafts[before.step.id] = card.draft();
    if (stateChanged || !card) drawStep();
    schedulePoll();
    if (view.ui_mode === "COMPLETED" && before.ui_mode !== "COMPLETED") {
      app.refreshUser().catch(() => {});
      announce(view.result && view.result.passed ? "Challenge complete. You passed!" : "Challenge complete.");
    } else if (stepChanged && view.step) {
      announce(`Step ${view.step.index + 1} of ${view.progress.total_steps}: ${view.step.title || ""}`);
    }
    if (!action) return;
    // Focus goes to the next thing to do; the first new transcript line is scrolled into view.
    let target;
    if (view.ui_mode === "COMPLETED") target = document.getElementById("completion-title");
    else if (stepChanged) target = (card && card.heading) || document.getElementById("step-title");
    else if (action === "hint") target = card && card.hintButton && !card.hintButton.disabled ? card.hintButton : card && card.firstInput();
    else target = card && card.firstInput ? card.firstInput() : null;
    // A new step in a column that scrolls with the page: show its title, not the transcript's end.
    const showStep = stepChanged && !stepColumn.classList.contains("is-sticky");
    focusEl(target, { preventScroll: added.length > 0 || showStep });
    if (showStep && target) target.scrollIntoView({ block: "start" });
    const firstNew = showStep ? null : added.find((li) => !li.classList.contains("entry-divider"));
    if (firstNew) {
      const smooth = !matchMedia("(prefers-reduced-motion: reduce)").matches;
      firstNew.scrollIntoView({ block: action === "hint" ? "nearest" : "start", behavior: smooth ? "smooth" : "auto" });
    }
  }

  /** Run one learner action ("answer" or "hint": where focus goes after it), showing ``label``. */
  async function act(action, label, call, button) {
    if (busy) return;
    busy = true;
    if (card && card.setBusy) card.setBusy(true, label);
    if (button) button.disabled = true;
    try {
      update(await call(), { action });
    } catch (error) {
      let message = error.message;
      const actedOn = view.step ? view.step.id : null;
      if (error.status === 409) {
        // The session may have moved on elsewhere (another tab, a chat channel): show where it is.
        try {
          update(await api.session(sessionId), { action });
          if (!view.step || view.step.id !== actedOn) {
            message = "This session had already moved on (in another tab or a chat channel), so here is where it is now.";
          }
        } catch {
          // keep the first message
        }
      }
      if (card && card.setBusy) card.setBusy(false);
      if (button) button.disabled = false;
      showError(message);
      announce(message);
    } finally {
      busy = false;
    }
  }

  async function abandon() {
    if (busy) return;
    busy = true;
    try {
      update(await api.abandon(sessionId), { action: "abandon" });
      focusEl(document.getElementById("step-title"));
    } catch (error) {
      showError(error.message);
    } finally {
      busy = false;
    }
  }

  function onKey(event) {
    if (busy || !card || !card.form || event.altKey || event.ctrlKey || event.metaKey || event.defaultPrevented) return;
    const target = event.target;
    if (target instanceof HTMLElement && target.closest("#site-header, .leave")) return;
    const mode = view.ui_mode;
    if (event.key === "Enter") {
      if (target instanceof HTMLElement && (target.tagName === "BUTTON" || target.tagName === "A" || target.tagName === "SELECT")) return;
      if (target instanceof HTMLElement && target.tagName === "TEXTAREA" && event.shiftKey) return;
      if (event.shiftKey) return;
      event.preventDefault();
      card.form.requestSubmit();
      return;
    }
    if (isTyping(target)) return;
    if (event.key === "h" || event.key === "H") {
      if (card.hintButton && !card.hintButton.disabled) {
        event.preventDefault();
        card.hintButton.click();
      }
      return;
    }
    if (!CHOICE_MODES.has(mode)) return;
    let index = -1;
    if (/^[1-9]$/.test(event.key)) index = Number(event.key) - 1;
    else if (mode === "TRUE_FALSE" && (event.key === "t" || event.key === "T")) index = 0;
    else if (mode === "TRUE_FALSE" && (event.key === "f" || event.key === "F")) index = 1;
    if (index < 0) return;
    const inputs = card.form.querySelectorAll("fieldset input");
    const input = inputs[index];
    if (!input || input.disabled) return;
    event.preventDefault();
    if (input.type === "checkbox") input.checked = !input.checked;
    else input.checked = true;
    input.focus();
  }

  document.addEventListener("keydown", onKey);

  const layout = h(
    "div",
    { class: "player-layout" },
    h("section", { class: "transcript-panel", "aria-labelledby": "transcript-title" }, h("h2", { id: "transcript-title", class: "panel-title" }, "Conversation"), emptyTranscript, transcript.el),
    stepColumn,
  );
  const el = h(
    "section",
    { class: "player" },
    h(
      "header",
      { class: "player-head card" },
      h("div", { class: "player-head-top" }, h("div", {}, h("a", { class: "back-link", href: "#/challenges" }, "← Challenges"), title), leaveArea),
      h("div", { class: "player-stats" }, stepLine, scoreLine),
      meter,
    ),
    layout,
  );

  // Pushed views (a grade a worker recorded, a review) replace polling while the stream is open;
  // one that arrives while an action is in flight waits for it, so the action's focus still applies.
  const pushed = (next) => {
    if (disposed || next.version <= view.version) return;
    if (busy) setTimeout(() => pushed(next), 100);
    else update(next);
  };
  const live = watchSession(sessionId, pushed);
  update(view);

  return {
    el,
    title: view.title,
    focus: () => (view.ui_mode === "COMPLETED" ? title : (card && card.heading) || title),
    dispose() {
      disposed = true;
      clearTimeout(pollTimer);
      live.close();
      document.removeEventListener("keydown", onKey);
      window.removeEventListener("resize", resized);
      if (sizes) sizes.disconnect();
    },
  };
}

// A chat draft survives a reload: kept in this browser's storage per session and step, dropped once
// the step is answered for good.
function draftKey(sessionId, stepId) {
  return `curiouscore:draft:${sessionId}:${stepId}`;
}

function savedDraft(sessionId, stepId) {
  try {
    return window.localStorage.getItem(draftKey(sessionId, stepId)) || "";
  } catch {
    return "";
  }
}

function saveDraft(sessionId, stepId, value) {
  try {
    if (value) window.localStorage.setItem(draftKey(sessionId, stepId), value);
    else window.localStorage.removeItem(draftKey(sessionId, stepId));
  } catch {
    // storage full or disabled: the draft lives only in memory
  }
}
