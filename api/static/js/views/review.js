// The review queue (issue 14): reviewers, authors and admins confirm or correct chat grades.
// GET /api/review/queue lists them, POST /api/review/{id} records a review (409: already reviewed,
// offered as "replace"). Keyboard: C confirm, F flip pass/fail, N next; Ctrl+Enter confirms anywhere.

import * as api from "../api.js";
import { announce, errorBox, focusEl, h, replaceChildren, uid } from "../dom.js";

export const REVIEW_ROLES = ["reviewer", "author", "admin"];

/** Whether the signed-in user may open the review page. */
export function canReview(user) {
  return Boolean(user) && REVIEW_ROLES.includes(user.role);
}

const REASONS = {
  low_confidence: "Low confidence",
  provisional: "Provisional grade",
  sample: "Random sample",
};
const SHORTCUTS = [
  ["C", "confirm the review"],
  ["F", "flip pass / fail"],
  ["N", "next answer"],
  ["Ctrl+Enter", "confirm while typing"],
];

function points(value) {
  const n = Number(value);
  if (!Number.isFinite(n)) return "0";
  return Number.isInteger(n) ? String(n) : n.toFixed(2).replace(/0+$/, "").replace(/\.$/, "");
}

// How often an open review page checks the queue for new answers (it says so; it never redraws
// under a reviewer's hands).
const QUEUE_CHECK_MS = 30000;

function percent(value) {
  return value === null || value === undefined ? "—" : `${Math.round(Number(value) * 100)} %`;
}

function queuePath(filters) {
  const query = new URLSearchParams({ limit: "100" });
  if (filters.challenge) query.set("challenge_id", filters.challenge);
  if (filters.step) query.set("step_id", filters.step);
  return `/api/review/queue?${query}`;
}

function isTyping(target) {
  return target instanceof Element && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
}

export async function renderReview({ isCurrent }) {
  const catalogue = await api.challenges();
  const filters = { challenge: "", step: "" };
  const page = { items: [], index: 0, draft: null, busy: false };

  const queueList = h("ol", { class: "review-list plain-list", "aria-label": "Answers awaiting review" });
  const queueCount = h("p", { class: "muted small", role: "status" });
  const detail = h("div", { class: "review-detail" });
  const statsCard = h("section", { class: "review-stats card", "aria-label": "Grader agreement", hidden: true });
  const stepSelect = h("select", { id: uid("review-step"), disabled: true }, h("option", { value: "" }, "All steps"));
  const challengeSelect = h(
    "select",
    { id: uid("review-challenge") },
    h("option", { value: "" }, "All challenges"),
    ...catalogue.map((c) => h("option", { value: c.id }, c.title || c.id)),
  );

  challengeSelect.addEventListener("change", async () => {
    filters.challenge = challengeSelect.value;
    filters.step = "";
    replaceChildren(stepSelect, h("option", { value: "" }, "All steps"));
    stepSelect.disabled = true;
    if (filters.challenge) {
      try {
        const detailData = await api.challenge(filters.challenge);
        const steps = (detailData.steps || []).filter((s) => (s.type || s.kind) === "chat");
        for (const s of steps) stepSelect.appendChild(h("option", { value: s.id }, s.title || s.id));
        stepSelect.disabled = false;
      } catch (error) {
        showError(error);
      }
    }
    await load();
  });
  stepSelect.addEventListener("change", async () => {
    filters.step = stepSelect.value;
    await load();
  });

  const filterBar = h(
    "form",
    { class: "review-filters card", "aria-label": "Filter the queue", onsubmit: (e) => e.preventDefault() },
    h("div", { class: "field" }, h("label", { for: challengeSelect.id }, "Challenge"), challengeSelect),
    h("div", { class: "field" }, h("label", { for: stepSelect.id }, "Step"), stepSelect),
    h("button", { type: "button", class: "btn btn-secondary", onclick: () => load() }, "Refresh"),
  );

  const shortcuts = h(
    "div",
    { class: "review-shortcuts muted small", "aria-label": "Keyboard shortcuts" },
    h("span", { text: "Shortcuts: " }),
    ...SHORTCUTS.flatMap(([key, what], i) => [i ? " · " : null, h("kbd", { text: key }), ` ${what}`]),
  );

  const el = h(
    "section",
    { class: "review-page" },
    h(
      "div",
      { class: "page-head" },
      h(
        "div",
        {},
        h("h1", {}, "Review"),
        h("p", { class: "muted" }, "Confirm or correct the grades of written answers. Learners see your verdict and comment."),
      ),
    ),
    filterBar,
    shortcuts,
    h("div", { class: "review-layout" }, h("div", { class: "review-queue card" }, h("h2", {}, "Queue"), queueCount, queueList), detail),
    statsCard,
  );

  function showError(error, onReplace) {
    const box = errorBox(error.message || "Something went wrong. Please try again.");
    box.classList.add("review-error");
    if (onReplace) {
      box.appendChild(
        h("button", { type: "button", class: "btn btn-danger", onclick: onReplace }, "Replace the earlier review"),
      );
    }
    const old = detail.querySelector(".review-error");
    if (old) old.remove();
    detail.prepend(box);
    focusEl(box.querySelector("button") || box);
  }

  let loads = 0;
  async function load() {
    const mine = ++loads; // only the latest request draws: filters may change while one is out
    let data;
    try {
      data = await api.request("GET", queuePath(filters));
    } catch (error) {
      if (!isCurrent() || mine !== loads) return;
      replaceChildren(detail, errorBox(error.message, () => load()));
      return;
    }
    if (!isCurrent() || mine !== loads) return;
    page.items = data.items;
    page.index = 0;
    drawQueue();
    select(0);
    await loadStats();
  }

  // Grader–reviewer agreement of the chosen challenge, per step (GET /api/review/stats).
  let statsLoads = 0;
  async function loadStats() {
    const mine = ++statsLoads;
    if (!filters.challenge) {
      statsCard.hidden = true;
      return;
    }
    let data;
    try {
      data = await api.request("GET", `/api/review/stats?${new URLSearchParams({ challenge_id: filters.challenge })}`);
    } catch (error) {
      if (!isCurrent() || mine !== statsLoads) return;
      replaceChildren(statsCard, h("h2", {}, "Grader agreement"), errorBox(error.message, () => loadStats()));
      statsCard.hidden = false;
      return;
    }
    if (!isCurrent() || mine !== statsLoads) return;
    const steps = data.steps.filter((s) => !filters.step || s.step_id === filters.step);
    const body = steps.length
      ? h(
          "div",
          { class: "review-stats-scroll" },
          h(
            "table",
            { class: "review-stats-table" },
            h(
              "thead",
              {},
              h("tr", {}, ...["Step", "Reviews", "Agreement", "κ", "Labelled", "Trend (per 10 reviews)"].map((t) => h("th", { scope: "col", text: t }))),
            ),
            h(
              "tbody",
              {},
              ...steps.map((s) =>
                h(
                  "tr",
                  { "data-step-id": s.step_id },
                  h("th", { scope: "row", text: s.step_id }),
                  h("td", { text: String(s.reviewed) }),
                  h("td", { text: percent(s.agreement) }),
                  h("td", { text: s.kappa === null || s.kappa === undefined ? "—" : Number(s.kappa).toFixed(2) }),
                  h("td", { text: String(s.labelled_answers) }),
                  h("td", { text: s.agreement_trend.length ? s.agreement_trend.map(percent).join(" → ") : "—" }),
                ),
              ),
            ),
          ),
        )
      : h("p", { class: "muted", text: "No reviews of this challenge yet." });
    replaceChildren(
      statsCard,
      h("h2", {}, "Grader agreement"),
      h("p", { class: "muted small", text: "How often the grader's pass/fail matched the reviews; the grader learns from them." }),
      body,
    );
    statsCard.hidden = false;
  }

  // New answers arriving while the page is open are announced, not drawn in: the reviewer refreshes.
  async function checkQueue() {
    if (!isCurrent() || page.busy) return;
    let data;
    try {
      data = await api.request("GET", queuePath(filters));
    } catch {
      return; // the next check, or Refresh, tries again
    }
    if (!isCurrent()) return;
    const known = new Set(page.items.map((i) => i.review_id));
    const fresh = data.items.filter((i) => !known.has(i.review_id)).length;
    if (fresh) {
      queueCount.textContent = `${fresh} new answer${fresh === 1 ? "" : "s"} waiting: press Refresh.`;
    }
  }
  const queueTimer = setInterval(checkQueue, QUEUE_CHECK_MS);

  function drawQueue() {
    queueCount.textContent = page.items.length
      ? `${page.items.length} answer${page.items.length === 1 ? "" : "s"} awaiting review, oldest first.`
      : "";
    replaceChildren(
      queueList,
      page.items.map((item, i) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: ["review-entry", i === page.index && "active"],
              "aria-current": i === page.index ? "true" : null,
              dataset: { reviewId: item.review_id, sessionId: item.session_id, stepId: item.step_id, attempt: String(item.attempt) },
              onclick: () => select(i, true),
            },
            h("span", { class: "review-entry-title", text: item.step?.title || item.step_id }),
            h("span", { class: "muted small", text: `${item.challenge_id} · attempt ${item.attempt}` }),
            h("span", { class: `badge badge-${item.reason === "sample" ? "progress" : "fail"}`, text: REASONS[item.reason] || item.reason }),
          ),
        ),
      ),
    );
  }

  function select(index, focus = false) {
    page.index = index;
    const item = page.items[index];
    for (const [i, li] of [...queueList.children].entries()) {
      const button = li.querySelector("button");
      button.classList.toggle("active", i === index);
      if (i === index) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
    if (!item) {
      page.draft = null;
      replaceChildren(
        detail,
        h(
          "div",
          { class: "card review-empty" },
          h("h2", {}, "Nothing to review"),
          h("p", { class: "muted" }, filters.challenge ? "No answer of this selection awaits review." : "Every graded answer in the queue has been reviewed."),
        ),
      );
      return;
    }
    page.draft = {
      passed: Boolean(item.verdict.passed),
      items: Object.fromEntries((item.verdict.items || []).map((i) => [i.id, Number(i.points)])),
    };
    drawDetail(item);
    if (focus) focusEl(detail.querySelector("h2"));
  }

  function rubricRows(item) {
    const described = new Map((item.step?.rubric || []).map((r) => [r.id, r.description]));
    return (item.verdict.items || []).map((graded) => {
      const input = h("input", {
        type: "number",
        class: "review-points",
        min: "0",
        max: String(graded.max_points),
        step: "0.5",
        value: String(graded.points),
        "aria-label": `Your points for ${graded.id} (0 to ${graded.max_points})`,
        dataset: { item: graded.id },
      });
      input.addEventListener("input", () => {
        const n = Number(input.value);
        page.draft.items[graded.id] = Number.isFinite(n) ? Math.min(Math.max(n, 0), graded.max_points) : 0;
        drawTotal(item);
      });
      return h(
        "tr",
        { dataset: { item: graded.id } },
        h("th", { scope: "row" }, h("span", { text: graded.id }), described.get(graded.id) ? h("p", { class: "muted small", text: described.get(graded.id) }) : null),
        h("td", { class: "review-grader-points", text: `${points(graded.points)} / ${graded.max_points}` }),
        h("td", { class: "small", text: graded.feedback || "—" }),
        h("td", {}, input),
      );
    });
  }

  function drawTotal(item) {
    const total = Object.values(page.draft.items).reduce((a, b) => a + b, 0);
    const max = item.verdict.max_score;
    const needed = item.step ? (max * item.step.pass_threshold) / 100 : null;
    const out = detail.querySelector(".review-total");
    if (out) {
      out.textContent = `Your points: ${points(total)} / ${max}${needed === null ? "" : ` (a pass needs ${points(needed)})`}`;
    }
    for (const radio of detail.querySelectorAll("input[name=review-verdict]")) {
      radio.checked = (radio.value === "pass") === page.draft.passed;
    }
  }

  function drawDetail(item) {
    const verdict = item.verdict;
    const confidence = verdict.confidence === null || verdict.confidence === undefined ? "—" : Number(verdict.confidence).toFixed(2);
    const comment = h("textarea", { id: uid("review-comment"), class: "review-comment", rows: "3", maxlength: "2000", placeholder: "Shown to the learner with your verdict (optional)" });
    const verdictName = "review-verdict";
    const radio = (value, label) =>
      h(
        "label",
        { class: "field-inline" },
        h("input", {
          type: "radio",
          name: verdictName,
          value,
          checked: (value === "pass") === page.draft.passed,
          onchange: () => {
            page.draft.passed = value === "pass";
          },
        }),
        ` ${label}`,
      );
    const headingId = uid("review-heading");
    replaceChildren(
      detail,
      h(
        "article",
        { class: "card review-card", "aria-labelledby": headingId, dataset: { reviewId: item.review_id } },
        h("h2", { id: headingId, text: item.step?.title || item.step_id }),
        h("p", { class: "muted small", text: `${item.challenge_id} · step ${item.step_id} · attempt ${item.attempt} · ${REASONS[item.reason] || item.reason} · ${new Date(item.created_at).toLocaleString()}` }),
        item.step?.prompt ? h("div", {}, h("h3", {}, "Question"), h("p", { class: "review-prompt", text: item.step.prompt })) : null,
        h("h3", {}, "Answer"),
        h("blockquote", { class: "review-answer", text: item.answer }),
        item.step?.reference_answer
          ? h("details", {}, h("summary", {}, "Reference answer"), h("p", { class: "review-reference", text: item.step.reference_answer }))
          : null,
        h("h3", {}, "Grader"),
        h(
          "p",
          { class: "review-verdict" },
          h("span", { class: `badge ${verdict.passed ? "badge-pass" : "badge-fail"}`, text: verdict.passed ? "Passed" : "Failed" }),
          ` ${points(verdict.score)} / ${verdict.max_score} points · confidence `,
          h("strong", { class: "review-confidence", text: confidence }),
          ` · ${verdict.grader}`,
        ),
        h(
          "div",
          { class: "review-rubric-scroll" },
          h(
          "table",
          { class: "table review-rubric" },
          h("caption", { class: "visually-hidden" }, "Rubric: the grader's points and yours"),
          h("thead", {}, h("tr", {}, ...["Rubric item", "Grader", "Grader's feedback", "Your points"].map((t) => h("th", { scope: "col", text: t })))),
          h("tbody", {}, rubricRows(item)),
          ),
        ),
        h("p", { class: "review-total", role: "status" }),
        h("fieldset", { class: "review-pass" }, h("legend", {}, "Your verdict"), radio("pass", "Passed"), radio("fail", "Failed")),
        h("div", { class: "field" }, h("label", { for: comment.id }, "Comment for the learner"), comment),
        h(
          "div",
          { class: "step-actions" },
          h("button", { type: "button", class: "btn btn-primary review-confirm", onclick: () => confirm() }, "Confirm review (C)"),
          h("button", { type: "button", class: "btn btn-secondary review-flip", onclick: () => flip() }, "Flip pass/fail (F)"),
          h("button", { type: "button", class: "btn btn-ghost review-next", onclick: () => next() }, "Next (N)"),
        ),
      ),
    );
    drawTotal(item);
  }

  function flip() {
    if (!page.draft) return;
    page.draft.passed = !page.draft.passed;
    drawTotal(page.items[page.index]);
    announce(page.draft.passed ? "Verdict: passed." : "Verdict: failed.");
  }

  function next() {
    if (!page.items.length) return;
    select((page.index + 1) % page.items.length, true);
  }

  async function confirm(replace = false) {
    const item = page.items[page.index];
    if (!item || !page.draft || page.busy) return;
    const changed = (item.verdict.items || []).filter((i) => Math.abs(Number(i.points) - page.draft.items[i.id]) > 0.004);
    const body = { passed: page.draft.passed, comment: detail.querySelector(".review-comment")?.value || "" };
    if (changed.length) body.items = Object.fromEntries(changed.map((i) => [i.id, page.draft.items[i.id]]));
    if (replace) body.replace = true;
    page.busy = true;
    const buttons = detail.querySelectorAll("button");
    for (const b of buttons) b.disabled = true;
    try {
      const applied = await api.request("POST", `/api/review/${encodeURIComponent(item.review_id)}`, { body });
      if (!isCurrent()) return;
      page.items.splice(page.index, 1);
      const at = Math.min(page.index, Math.max(page.items.length - 1, 0));
      drawQueue();
      select(at, true);
      const done = h(
        "div",
        { class: "notice notice-info review-saved", role: "status" },
        h("p", { text: `Saved: ${applied.passed ? "passed" : "failed"}, ${points(applied.score)} / ${applied.max_score} points. The session's total is now ${points(applied.session_score)}.` }),
      );
      detail.prepend(done);
      announce(done.textContent);
      loadStats();
    } catch (error) {
      if (!isCurrent()) return;
      for (const b of buttons) b.disabled = false;
      if (error.status === 409 && /already reviewed/i.test(error.message)) {
        // Someone reviewed this answer since the queue loaded: say so in words, offer to replace.
        showError({ message: "This answer is already reviewed: someone else reviewed it meanwhile. Replace that review with yours?" }, () => confirm(true));
      } else {
        showError(error);
      }
    } finally {
      page.busy = false;
    }
  }

  function onKey(event) {
    if (!page.draft || event.altKey || event.defaultPrevented) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      confirm();
      return;
    }
    if (event.ctrlKey || event.metaKey || isTyping(event.target)) return;
    const key = event.key.toLowerCase();
    if (key === "c") confirm();
    else if (key === "f") flip();
    else if (key === "n") next();
    else return;
    event.preventDefault();
  }
  document.addEventListener("keydown", onKey);

  await load();
  return {
    el,
    title: "Review",
    dispose: () => {
      document.removeEventListener("keydown", onKey);
      clearInterval(queueTimer);
    },
  };
}
