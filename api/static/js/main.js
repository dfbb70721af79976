// The app shell: header and navigation, hash routing, focus management on every page change.

import * as api from "./api.js";
import { announce, errorBox, focusEl, h, loading, replaceChildren } from "./dom.js";
import { initials } from "./format.js";
import { renderAdmin } from "./views/admin.js";
import { renderLogin, renderRegister } from "./views/auth.js";
import { renderCatalogue } from "./views/catalogue.js";
import { renderLeaderboard } from "./views/leaderboard.js";
import { renderPlayer } from "./views/player.js";
import { renderProfile } from "./views/profile.js";
import { canReview, renderReview } from "./views/review.js";

const ROUTES = [
  { pattern: /^\/login$/, view: renderLogin, public: true },
  { pattern: /^\/register$/, view: renderRegister, public: true },
  { pattern: /^\/challenges$/, view: renderCatalogue, nav: "challenges" },
  { pattern: /^\/play\/([A-Za-z0-9_.:-]+)$/, view: renderPlayer, nav: "challenges" },
  { pattern: /^\/profile$/, view: renderProfile, nav: "profile" },
  { pattern: /^\/leaderboard$/, view: renderLeaderboard, nav: "leaderboard" },
  { pattern: /^\/admin$/, view: renderAdmin, nav: "admin", admin: true },
  { pattern: /^\/review$/, view: renderReview, nav: "review", reviewer: true },
];

// The admin page: analytics for admins, item analysis for authors and admins.
const ADMIN_PAGE_ROLES = new Set(["admin", "author"]);

const app = {
  user: null,
  main: null,
  header: null,
  current: null, // {dispose} of the page on screen
  renderId: 0,

  navigate(path) {
    const target = `#${path}`;
    if (location.hash === target) route();
    else location.hash = target;
  },

  async refreshUser() {
    try {
      app.user = await api.me();
    } catch (error) {
      if (error.status === 401) app.user = null;
      else throw error;
    }
    renderHeader();
    return app.user;
  },
};

function currentPath() {
  const hash = location.hash || "";
  return hash.startsWith("#/") ? decodeURI(hash.slice(1)) : "";
}

function navLink(path, label, key, active) {
  return h(
    "a",
    { href: `#${path}`, class: ["nav-link", active === key && "active"], "aria-current": active === key ? "page" : null },
    label,
  );
}

function renderHeader(active = app.activeNav) {
  app.activeNav = active;
  const user = app.user;
  const brand = h(
    "a",
    { class: "brand", href: user ? "#/challenges" : "#/login" },
    h("span", { class: "brand-mark", "aria-hidden": "true" }, "C"),
    h("span", { class: "brand-name" }, "CuriousCore"),
  );
  if (!user) {
    replaceChildren(app.header, h("div", { class: "header-inner" }, brand));
    return;
  }
  const nav = h(
    "nav",
    { class: "main-nav", "aria-label": "Main" },
    navLink("/challenges", "Challenges", "challenges", active),
    navLink("/profile", "Profile", "profile", active),
    navLink("/leaderboard", "Leaderboard", "leaderboard", active),
    ADMIN_PAGE_ROLES.has(user.role) ? navLink("/admin", "Admin", "admin", active) : null,
    canReview(user) ? navLink("/review", "Review", "review", active) : null,
  );
  const who = h(
    "div",
    { class: "user-chip" },
    h("span", { class: "avatar", "aria-hidden": "true", text: initials(user.display_name) }),
    h(
      "span",
      { class: "user-text" },
      h("span", { class: "user-name", text: user.display_name || "Learner" }),
      h("span", { class: "user-level", text: `Level ${user.level} · ${user.xp} XP` }),
    ),
    h(
      "button",
      {
        type: "button",
        class: "btn btn-ghost btn-small",
        onclick: async () => {
          await api.logout();
          announce("You are logged out.");
        },
      },
      "Log out",
    ),
  );
  replaceChildren(app.header, h("div", { class: "header-inner" }, brand, nav, who));
}

async function route() {
  const path = currentPath();
  if (!path) {
    location.replace(api.isLoggedIn() ? "#/challenges" : "#/login");
    return;
  }
  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  if (!match) {
    location.replace("#/challenges");
    return;
  }
  const { r, m } = match;
  if (!r.public && !api.isLoggedIn()) {
    sessionStorage.setItem("curiouscore.after-login", path);
    location.replace("#/login");
    return;
  }
  if (r.public && api.isLoggedIn()) {
    location.replace("#/challenges");
    return;
  }

  const renderId = ++app.renderId;
  if (app.current && app.current.dispose) app.current.dispose();
  app.current = null;
  window.scrollTo(0, 0);
  replaceChildren(app.main, loading());

  try {
    if (!r.public && !app.user) await app.refreshUser();
    if (renderId !== app.renderId) return;
    if (!r.public && !app.user) {
      location.replace("#/login");
      return;
    }
    if (r.admin && !ADMIN_PAGE_ROLES.has(app.user.role)) {
      replaceChildren(app.main, errorBox("This page is for administrators and authors."));
      return;
    }
    if (r.reviewer && !canReview(app.user)) {
      replaceChildren(app.main, errorBox("This page is for reviewers, authors and administrators."));
      return;
    }
    renderHeader(r.nav);
    const page = await r.view({ app, params: m.slice(1), isCurrent: () => renderId === app.renderId });
    if (renderId !== app.renderId) {
      if (page && page.dispose) page.dispose();
      return;
    }
    app.current = page;
    replaceChildren(app.main, page.el);
    document.title = page.title ? `${page.title} · CuriousCore` : "CuriousCore";
    const target = (page.focus && page.focus()) || app.main.querySelector("h1");
    focusEl(target);
    if (page.title) announce(page.title);
  } catch (error) {
    if (renderId !== app.renderId) return;
    if (error.status === 401) return; // the auth listener has already sent us to the login page
    const final = error.status === 403 || error.status === 404;
    const box = errorBox(error.message || "Something went wrong. Please try again.", final ? null : () => route());
    if (final) box.appendChild(h("a", { class: "btn btn-secondary", href: "#/challenges" }, "Back to challenges"));
    replaceChildren(app.main, box);
    focusEl(box);
  }
}

function start() {
  app.header = document.getElementById("site-header");
  app.main = document.getElementById("main");

  document.getElementById("skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    focusEl(app.main.querySelector("h1") || app.main);
  });

  api.onAuthChange(async (loggedIn, reason) => {
    if (loggedIn) {
      const next = sessionStorage.getItem("curiouscore.after-login");
      sessionStorage.removeItem("curiouscore.after-login");
      app.user = null;
      app.navigate(next && next !== "/login" && next !== "/register" ? next : "/challenges");
    } else {
      signedOut(reason);
    }
  });

  window.addEventListener("hashchange", route);
  renderHeader();
  replaceChildren(app.main, loading());
  // The access token is kept in memory only: after a reload, the refresh cookie brings it back.
  api.restore().then(
    (state) => (state === "expired" ? signedOut("expired") : route()),
    () => route(),
  );
}

function signedOut(reason) {
  app.user = null;
  renderHeader();
  if (reason === "expired") {
    sessionStorage.setItem("curiouscore.flash", "Your session has expired. Please log in again.");
    const path = currentPath();
    if (path && path !== "/login" && path !== "/register") sessionStorage.setItem("curiouscore.after-login", path);
  }
  app.navigate("/login");
}

start();
