// Labels and number formatting shared by the views.

export const KIND_LABELS = {
  gate: "Reading",
  mcq: "Single choice",
  multi: "Multiple choice",
  true_false: "True or false",
  chat: "Written answer",
  code: "Code",
};

export const STATUS_LABELS = {
  created: "Not started",
  active: "In progress",
  completed: "Completed",
  abandoned: "Abandoned",
};

/** Points as learners see them: whole, rounded half up like the core's ``*_shown`` fields (events keep
 * the exact values). */
export function points(value) {
  const n = Number(value) || 0;
  return String(Math.floor(n + 0.5));
}

export function percent(value) {
  return `${Math.round(Number(value) || 0)}%`;
}

export function capitalise(text) {
  const t = String(text || "");
  return t ? t[0].toUpperCase() + t.slice(1) : t;
}

/** "print-displays" → "Print displays". */
export function humanise(id) {
  return capitalise(String(id || "").replace(/[-_]+/g, " ").trim());
}

export function date(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export function dateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export function money(value) {
  const n = Number(value) || 0;
  if (n === 0) return "$0";
  if (n < 0.01) return `$${n.toFixed(4)}`;
  return `$${n.toFixed(2)}`;
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** Initials for an avatar: "Ada Lovelace" → "AL". */
export function initials(name) {
  const parts = String(name || "?").trim().split(/\s+/).filter(Boolean);
  const letters = parts.slice(0, 2).map((p) => Array.from(p)[0] || "");
  return (letters.join("") || "?").toUpperCase();
}
