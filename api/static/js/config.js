// Where the JSON API lives. Served by the API itself, the SPA calls its own origin. A static export
// (`curiouscore web export DIR --api-url URL`) writes the API's URL into index.html's
// <meta name="curiouscore-api-base">, and every request goes there instead, with credentials (so the
// API's cookies travel cross-origin; the API lists this page's origin in CORS_ORIGINS).

const meta = document.querySelector('meta[name="curiouscore-api-base"]');

/** The API's base URL without a trailing slash; "" for the page's own origin. */
export const API_BASE = ((meta && meta.getAttribute("content")) || "").trim().replace(/\/+$/, "");

/** The fetch credentials mode: cookies go to a separate API origin only when it is configured. */
export const API_CREDENTIALS = API_BASE ? "include" : "same-origin";

/** The absolute URL of an API path such as "/api/me". */
export function apiUrl(path) {
  return API_BASE + path;
}
