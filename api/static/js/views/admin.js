// Admin analytics: completions, pass rate per challenge, most-failed steps, daily active learners,
// XP and LLM cost, drawn as SVG charts (GET /api/admin/analytics, admins); and item analysis per
// challenge version and step (GET /api/admin/item-analysis/{id}, authors and admins).

import * as api from "../api.js";
import { barChart, seriesChart } from "../charts.js";
import { errorBox, h, replaceChildren } from "../dom.js";
import { money, percent } from "../format.js";

function num(value) {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

function list(value) {
  return Array.isArray(value) ? value : [];
}

/** A pass rate as a percentage: the API sends a fraction (0–1), or null with nothing completed. */
function passPercent(row) {
  return row.pass_rate === null ? 0 : row.pass_rate * 100;
}

function tile(label, value, note) {
  return h(
    "div",
    { class: "card stat" },
    h("p", { class: "stat-label", text: label }),
    h("p", { class: "stat-value", text: value }),
    note ? h("p", { class: "muted small", text: note }) : null,
  );
}

function ms(value) {
  return value === null || value === undefined ? "—" : `${Math.round(num(value))} ms`;
}

function rate(value) {
  return value === null || value === undefined ? "—" : percent(num(value) * 100);
}

/** Request and LLM health: latency percentiles and error/success rates (GET …/analytics `system`). */
function systemTable(system) {
  const { requests, llm } = system;
  const row = (name, stats, count, outcome) =>
    h(
      "tr",
      {},
      h("th", { scope: "row", text: name }),
      h("td", { text: String(num(count)) }),
      h("td", { text: ms(stats.latency.p50_ms) }),
      h("td", { text: ms(stats.latency.p95_ms) }),
      h("td", { text: ms(stats.latency.p99_ms) }),
      h("td", { text: outcome }),
    );
  return h(
    "div",
    { class: "card system-stats" },
    h("h2", { text: "System" }),
    h(
      "table",
      { class: "table" },
      h(
        "thead",
        {},
        h("tr", {}, ...["", "calls", "p50", "p95", "p99", "outcome"].map((t) => h("th", { scope: "col", text: t }))),
      ),
      h(
        "tbody",
        {},
        row(
          "API requests (this process)",
          requests,
          requests.requests,
          `${rate(requests.server_error_rate)} server errors (5xx) · ${rate(requests.client_error_rate)} client errors (4xx)`,
        ),
        row("LLM provider calls", llm, llm.calls, `${rate(llm.success_rate)} succeeded`),
      ),
    ),
    h("p", { class: "muted small", text: "Request percentiles are estimated from histogram buckets; LLM ones are exact." }),
  );
}

function series(rows, key) {
  return list(rows)
    .map((r) => ({ x: r.day, y: num(r[key]) }))
    .filter((p) => p.x)
    .sort((a, b) => a.x.localeCompare(b.x));
}

const shareText = (value) => (value === null ? "—" : percent(100 * value));
const medianText = (value) => (value === null ? "—" : String(value));

/** What the step's answers show beyond the figures: wrong choices picked, rubric item hit rates. */
function stepDetails(step) {
  const wrong = step.choices.filter((c) => !c.correct && c.picked > 0).sort((a, b) => b.picked - a.picked);
  const parts = [];
  if (step.choices.length) {
    parts.push(
      h(
        "p",
        { class: "item-detail" },
        h("span", { class: "muted", text: "Wrong choices picked: " }),
        wrong.length ? wrong.map((c) => `“${c.text}” ×${c.picked}`).join(" · ") : "none",
      ),
    );
  }
  if (step.rubric.length) {
    parts.push(
      h(
        "p",
        { class: "item-detail" },
        h("span", { class: "muted", text: "Rubric items at full points: " }),
        step.rubric.map((r) => `${r.item_id} ${shareText(r.hit_rate)} (of ${r.graded})`).join(" · "),
      ),
    );
  }
  return parts;
}

function versionTable(version) {
  const head = ["Step", "Reached", "First try", "Discrimination", "Median attempts", "Median hints", "Dropped"];
  return h(
    "div",
    { class: "item-version" },
    h("h3", { text: `Version ${version.version} · ${version.sessions} sessions, ${version.completed} completed, ${version.passed} passed` }),
    h(
      "div",
      { class: "table-card" },
      h(
        "table",
        { class: "table compact item-table" },
        h("thead", {}, h("tr", {}, ...head.map((t) => h("th", { scope: "col", text: t })))),
        h(
          "tbody",
          {},
          ...version.steps.map((step) =>
            h(
              "tr",
              { "data-step": step.step_id },
              h("th", { scope: "row" }, h("span", { text: `${step.index + 1}. ${step.title}` }), h("span", { class: "muted small", text: ` ${step.kind}` }), ...stepDetails(step)),
              h("td", { class: "num", text: String(step.reached) }),
              h("td", { class: "num", text: shareText(step.difficulty) }),
              h("td", { class: "num", text: step.discrimination === null ? "—" : step.discrimination.toFixed(2) }),
              h("td", { class: "num", text: medianText(step.median_attempts) }),
              h("td", { class: "num", text: medianText(step.median_hints) }),
              h("td", { class: "num", text: String(step.dropped) }),
            ),
          ),
        ),
      ),
    ),
  );
}

/** Item analysis of one challenge at a time, chosen from the catalogue. */
async function itemAnalysisSection() {
  const challenges = await api.challenges();
  const body = h("div", { class: "item-analysis-body", "aria-live": "polite" });
  const select = h(
    "select",
    { id: "item-challenge" },
    ...challenges.map((c) => h("option", { value: c.id, text: c.title })),
  );
  async function load() {
    replaceChildren(body, h("p", { class: "muted", text: "Loading…" }));
    try {
      const analysis = await api.itemAnalysis(select.value);
      replaceChildren(
        body,
        analysis.versions.length ? analysis.versions.map(versionTable) : h("p", { class: "muted", text: "Nobody has played this challenge yet." }),
      );
    } catch (error) {
      replaceChildren(body, errorBox(error.message));
    }
  }
  select.addEventListener("change", load);
  if (challenges.length) load();
  return h(
    "section",
    { class: "card item-analysis", "aria-labelledby": "item-analysis-title" },
    h("h2", { id: "item-analysis-title", text: "Item analysis" }),
    h(
      "p",
      { class: "muted small" },
      "Per version and step: the share passing on the first try, discrimination (that share among learners who passed the challenge minus among those who did not), the median attempts and hints, and sessions that stopped at the step for good.",
    ),
    h("label", { class: "field-label", for: "item-challenge" }, "Challenge"),
    select,
    body,
  );
}

export async function renderAdmin({ app }) {
  if (app.user.role !== "admin") {
    // Authors see the item analysis only: the other figures are about every learner.
    const el = h("section", { class: "admin" }, h("div", { class: "page-head" }, h("h1", {}, "Item analysis")), await itemAnalysisSection());
    return { el, title: "Item analysis" };
  }
  const data = (await api.analytics()) || {};
  const challenges = list(data.challenges);
  const passItems = challenges.map((r) => ({
    label: `${r.title} (${r.completed} completed)`,
    value: passPercent(r),
    display: r.completed ? percent(passPercent(r)) : "—",
    empty: !r.completed, // no completions: no bar at all, not a 0% sliver
  }));
  const failedItems = list(data.most_failed_steps)
    .slice(0, 10)
    .map((r) => ({
      label: `${r.challenge_title} · ${r.step_title}`,
      value: num(r.failures),
      display: String(num(r.failures)),
    }));
  const active = series(data.daily_active_learners, "learners");
  const cost = series(data.llm_cost_per_day, "cost_usd");
  const activeDays = series(data.daily_active_learners, "learners").map((p) => p.x);
  // A $0 day is a figure, not a gap: show every active day, at $0 when nothing was spent.
  const costByDay = new Map(cost.map((p) => [p.x, p.y]));
  const costSeries = activeDays.length ? activeDays.map((x) => ({ x, y: costByDay.get(x) ?? 0 })) : cost;
  const overall = data.pass_rate === null || data.pass_rate === undefined ? null : num(data.pass_rate) * 100;

  const el = h(
    "section",
    { class: "admin" },
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", {}, "Analytics"), h("p", { class: "muted" }, "How learners are doing across all challenges.")),
    ),
    h(
      "div",
      { class: "stats" },
      tile("Learners", String(num(data.learners)), `${num(data.sessions)} sessions`),
      tile("Completions", String(num(data.completions)), overall === null ? null : `${percent(overall)} passed`),
      tile("XP granted", String(num(data.xp_granted))),
      // One source per figure: calls come from the usage ledger, as in the System table below.
      tile("LLM cost", money(num(data.llm_cost_usd)), `${data.system.llm.calls} provider calls`),
    ),
    h(
      "div",
      { class: "chart-grid" },
      h("div", { class: "card" }, barChart({ title: "Pass rate per challenge", items: passItems, max: 100, unitLabel: "Pass rate", tone: "success" })),
      h("div", { class: "card" }, barChart({ title: "Most-failed steps", items: failedItems, unitLabel: "Failed attempts", tone: "danger" })),
      h("div", { class: "card" }, seriesChart({ title: "Daily active learners", points: active, kind: "line", integer: true, unitLabel: "Learners", format: (v) => String(Math.round(v)) })),
      h("div", { class: "card" }, seriesChart({ title: "LLM cost per day", points: costSeries, kind: "columns", unitLabel: "Cost", tone: "accent", format: money })),
    ),
    systemTable(data.system),
    await itemAnalysisSection(),
    data.generated_at ? h("p", { class: "muted small" }, `Generated ${new Date(data.generated_at).toLocaleString()}.`) : null,
  );
  return { el, title: "Analytics" };
}
