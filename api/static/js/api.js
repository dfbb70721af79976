// The JSON API client: bearer tokens, one refresh on 401, friendly errors from {detail}.

import { API_CREDENTIALS, apiUrl } from "./config.js";

const TOKEN_KEY = "curiouscore.tokens";

export class ApiError extends Error {
  constructor(status, message, { detail = null, retryAfter = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

function loadTokens() {
  try {
    const data = JSON.parse(localStorage.getItem(TOKEN_KEY) || "null");
    if (data && typeof data.access_token === "string") return data;
  } catch {
    // A corrupt entry is the same as no entry.
  }
  return null;
}

let tokens = loadTokens();
const authListeners = new Set();

function notifyAuth(reason) {
  for (const fn of authListeners) fn(Boolean(tokens), reason);
}

// Another tab logged in, out, or rotated the refresh token: use what it stored.
window.addEventListener("storage", (event) => {
  if (event.key !== TOKEN_KEY) return;
  const had = Boolean(tokens);
  tokens = loadTokens();
  if (had !== Boolean(tokens)) notifyAuth(tokens ? "login" : "logout");
});

/** Call fn(loggedIn, reason) whenever the login state changes. */
export function onAuthChange(fn) {
  authListeners.add(fn);
  return () => authListeners.delete(fn);
}

export function isLoggedIn() {
  return Boolean(tokens);
}

function storeTokens(pair) {
  tokens = { access_token: pair.access_token, refresh_token: pair.refresh_token };
  localStorage.setItem(TOKEN_KEY, JSON.stringify(tokens));
}

export function clearTokens(reason = "logout") {
  const had = Boolean(tokens);
  tokens = null;
  localStorage.removeItem(TOKEN_KEY);
  if (had) notifyAuth(reason);
}

/** A random UUID, also outside secure contexts (where crypto.randomUUID is missing). */
export function newIdempotencyKey() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const FIELD_NAMES = {
  email: "Email",
  password: "Password",
  display_name: "Display name",
  answer: "Answer",
  challenge_id: "Challenge",
  step_id: "Step",
};

function describeValidation(items) {
  const lines = [];
  for (const item of items) {
    if (!item || typeof item !== "object") continue;
    const loc = Array.isArray(item.loc) ? item.loc.filter((p) => p !== "body" && typeof p === "string") : [];
    const field = loc.length ? FIELD_NAMES[loc[loc.length - 1]] || loc[loc.length - 1] : "";
    const msg = typeof item.msg === "string" ? item.msg.replace(/^Value error, /, "") : "is not valid";
    lines.push(field ? `${field}: ${msg}` : msg);
  }
  return lines.join(" · ");
}

const DEFAULT_MESSAGES = {
  400: "That request could not be understood.",
  401: "Please log in to continue.",
  403: "You do not have permission to do that.",
  404: "We could not find that.",
  409: "That step has already moved on.",
  413: "That is too long to send.",
  422: "Some of what you entered is not valid.",
  429: "Too many attempts. Please wait a moment and try again.",
  503: "The service is temporarily unavailable. Please try again shortly.",
};

function friendlyMessage(status, data, retryAfter) {
  const detail = data && typeof data === "object" ? data.detail : null;
  let message = "";
  if (typeof detail === "string") message = detail;
  else if (Array.isArray(detail)) message = describeValidation(detail);
  else if (detail && typeof detail === "object" && typeof detail.message === "string") message = detail.message;
  // A server error's detail is the API's own friendly line (with a request id); anything that does
  // not look like one (a proxy's page, a long dump) is replaced by a generic message.
  if (status >= 500 && (message.length > 300 || /Traceback|\n\s+at /.test(message))) message = "";
  if (!message) message = DEFAULT_MESSAGES[status] || "Something went wrong on our side. Please try again.";
  message = message.charAt(0).toUpperCase() + message.slice(1);
  if (!/[.!?)]$/.test(message)) message += ".";
  if (status === 429 && retryAfter) message += ` (try again in ${retryAfter} s)`;
  return message;
}

async function send(method, path, body, extraHeaders, withAuth) {
  const headers = { Accept: "application/json", ...extraHeaders };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (withAuth && tokens) headers.Authorization = `Bearer ${tokens.access_token}`;
  return fetch(apiUrl(path), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: API_CREDENTIALS,
    cache: "no-store",
  });
}

let refreshing = null;

/** Swap the refresh token for a new pair (once, shared by every request that hit a 401). */
function refreshTokens() {
  if (!refreshing) {
    const spent = tokens && tokens.refresh_token;
    refreshing = (async () => {
      if (!spent) return false;
      try {
        const res = await send("POST", "/api/auth/refresh", { refresh_token: spent }, {}, false);
        if (!res.ok) return false;
        storeTokens(await res.json());
        return true;
      } catch {
        return false;
      }
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function sendWithNetworkRetry(method, path, body, headers, withAuth, retries) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await send(method, path, body, headers, withAuth);
    } catch (error) {
      if (attempt >= retries) {
        throw new ApiError(0, "Cannot reach the server. Check your connection and try again.");
      }
      await new Promise((resolve) => setTimeout(resolve, 400 * (attempt + 1)));
    }
  }
}

/**
 * Call the API and return the parsed JSON (null for 204).
 * A 401 refreshes the tokens once and retries; if that fails too, the learner is logged out.
 * Requests with an Idempotency-Key are retried on network failure with the same key.
 */
export async function request(method, path, { body, auth = true, idempotencyKey = null } = {}) {
  const headers = idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {};
  const retries = idempotencyKey || method === "GET" ? 1 : 0;
  let res = await sendWithNetworkRetry(method, path, body, headers, auth, retries);
  if (res.status === 401 && auth && tokens) {
    if (await refreshTokens()) {
      res = await sendWithNetworkRetry(method, path, body, headers, auth, retries);
    }
    if (res.status === 401) {
      clearTokens("expired");
      throw new ApiError(401, "Your session has expired. Please log in again.");
    }
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const retryAfter = res.headers.get("Retry-After");
    throw new ApiError(res.status, friendlyMessage(res.status, data, retryAfter), {
      detail: data && data.detail,
      retryAfter,
    });
  }
  return data;
}

/** A list out of a response that is either a list or an object holding one. */
export function asList(data, ...keys) {
  if (Array.isArray(data)) return data;
  if (data && typeof data === "object") {
    for (const key of [...keys, "items", "results", "data"]) {
      if (Array.isArray(data[key])) return data[key];
    }
  }
  return [];
}

// -- accounts --------------------------------------------------------------------------------

export async function register({ email, password, display_name }) {
  storeTokens(await request("POST", "/api/auth/register", { body: { email, password, display_name }, auth: false }));
  notifyAuth("login");
}

export async function login({ email, password }) {
  storeTokens(await request("POST", "/api/auth/login", { body: { email, password }, auth: false }));
  notifyAuth("login");
}

export async function logout() {
  const refresh_token = tokens && tokens.refresh_token;
  try {
    if (refresh_token) await request("POST", "/api/auth/logout", { body: { refresh_token } });
  } catch {
    // Logging out locally is what matters; the server forgets the token on its own schedule.
  } finally {
    clearTokens("logout");
  }
}

export const me = () => request("GET", "/api/me");
export const linkCode = () => request("GET", "/api/me/link-code");

// -- catalogue, sessions, leaderboard, analytics -------------------------------------------

export const challenges = async () => asList(await request("GET", "/api/challenges"), "challenges");
export const challenge = (id) => request("GET", `/api/challenges/${encodeURIComponent(id)}`);
export const sessions = async () => asList(await request("GET", "/api/sessions"), "sessions");
export const session = (id) => request("GET", `/api/sessions/${encodeURIComponent(id)}`);
export const createSession = (challengeId) => request("POST", "/api/sessions", { body: { challenge_id: challengeId } });

function sessionAction(id, action, body, keyed) {
  return request("POST", `/api/sessions/${encodeURIComponent(id)}/${action}`, {
    body,
    idempotencyKey: keyed ? newIdempotencyKey() : null,
  });
}

export const start = (id) => sessionAction(id, "start", undefined, false);
export const answer = (id, stepId, value) => sessionAction(id, "answer", { step_id: stepId, answer: value }, true);
export const continueGate = (id, stepId) => sessionAction(id, "continue", { step_id: stepId }, true);
export const hint = (id, stepId) => sessionAction(id, "hint", { step_id: stepId }, true);
export const abandon = (id) => sessionAction(id, "abandon", undefined, false);

export const leaderboard = async () => asList(await request("GET", "/api/leaderboard"), "leaderboard", "entries");
export const analytics = () => request("GET", "/api/admin/analytics");
