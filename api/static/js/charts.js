// Charts as inline SVG built with DOM APIs (no markup strings, no libraries). Each chart is a
// <figure> with an accessible name and a data table behind a disclosure for screen readers.

import { h, s, uid } from "./dom.js";

/** A viewBox width close to the chart's on-screen width, so SVG text renders near its nominal size. */
export function chartWidth() {
  const vw = window.innerWidth || 640;
  const column = vw >= 1000 ? (Math.min(vw, 1120) - 96) / 2 : vw - 64;
  return Math.round(Math.min(640, Math.max(280, column)));
}

function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * exp >= value) return step * exp;
  }
  return 10 * exp;
}

function dataTable(caption, headers, rows) {
  return h(
    "details",
    { class: "chart-data" },
    h("summary", {}, "Show the data"),
    h(
      "table",
      { class: "table compact" },
      h("caption", { class: "visually-hidden", text: caption }),
      h("thead", {}, h("tr", {}, headers.map((t, i) => h("th", { scope: "col", class: i ? "num" : null, text: t })))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((cell, i) => (i ? h("td", { class: "num", text: cell }) : h("th", { scope: "row", text: cell })))))),
    ),
  );
}

function figure(title, description, svg, table) {
  const titleId = uid("chart-title");
  const descId = uid("chart-desc");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-labelledby", `${titleId} ${descId}`);
  svg.prepend(s("title", { id: titleId, text: title }), s("desc", { id: descId, text: description }));
  return h("figure", { class: "chart" }, h("figcaption", { class: "chart-title", text: title }), svg, table);
}

function empty(title, message = "No data yet.") {
  return h("figure", { class: "chart chart-empty" }, h("figcaption", { class: "chart-title", text: title }), h("p", { class: "muted", text: message }));
}

/**
 * Horizontal bars, one row per item: the label above its bar, the value at the bar's end.
 * items: [{label, value, display}], max: the scale's top (defaults to the largest value).
 */
export function barChart({ title, items, max, unitLabel = "Value", tone = "primary", describe, width = chartWidth() }) {
  const WIDTH = width;
  if (!items.length) return empty(title);
  const top = max ?? niceMax(Math.max(...items.map((i) => i.value)));
  const row = 46;
  const labelWidth = WIDTH - 76;
  const height = items.length * row + 6;
  const svg = s("svg", { viewBox: `0 0 ${WIDTH} ${height}`, class: `chart-svg bars tone-${tone}`, preserveAspectRatio: "xMinYMin meet" });
  items.forEach((item, i) => {
    const y = i * row;
    const w = item.empty || !(item.value > 0) ? 0 : top > 0 ? Math.max(2, (labelWidth * item.value) / top) : 0;
    const g = s("g", { class: "bar-row" });
    g.append(
      s("text", { x: 0, y: y + 15, class: "bar-label", text: truncate(item.label, Math.floor(WIDTH / 7.5)) }),
      s("rect", { x: 0, y: y + 22, width: labelWidth, height: 16, rx: 4, class: "bar-track" }),
      s("rect", { x: 0, y: y + 22, width: w, height: 16, rx: 4, class: "bar" }, s("title", { text: `${item.label}: ${item.display}` })),
      s("text", { x: WIDTH, y: y + 35, "text-anchor": "end", class: "bar-value", text: item.display }),
    );
    svg.appendChild(g);
  });
  const description = describe || items.map((i) => `${i.label}: ${i.display}`).join("; ");
  return figure(title, description, svg, dataTable(title, ["Item", unitLabel], items.map((i) => [i.label, i.display])));
}

function shortDate(iso) {
  const d = new Date(`${String(iso).slice(0, 10)}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
}

function axes(svg, { left, top, plotW, plotH, yMax, format, points }) {
  for (let t = 0; t <= 4; t += 1) {
    const y = top + plotH - (plotH * t) / 4;
    svg.append(
      s("line", { x1: left, x2: left + plotW, y1: y, y2: y, class: t ? "grid" : "axis" }),
      s("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "tick", text: format((yMax * t) / 4) }),
    );
  }
  const n = points.length;
  const every = Math.max(1, Math.ceil(n / Math.max(2, Math.floor(plotW / 70))));
  points.forEach((p, i) => {
    if (i % every !== 0 && i !== n - 1) return;
    if (i !== n - 1 && n - 1 - i < every / 2) return; // keep the last label clear of its neighbour
    const x = left + (plotW * (i + 0.5)) / n;
    svg.appendChild(s("text", { x, y: top + plotH + 18, "text-anchor": "middle", class: "tick", text: shortDate(p.x) }));
  });
}

/**
 * A daily series: columns (kind "columns") or a line with dots (kind "line").
 * points: [{x: "YYYY-MM-DD", y: number}].
 */
export function seriesChart({ title, points, kind = "columns", format = String, unitLabel = "Value", tone = "primary", integer = false, width = chartWidth() }) {
  const WIDTH = width;
  if (!points.length) return empty(title);
  const height = 240;
  const left = 52;
  const top = 12;
  const plotW = WIDTH - left - 8;
  const plotH = height - top - 30;
  const top4 = niceMax(Math.max(...points.map((p) => p.y)));
  // Whole-number series (learners) get ticks on whole numbers.
  const yMax = integer ? Math.max(4, Math.ceil(top4 / 4) * 4) : top4;
  const svg = s("svg", { viewBox: `0 0 ${WIDTH} ${height}`, class: `chart-svg series tone-${tone}`, preserveAspectRatio: "xMinYMin meet" });
  axes(svg, { left, top, plotW, plotH, yMax, format, points });
  const n = points.length;
  const band = plotW / n;
  const yOf = (v) => top + plotH - (plotH * Math.max(0, v)) / yMax;
  if (kind === "line") {
    const coords = points.map((p, i) => [left + band * (i + 0.5), yOf(p.y)]);
    svg.appendChild(s("polyline", { points: coords.map((c) => c.join(",")).join(" "), class: "line" }));
    coords.forEach(([x, y], i) => {
      svg.appendChild(s("circle", { cx: x, cy: y, r: n > 40 ? 2 : 4, class: "dot" }, s("title", { text: `${shortDate(points[i].x)}: ${format(points[i].y)}` })));
    });
  } else {
    const gap = Math.min(8, band * 0.25);
    points.forEach((p, i) => {
      const y = yOf(p.y);
      svg.appendChild(
        s("rect", { x: left + band * i + gap / 2, y, width: Math.max(1, band - gap), height: top + plotH - y, rx: 3, class: "column" }, s("title", { text: `${shortDate(p.x)}: ${format(p.y)}` })),
      );
    });
  }
  const total = points.reduce((sum, p) => sum + p.y, 0);
  const peak = points.reduce((a, b) => (b.y > a.y ? b : a));
  const description = `${points.length} days from ${shortDate(points[0].x)} to ${shortDate(points[n - 1].x)}; peak ${format(peak.y)} on ${shortDate(peak.x)}; total ${format(total)}.`;
  return figure(title, description, svg, dataTable(title, ["Day", unitLabel], points.map((p) => [shortDate(p.x), format(p.y)])));
}
