// The challenge catalogue, with the learner's progress on each challenge.

import * as api from "../api.js";
import { announce, h, replaceChildren, richText } from "../dom.js";
import { KIND_LABELS, capitalise, percent, plural, points } from "../format.js";

const DIFFICULTIES = ["beginner", "intermediate", "advanced", "expert"];

/** Start a fresh session of a challenge and open the player on it. */
export async function startChallenge(app, challengeId, button) {
  const label = button ? button.textContent : "";
  if (button) {
    button.disabled = true;
    button.textContent = "Starting…";
  }
  try {
    const view = await api.createSession(challengeId);
    const id = view.session_id;
    if (view.ui_mode === "NOT_STARTED") await api.start(id);
    app.navigate(`/play/${id}`);
  } catch (error) {
    if (button) {
      button.disabled = false;
      button.textContent = label;
    }
    announce(error.message);
    throw error;
  }
}

/** "Start over" asks first (in the page, no dialog), then abandons the attempt in progress so it does
 * not stay "In progress" forever, and starts a new one. */
function startOverButton(app, challengeId, openSessionId) {
  let armed = false;
  const button = h("button", { type: "button", class: "btn btn-secondary" }, "Start over");
  button.addEventListener("click", () => {
    if (!armed) {
      armed = true;
      button.textContent = "Abandon progress and start over?";
      button.classList.add("btn-danger");
      return;
    }
    button.disabled = true;
    api
      .abandon(openSessionId)
      .catch(() => {}) // already finished elsewhere: starting over still works
      .then(() => startChallenge(app, challengeId, button))
      .catch(() => {});
  });
  button.addEventListener("blur", () => {
    if (armed && !button.disabled) {
      armed = false;
      button.textContent = "Start over";
      button.classList.remove("btn-danger");
    }
  });
  return button;
}

function byRecent(a, b) {
  return String(b.updated_at || "").localeCompare(String(a.updated_at || ""));
}

/** What the learner has done with one challenge: the session to resume and the best finish. */
export function progressFor(challengeId, sessions) {
  const mine = sessions.filter((s) => s.challenge_id === challengeId).sort(byRecent);
  const open = mine.find((s) => s.status === "active" || s.status === "created");
  const finished = mine.filter((s) => s.status === "completed");
  const ratio = (s) => (Number(s.max_score) ? Number(s.score) / Number(s.max_score) : 0);
  const best = finished.slice().sort((a, b) => ratio(b) - ratio(a))[0] || null;
  return { open, best, passed: finished.some((s) => s.passed) };
}

function statusBadge(progress) {
  if (progress.open) {
    const s = progress.open;
    const stepText = s.status === "created" ? "Not started" : `Step ${Math.min(s.step_index + 1, s.total_steps)} of ${s.total_steps}`;
    return h("span", { class: "badge badge-progress" }, `In progress · ${stepText}`);
  }
  if (progress.best) {
    const s = progress.best;
    const pct = Number(s.max_score) ? (100 * Number(s.score)) / Number(s.max_score) : 0;
    return progress.passed
      ? h("span", { class: "badge badge-pass" }, `Passed · ${percent(pct)}`)
      : h("span", { class: "badge badge-fail" }, `Completed · ${percent(pct)}`);
  }
  return h("span", { class: "badge badge-new" }, "New");
}

function progressMeter(progress) {
  const s = progress.open;
  if (!s || !s.total_steps) return null;
  const done = Math.max(0, Math.min(s.step_index, s.total_steps));
  const bar = h("div", {
    class: "meter",
    role: "progressbar",
    "aria-valuemin": 0,
    "aria-valuemax": s.total_steps,
    "aria-valuenow": done,
    "aria-label": "Progress",
    "aria-valuetext": `${done} of ${s.total_steps} steps done`,
  });
  const fill = h("span", { class: "meter-fill" });
  fill.style.width = `${(100 * done) / s.total_steps}%`;
  bar.appendChild(fill);
  return bar;
}

function challengeCard(app, c, progress) {
  const titleId = `challenge-${c.id}`;
  const actions = h("div", { class: "card-actions" });
  if (progress.open) {
    actions.appendChild(h("a", { class: "btn btn-primary", href: `#/play/${progress.open.session_id}` }, "Resume"));
    actions.appendChild(startOverButton(app, c.id, progress.open.session_id));
  } else {
    actions.appendChild(
      h(
        "button",
        { type: "button", class: "btn btn-primary", onclick: (e) => startChallenge(app, c.id, e.currentTarget).catch(() => {}) },
        progress.best ? "Play again" : "Start",
      ),
    );
    if (progress.best) {
      actions.appendChild(h("a", { class: "btn btn-ghost", href: `#/play/${progress.best.session_id}` }, "Review"));
    }
  }
  const kinds = Array.from(new Set(c.step_kinds || [])).map((k) => KIND_LABELS[k] || k);
  return h(
    "li",
    { class: "card challenge-card", "aria-labelledby": titleId },
    h(
      "div",
      { class: "challenge-head" },
      h("span", { class: `badge difficulty difficulty-${c.difficulty}` }, capitalise(c.difficulty)),
      statusBadge(progress),
    ),
    h("h2", { id: titleId, class: "challenge-title", text: c.title }),
    richText("div", { class: "challenge-summary prose" }, c.summary_html, c.summary || ""),
    h(
      "dl",
      { class: "facts" },
      h("div", {}, h("dt", {}, "Time"), h("dd", {}, `${c.estimated_minutes} min`)),
      h("div", {}, h("dt", {}, "Reward"), h("dd", {}, `${c.xp} XP`)),
      h("div", {}, h("dt", {}, "Steps"), h("dd", {}, String(c.step_count))),
    ),
    h("p", { class: "kinds muted", text: [...kinds, `pass mark ${c.passing_score}%`].join(" · ") }),
    progressMeter(progress),
    (c.tags || []).length
      ? h("ul", { class: "tags", "aria-label": "Tags" }, (c.tags || []).map((t) => h("li", { text: t })))
      : null,
    actions,
  );
}

export async function renderCatalogue({ app }) {
  const [challenges, sessions] = await Promise.all([api.challenges(), api.sessions()]);
  const list = h("ul", { class: "challenge-grid", role: "list" });
  const filter = h(
    "select",
    { id: "difficulty-filter" },
    h("option", { value: "" }, "All levels"),
    DIFFICULTIES.filter((d) => challenges.some((c) => c.difficulty === d)).map((d) => h("option", { value: d }, capitalise(d))),
  );
  const count = h("p", { class: "muted", role: "status" });

  function draw() {
    const level = filter.value;
    const shown = challenges.filter((c) => !level || c.difficulty === level);
    shown.sort((a, b) => DIFFICULTIES.indexOf(a.difficulty) - DIFFICULTIES.indexOf(b.difficulty) || a.title.localeCompare(b.title));
    replaceChildren(list, shown.map((c) => challengeCard(app, c, progressFor(c.id, sessions))));
    count.textContent = plural(shown.length, "challenge");
  }
  filter.addEventListener("change", draw);
  draw();

  const inProgress = sessions.filter((s) => s.status === "active" || s.status === "created").sort((a, b) => String(b.updated_at).localeCompare(String(a.updated_at)));
  const titles = Object.fromEntries(challenges.map((c) => [c.id, c.title]));
  const resume = inProgress.length
    ? h(
        "section",
        { class: "resume card", "aria-labelledby": "resume-title" },
        h("h2", { id: "resume-title" }, "Continue where you left off"),
        h(
          "ul",
          { class: "resume-list" },
          inProgress.slice(0, 3).map((s) =>
            h(
              "li",
              {},
              h("a", { href: `#/play/${s.session_id}` }, h("strong", { text: titles[s.challenge_id] || s.challenge_id })),
              h("span", { class: "muted", text: ` · step ${Math.min(s.step_index + 1, s.total_steps)} of ${s.total_steps} · ${points(s.score)} / ${points(s.max_score)} points` }),
            ),
          ),
        ),
      )
    : null;

  const el = h(
    "section",
    { class: "catalogue" },
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", {}, "Challenges"), h("p", { class: "muted" }, "Short, narrated challenges. Every answer gets feedback.")),
      h("div", { class: "field field-inline" }, h("label", { for: "difficulty-filter" }, "Level"), filter),
    ),
    resume,
    count,
    challenges.length ? list : h("p", { class: "notice notice-info" }, "No challenges have been published yet."),
  );
  return { el, title: "Challenges" };
}
