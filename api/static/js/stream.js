// Live session views over Server-Sent Events (GET /api/sessions/{id}/stream).
//
// Read with fetch() and a ReadableStream, not EventSource: EventSource cannot send the
// Authorization header, and the access token lives in memory only (never in a URL, where logs and
// history would keep it). When the server ends the stream (sign-out, or the token expired) the
// token is refreshed once and the stream reopened; a lost connection is retried with back-off.

import { authHeaders, refreshAccess } from "./api.js";
import { API_CREDENTIALS, apiUrl } from "./config.js";

const MAX_BACKOFF_MS = 15000;

/** Split an SSE byte stream into events; call onEvent(name, data) for each. Resolves when the
 * body ends, with the name of the last event seen. */
async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let last = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return last;
    buffer += value.replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue; // a heartbeat comment
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
      if (data.length) {
        last = event;
        onEvent(event, data.join("\n"));
      }
    }
  }
}

/**
 * Call onView(view) with the session's view now and after every change, until close().
 * ``connected()`` says whether the stream is open right now (callers poll only when it is not).
 */
export function watchSession(sessionId, onView) {
  const controller = new AbortController();
  let stopped = false;
  let open = false;

  async function run() {
    let failures = 0;
    while (!stopped) {
      try {
        const res = await fetch(apiUrl(`/api/sessions/${encodeURIComponent(sessionId)}/stream`), {
          headers: { Accept: "text/event-stream", ...authHeaders() },
          credentials: API_CREDENTIALS,
          cache: "no-store",
          signal: controller.signal,
        });
        if (res.status === 401 || res.status === 404) {
          if (res.status === 404 || !(await refreshAccess())) return;
          continue;
        }
        if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
        open = true;
        failures = 0;
        const last = await readEvents(res.body, (event, data) => {
          if (event === "view") onView(JSON.parse(data));
        });
        open = false;
        if (last === "end" && !(await refreshAccess())) return; // signed out: stay closed
      } catch {
        open = false;
        if (stopped) return;
        failures += 1;
      }
      if (!stopped && failures) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** failures, MAX_BACKOFF_MS)));
      }
    }
  }

  run();
  return {
    connected: () => open,
    close() {
      stopped = true;
      open = false;
      controller.abort();
    },
  };
}
