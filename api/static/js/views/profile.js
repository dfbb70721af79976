// The learner's profile: XP and level, completed challenges, session history, chat-identity linking.

import * as api from "../api.js";
import { focusEl, h, replaceChildren } from "../dom.js";
import { STATUS_LABELS, capitalise, date, dateTime, initials, percent, points } from "../format.js";

function levelCard(user) {
  const xp = user.xp;
  // Levels are the server's rule: it sends the level and where it begins and ends.
  const level = user.level;
  const levelStart = user.level_start_xp;
  const nextAt = user.next_level_xp;
  const span = Math.max(1, nextAt - levelStart);
  const into = Math.max(0, Math.min(span, xp - levelStart));
  const meter = h("div", {
    class: "meter meter-large",
    role: "progressbar",
    "aria-label": `Progress to level ${level + 1}`,
    "aria-valuemin": 0,
    "aria-valuemax": span,
    "aria-valuenow": into,
  });
  const fill = h("span", { class: "meter-fill" });
  fill.style.width = `${(100 * into) / span}%`;
  meter.appendChild(fill);
  return h(
    "section",
    { class: "card profile-card", "aria-labelledby": "profile-name" },
    h("div", { class: "profile-id" }, h("span", { class: "avatar large", "aria-hidden": "true", text: initials(user.display_name) }), h("div", {}, h("h2", { id: "profile-name", text: user.display_name || "Learner" }), h("p", { class: "muted", text: user.email || "" }), user.role && user.role !== "learner" ? h("span", { class: "badge badge-progress", text: capitalise(user.role) }) : null)),
    h(
      "dl",
      { class: "facts facts-big" },
      h("div", {}, h("dt", {}, "Level"), h("dd", { class: "profile-level", text: String(level) })),
      h("div", {}, h("dt", {}, "Total XP"), h("dd", { class: "profile-xp", text: String(xp) })),
      h("div", {}, h("dt", {}, "Completed"), h("dd", { text: String(user.completed.length) })),
    ),
    meter,
    h("p", { class: "muted small", text: `${nextAt - xp} XP to level ${level + 1}` }),
  );
}

function completedList(user, titles) {
  const done = user.completed;
  return h(
    "section",
    { class: "card", "aria-labelledby": "completed-title" },
    h("h2", { id: "completed-title" }, "Challenges passed"),
    done.length
      ? h(
          "ul",
          { class: "plain-list" },
          done.map((c) =>
            h(
              "li",
              { class: "row-between" },
              h("span", { text: titles[c.challenge_id] || c.challenge_id }),
              h("span", { class: "muted" }, h("strong", { class: "xp", text: `+${c.xp} XP` }), ` · ${date(c.granted_at)}`),
            ),
          ),
        )
      : h("p", { class: "muted" }, "None yet. Pass a challenge to earn its XP."),
  );
}

function historyTable(sessions, titles) {
  const sorted = sessions.slice().sort((a, b) => String(b.updated_at).localeCompare(String(a.updated_at)));
  if (!sorted.length) return h("p", { class: "muted" }, "No sessions yet.");
  return h(
    "table",
    { class: "table history" },
    h("caption", { class: "visually-hidden" }, "Your sessions"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Challenge"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col", class: "num" }, "Score"), h("th", { scope: "col", class: "hide-narrow" }, "Last played"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Action")))),
    h(
      "tbody",
      {},
      sorted.map((s) => {
        const open = s.status === "active" || s.status === "created";
        const pct = Number(s.max_score) ? (100 * Number(s.score)) / Number(s.max_score) : 0;
        let status = STATUS_LABELS[s.status] || s.status;
        if (s.status === "completed") status = s.passed ? "Passed" : "Not passed";
        return h(
          "tr",
          {},
          h("th", { scope: "row", text: titles[s.challenge_id] || s.challenge_id }),
          h("td", {}, h("span", { class: ["badge", s.status === "completed" ? (s.passed ? "badge-pass" : "badge-fail") : open ? "badge-progress" : "badge-new"], text: status })),
          h("td", { class: "num", text: `${points(s.score)} / ${points(s.max_score)}${s.status === "completed" ? ` (${percent(pct)})` : ""}` }),
          h("td", { class: "hide-narrow", text: dateTime(s.updated_at) }),
          h("td", {}, h("a", { href: `#/play/${s.session_id}`, class: "btn btn-small btn-secondary" }, open ? "Resume" : "Review")),
        );
      }),
    ),
  );
}

function identities(user) {
  const linked = user.identities;
  return linked.length
    ? h(
        "ul",
        { class: "plain-list" },
        linked.map((i) => {
          return h("li", {}, h("strong", { text: capitalise(i.platform) }), h("span", { class: "muted", text: ` · ${i.display_name}` }));
        }),
      )
    : h("p", { class: "muted" }, "No chat accounts linked yet.");
}

function linkSection(user) {
  const output = h("div", { class: "link-output", "aria-live": "polite" });
  const button = h("button", { type: "button", class: "btn btn-secondary" }, "Get a link code");
  button.addEventListener("click", async () => {
    button.disabled = true;
    replaceChildren(output);
    try {
      const data = await api.linkCode();
      const code = data.code;
      const codeEl = h("output", { class: "link-code", text: code });
      replaceChildren(
        output,
        h("p", {}, "Your one-time code:"),
        codeEl,
        h(
          "p",
          { class: "muted small" },
          "In Discord type ",
          h("code", { text: `/link ${code}` }),
          ", in Slack ",
          h("code", { text: `/curiouscore link ${code}` }),
          ". Your XP and history are then shared.",
          ` The code expires ${dateTime(data.expires_at)}.`,
        ),
      );
      focusEl(codeEl);
    } catch (error) {
      replaceChildren(output, h("p", { class: "form-error", role: "alert", text: error.message }));
    } finally {
      button.disabled = false;
    }
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "link-title" },
    h("h2", { id: "link-title" }, "Chat accounts"),
    h("p", { class: "muted" }, "Play in Discord or Slack with the same XP: link your chat account with a one-time code."),
    identities(user),
    button,
    output,
  );
}

export async function renderProfile({ app }) {
  const [user, sessions, challenges] = await Promise.all([app.refreshUser(), api.sessions(), api.challenges()]);
  const titles = Object.fromEntries(challenges.map((c) => [c.id, c.title]));
  const el = h(
    "section",
    { class: "profile" },
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Your profile"), h("p", { class: "muted" }, "Your XP, level and history."))),
    h("div", { class: "profile-grid" }, levelCard(user), completedList(user, titles), linkSection(user)),
    h("section", { class: "card table-card", "aria-labelledby": "history-title" }, h("h2", { id: "history-title" }, "History"), historyTable(sessions, titles)),
  );
  return { el, title: "Profile" };
}
