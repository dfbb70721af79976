// The JSON API client: bearer tokens, one refresh on 401, friendly errors from {detail}.
//
// The access token lives in this module's memory only. The refresh token is never visible to page
// scripts: the server keeps it in an HttpOnly, Secure, SameSite=Strict cookie (requests say
// "X-Refresh-Cookie: 1"). A non-secret flag in localStorage tells a reloaded page (and other tabs)
// that this browser is signed in, so it asks the cookie for a fresh access token.

import { API_CREDENTIALS, apiUrl } from "./config.js";

const SIGNED_IN = "curiouscore.signed-in";
const COOKIE_MODE = { "X-Refresh-Cookie": "1" };

export class ApiError extends Error {
  constructor(status, message, { detail = null, retryAfter = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

let accessToken = null;
const authListeners = new Set();

function notifyAuth(reason) {
  for (const fn of authListeners) fn(Boolean(accessToken), reason);
}

function flagged() {
  try {
    return localStorage.getItem(SIGNED_IN) === "1";
  } catch {
    return false;
  }
}

function flag(on) {
  try {
    if (on) localStorage.setItem(SIGNED_IN, "1");
    else localStorage.removeItem(SIGNED_IN);
  } catch {
    // Storage may be disabled; the sign-in then lasts until the page reloads.
  }
}

// Another tab logged in or out: follow it.
window.addEventListener("storage", async (event) => {
  if (event.key !== SIGNED_IN) return;
  if (event.newValue === "1" && !accessToken) {
    if (await refreshTokens()) notifyAuth("login");
  } else if (event.newValue !== "1" && accessToken) {
    accessToken = null;
    notifyAuth("logout");
  }
});

/** The Authorization header for a request made outside ``request`` (the SSE stream, stream.js). */
export function authHeaders() {
  return accessToken ? { Authorization: `Bearer ${accessToken}` } : {};
}

/** Swap the refresh cookie for a new access token; resolves to true when that worked. */
export const refreshAccess = async () => (await refreshTokens()) === true;

/** Call fn(loggedIn, reason) whenever the login state changes. */
export function onAuthChange(fn) {
  authListeners.add(fn);
  return () => authListeners.delete(fn);
}

export function isLoggedIn() {
  return Boolean(accessToken);
}

function storeTokens(pair) {
  accessToken = pair.access_token;
  flag(true);
}

export function clearTokens(reason = "logout") {
  const had = Boolean(accessToken);
  accessToken = null;
  flag(false);
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
  if (withAuth && accessToken) headers.Authorization = `Bearer ${accessToken}`;
  return fetch(apiUrl(path), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: API_CREDENTIALS,
    cache: "no-store",
  });
}

let refreshing = null;

/**
 * Swap the refresh cookie for a new access token (once, shared by every request that hit a 401).
 * Tabs take turns through a Web Lock: the cookie rotates on every use, and two tabs presenting the
 * same one at once would look like a stolen token and end the sign-in.
 * Resolves to true, false (the sign-in has ended) or null (the server could not be reached).
 */
function refreshTokens() {
  if (!refreshing) {
    const run = async () => {
      try {
        const res = await send("POST", "/api/auth/refresh", undefined, COOKIE_MODE, false);
        if (!res.ok) return res.status >= 500 ? null : false;
        storeTokens(await res.json());
        return true;
      } catch {
        return null;
      }
    };
    const locks = navigator.locks;
    refreshing = (locks && locks.request ? locks.request("curiouscore-refresh", run) : run()).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/**
 * On page load: a signed-in browser gets its access token back from the refresh cookie.
 * Resolves to "signed-in", "signed-out" or "expired" (the cookie's sign-in has ended).
 */
export async function restore() {
  if (accessToken) return "signed-in";
  if (!flagged()) return "signed-out";
  const ok = await refreshTokens();
  if (ok === false) {
    flag(false);
    return "expired";
  }
  return ok ? "signed-in" : "signed-out";
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
export async function request(method, path, { body, auth = true, idempotencyKey = null, headers: extra = {} } = {}) {
  const headers = idempotencyKey ? { ...extra, "Idempotency-Key": idempotencyKey } : { ...extra };
  const retries = idempotencyKey || method === "GET" ? 1 : 0;
  let res = await sendWithNetworkRetry(method, path, body, headers, auth, retries);
  if (res.status === 401 && auth && accessToken) {
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

// -- accounts --------------------------------------------------------------------------------

export async function register({ email, password, display_name }) {
  const body = { email, password, display_name };
  storeTokens(await request("POST", "/api/auth/register", { body, auth: false, headers: COOKIE_MODE }));
  notifyAuth("login");
}

export async function login({ email, password }) {
  storeTokens(await request("POST", "/api/auth/login", { body: { email, password }, auth: false, headers: COOKIE_MODE }));
  notifyAuth("login");
}

export async function logout() {
  try {
    // The cookie names the sign-in; the server ends it and every access token issued so far.
    await request("POST", "/api/auth/logout", { auth: false });
  } catch {
    // Logging out locally is what matters; the refresh token expires on its own.
  } finally {
    clearTokens("logout");
  }
}

export const me = () => request("GET", "/api/me");
export const linkCode = () => request("GET", "/api/me/link-code");

// -- catalogue, sessions, leaderboard, analytics -------------------------------------------

export const challenges = () => request("GET", "/api/challenges");
export const challenge = (id) => request("GET", `/api/challenges/${encodeURIComponent(id)}`);
export const sessions = () => request("GET", "/api/sessions");
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

export const leaderboard = () => request("GET", "/api/leaderboard");
export const analytics = () => request("GET", "/api/admin/analytics");
export const itemAnalysis = (challengeId) => request("GET", `/api/admin/item-analysis/${encodeURIComponent(challengeId)}`);
