// Small DOM helpers. Text always goes in through textContent / text nodes; the only way to insert
// markup is setServerHtml(), reserved for the *_html fields the server has already sanitised.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(parent, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child) append(parent, c);
  } else if (child instanceof Node) {
    parent.appendChild(child);
  } else {
    parent.appendChild(document.createTextNode(String(child)));
  }
}

function applyAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") {
      el.textContent = String(value);
    } else if (key === "class") {
      el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "value" && "value" in el) {
      el.value = value;
    } else if (key === "checked" || key === "disabled" || key === "hidden" || key === "selected") {
      el[key] = Boolean(value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

/** Create an HTML element: h("p", {class: "x"}, "text", child, ...). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Create an SVG element the same way (attributes are set verbatim). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined) continue;
    if (key === "text") el.textContent = String(value);
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/** Replace an element's children. */
export function replaceChildren(el, ...children) {
  el.textContent = "";
  append(el, children);
  return el;
}

/**
 * Insert HTML that the server rendered from Markdown and sanitised (the API's *_html fields).
 * Never call this with anything else: learner answers, names and feedback are text.
 */
export function setServerHtml(el, html) {
  el.innerHTML = typeof html === "string" ? html : "";
  // Links from authored content open safely in a new tab.
  for (const a of el.querySelectorAll("a[href]")) {
    a.setAttribute("rel", "noopener noreferrer nofollow");
    a.setAttribute("target", "_blank");
  }
  return el;
}

/** Rich content: the sanitised HTML when the server sent it, else the plain text. */
export function richText(tag, attrs, html, text) {
  const el = h(tag, attrs);
  if (typeof html === "string" && html.trim()) setServerHtml(el, html);
  else if (text) el.textContent = text;
  return el;
}

let announceTimer = null;

/** Say something to screen readers through the page's polite live region. */
export function announce(message) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  clearTimeout(announceTimer);
  // A fresh text node after a tick makes screen readers announce repeated messages too.
  announceTimer = setTimeout(() => {
    region.textContent = message;
  }, 50);
}

/** Move focus to an element (making it focusable if it is a heading). */
export function focusEl(el, { preventScroll = false } = {}) {
  if (!el) return;
  if (!el.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) {
    el.setAttribute("tabindex", "-1");
  }
  el.focus({ preventScroll });
}

/** A loading placeholder. */
export function loading(label = "Loading…") {
  return h("div", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), label);
}

/** A friendly error block with an optional retry button. */
export function errorBox(message, onRetry) {
  return h(
    "div",
    { class: "notice notice-error", role: "alert" },
    h("p", { text: message }),
    onRetry ? h("button", { type: "button", class: "btn btn-secondary", onclick: onRetry }, "Try again") : null,
  );
}

let idCounter = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix = "id") {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}
