// The leaderboard: top learners by XP.

import * as api from "../api.js";
import { h } from "../dom.js";
import { initials } from "../format.js";

export async function renderLeaderboard({ app }) {
  const rows = await api.leaderboard();
  const meId = app.user ? app.user.id : null;
  const table = h(
    "table",
    { class: "table leaderboard" },
    h("caption", { class: "visually-hidden" }, "Top learners by XP"),
    h(
      "thead",
      {},
      h("tr", {}, h("th", { scope: "col" }, "Rank"), h("th", { scope: "col" }, "Learner"), h("th", { scope: "col", class: "num" }, "Level"), h("th", { scope: "col", class: "num" }, "XP"), h("th", { scope: "col", class: "num hide-narrow" }, "Completed")),
    ),
    h(
      "tbody",
      {},
      rows.map((row) => {
        const rank = row.rank;
        const isMe = row.learner_id === meId;
        return h(
          "tr",
          { class: [isMe && "is-me", rank <= 3 && `top top-${rank}`], "aria-current": isMe ? "true" : null },
          h("td", { class: "rank" }, h("span", { class: "rank-badge", text: String(rank) })),
          h(
            "th",
            { scope: "row" },
            h(
              "span",
              { class: "learner" },
              h("span", { class: "avatar small", "aria-hidden": "true", text: initials(row.display_name) }),
              h("span", { class: "learner-name", text: row.display_name }),
              isMe ? h("span", { class: "you-chip" }, "you") : null,
            ),
          ),
          h("td", { class: "num", text: String(row.level) }),
          h("td", { class: "num xp", text: String(row.xp) }),
          h("td", { class: "num hide-narrow", text: String(row.completed) }),
        );
      }),
    ),
  );
  const el = h(
    "section",
    { class: "leaderboard-page" },
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Leaderboard"), h("p", { class: "muted" }, "Top learners by XP. XP is earned once per challenge, on your first pass."))),
    rows.length ? h("div", { class: "card table-card" }, table) : h("p", { class: "notice notice-info" }, "Nobody has earned XP yet. Be the first!"),
  );
  return { el, title: "Leaderboard" };
}
