// The session transcript: GM narration, the learner's answers, feedback per rubric item, hints and
// explanations. New lines are appended (never re-rendered), so the log's live region announces only them.

import { h, richText } from "../dom.js";
import { humanise, points } from "../format.js";

const FLAG_TEXT = {
  instruction_attempt: "This answer tried to give the grader instructions; only its content was graded.",
};

function sourceLabel(source) {
  if (!source || source === "authored" || source === "engine") return null;
  if (source === "offline" || source.startsWith("offline")) return "offline";
  return "AI";
}

function narration(entry) {
  const label = sourceLabel(entry.source);
  return h(
    "li",
    { class: "entry entry-narration" },
    h("div", { class: "entry-avatar gm", "aria-hidden": "true" }, "GM"),
    h(
      "div",
      { class: "entry-body" },
      h("p", { class: "entry-who" }, "Game Master", label === "AI" ? h("span", { class: "tag-ai" }, "AI") : null),
      richText("div", { class: "prose" }, entry.html, entry.text),
    ),
  );
}

function answer(entry) {
  // The learner's own words: always text, whatever the server sends alongside.
  return h(
    "li",
    { class: "entry entry-answer" },
    h(
      "div",
      { class: "entry-body" },
      h("p", { class: "entry-who" }, "You"),
      h("p", { class: "answer-text", text: entry.text }),
    ),
  );
}

const OUTCOME_LABELS = { correct: "Correct", partly: "Partly right", wrong: "Not yet" };
const OPTION_LABELS = {
  right: ["✓", "You picked this: right"],
  wrong: ["✗", "You picked this: not right"],
  missed: ["○", "A right answer you did not pick"],
};

function optionList(view) {
  const options = Array.isArray(view.options) ? view.options : [];
  const shown = options.filter((o) => o.verdict);
  if (!shown.length) return null;
  return h(
    "ul",
    { class: "options-feedback", "aria-label": "Your choices" },
    shown.map((option) => {
      const [icon, label] = OPTION_LABELS[option.verdict];
      return h(
        "li",
        { class: ["option-feedback", `is-${option.verdict}`], "data-verdict": option.verdict },
        h("span", { class: "option-icon", "aria-hidden": "true", text: icon }),
        h(
          "div",
          { class: "option-body" },
          richText("p", { class: "option-text" }, option.text_html, option.text),
          h("p", { class: "option-verdict muted", text: label }),
          option.feedback ? richText("p", { class: "option-note" }, option.feedback_html, option.feedback) : null,
        ),
      );
    }),
  );
}

function pointsBreakdown(view) {
  if (!view || !(view.hint_deduction_shown > 0)) return null;
  return h(
    "p",
    { class: "points-breakdown" },
    `Answer ${view.earned_shown} / ${view.max_points} · hints −${view.hint_deduction_shown} → ${view.score_shown} points`,
  );
}

function feedback(entry, view) {
  const outcome = view ? view.outcome : entry.passed === true ? "correct" : "wrong";
  const passed = outcome === "correct" || (outcome === "partly" && entry.passed === true);
  const hasScore = entry.score !== null && entry.score !== undefined;
  const items = entry.items;
  const flags = entry.flags;
  const shownScore = view ? view.score_shown : Math.round(Number(entry.score) || 0);
  const missedHidden = view && view.missed_hidden > 0;
  return h(
    "li",
    { class: ["entry", "entry-feedback", passed ? "is-pass" : "is-fail", `outcome-${outcome}`] },
    h("div", { class: ["entry-avatar", passed ? "pass" : "fail"], "aria-hidden": "true" }, outcome === "correct" ? "✓" : outcome === "partly" ? "½" : "✗"),
    h(
      "div",
      { class: "entry-body" },
      h(
        "p",
        { class: "entry-who" },
        OUTCOME_LABELS[outcome] || "Not yet",
        hasScore ? h("span", { class: "score-pill", text: `${shownScore} / ${points(entry.max_points)} points` }) : null,
      ),
      // Per-option feedback replaces the summary paragraph, which only strings the same notes together.
      view && view.options && view.options.some((o) => o.verdict) ? null : richText("div", { class: "prose feedback-text" }, entry.html, entry.text),
      view ? optionList(view) : null,
      missedHidden
        ? h("p", { class: "muted missed-hidden", text: `${view.missed_hidden} right ${view.missed_hidden === 1 ? "answer" : "answers"} not picked yet.` })
        : null,
      items.length
        ? h(
            "ul",
            { class: "rubric", "aria-label": "Score per rubric item" },
            items.map((item) => {
              const full = Number(item.points) >= Number(item.max_points);
              const none = Number(item.points) <= 0;
              return h(
                "li",
                { class: ["rubric-item", full ? "full" : none ? "none" : "part"] },
                h(
                  "div",
                  { class: "rubric-head" },
                  h("span", { class: "rubric-name", text: humanise(item.id) }),
                  h("span", { class: "rubric-points", text: `${points(item.points)} / ${points(item.max_points)}` }),
                ),
                item.feedback ? richText("div", { class: "rubric-feedback prose" }, item.feedback_html, item.feedback) : null,
              );
            }),
          )
        : null,
      pointsBreakdown(view),
      flags.map((flag) => h("p", { class: "flag", text: FLAG_TEXT[flag] || `Flagged: ${humanise(flag)}` })),
      entry.provisional
        ? h("p", { class: "provisional" }, "Provisional grade: the AI grader was unavailable, so the offline grader scored this answer.")
        : null,
    ),
  );
}

function hint(entry) {
  return h(
    "li",
    { class: "entry entry-hint" },
    h("div", { class: "entry-avatar hint", "aria-hidden": "true" }, "?"),
    h(
      "div",
      { class: "entry-body" },
      h("p", { class: "entry-who" }, "Hint", sourceLabel(entry.source) === "AI" ? h("span", { class: "tag-ai" }, "AI") : null),
      richText("div", { class: "prose" }, entry.html, entry.text),
    ),
  );
}

function explanation(entry) {
  return h(
    "li",
    { class: "entry entry-explanation" },
    h("div", { class: "entry-avatar explain", "aria-hidden": "true" }, "i"),
    h(
      "div",
      { class: "entry-body" },
      h("p", { class: "entry-who" }, "Explanation"),
      richText("div", { class: "prose" }, entry.html, entry.text),
    ),
  );
}

function review(entry) {
  // A teacher's review of a graded answer: their verdict, the new points and their comment (as text).
  const passed = entry.passed === true;
  const hasScore = entry.score !== null && entry.score !== undefined;
  return h(
    "li",
    { class: ["entry", "entry-review", passed ? "is-pass" : "is-fail"] },
    h("div", { class: ["entry-avatar", passed ? "pass" : "fail"], "aria-hidden": "true" }, passed ? "✓" : "✗"),
    h(
      "div",
      { class: "entry-body" },
      h(
        "p",
        { class: "entry-who" },
        "Reviewed by a teacher",
        hasScore
          ? h("span", { class: "score-pill", text: `${points(entry.score)} / ${points(entry.max_points)} points` })
          : null,
      ),
      h("p", { class: "review-verdict", text: passed ? "Your answer counts as correct." : "Your answer does not pass." }),
      entry.text ? h("p", { class: "review-comment", text: entry.text }) : null,
    ),
  );
}

const RENDERERS = { narration, answer, feedback, hint, explanation, review };

function renderEntry(entry, explained) {
  const render = RENDERERS[entry.kind] || narration;
  const li = render(entry, explained.get(`${entry.step_id}|${entry.at}`));
  li.dataset.kind = entry.kind;
  li.dataset.step = entry.step_id || "";
  return li;
}

function keyOf(entry) {
  return `${entry.seq}|${entry.kind}`; // seq: the entry's place in the whole transcript, never reused
}

function sameKeys(a, b) {
  return a.length === b.length && a.every((k, i) => k === b[i]);
}

/** A transcript list that appends only the entries it has not shown yet; ``titles`` names the steps. */
export function createTranscript(titles = {}) {
  const list = h("ol", { class: "transcript", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  let shown = []; // keys of the entries on screen, in order
  let lastStep = null;

  function divider(stepId) {
    return h("li", { class: "entry-divider", "aria-hidden": "true" }, h("span", { text: titles[stepId] || humanise(stepId) }));
  }

  let explained = new Map(); // the view's explanation of each graded answer, by step and time

  function appendEntries(entries) {
    const added = [];
    for (const entry of entries) {
      if (entry.step_id && entry.step_id !== lastStep) {
        list.appendChild(divider(entry.step_id));
        lastStep = entry.step_id;
      }
      const li = renderEntry(entry, explained);
      list.appendChild(li);
      added.push(li);
    }
    return added;
  }

  /** Show ``entries`` (with ``feedback``, the view's explanation of each graded answer); return the
   * list items that are new. */
  function update(entries, feedback = []) {
    explained = new Map(feedback.map((f) => [`${f.step_id}|${f.attempt_at}`, f]));
    const keys = entries.map(keyOf);
    // The server keeps a bounded tail, so the old window may have slid: find where it overlaps.
    for (let drop = 0; drop <= shown.length; drop += 1) {
      const kept = shown.slice(drop);
      if (kept.length > keys.length || !sameKeys(kept, keys.slice(0, kept.length))) continue;
      if (drop > 0) {
        let removed = 0;
        while (removed < drop && list.firstChild) {
          if (!list.firstChild.classList.contains("entry-divider")) removed += 1;
          list.removeChild(list.firstChild);
        }
      }
      shown = keys;
      return appendEntries(entries.slice(kept.length));
    }
    list.textContent = "";
    lastStep = null;
    shown = keys;
    return appendEntries(entries);
  }

  return { el: list, update };
}
