// Calls to the query API; errors carry the server's message.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function getJSON(path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v);
  }
  // no extra headers: a trace page's <link rel=preload> answers this fetch only if it matches
  const resp = await fetch(url);
  if (!resp.ok) {
    let text = (await resp.text()).trim();
    try {
      const body = JSON.parse(text);
      text = body.errors?.[0]?.msg || body.error?.message || text;
    } catch (_) { /* plain text */ }
    throw new ApiError(resp.status, text || `${resp.status} ${resp.statusText}`);
  }
  return resp.json();
}

// The router starts a trace's download before the page's code has loaded; the page then
// picks up that same request instead of starting another.
const early = new Map();
export function prefetchTrace(id) {
  if (!early.has(id)) early.set(id, getJSON(`/api/cobalt/traces/${encodeURIComponent(id)}`));
}
function takeEarly(id) {
  const p = early.get(id);
  early.delete(id);
  return p;
}

export const api = {
  services: () => getJSON("/api/v3/services").then((r) => r.services || []),
  operations: (service) => getJSON("/api/v3/operations", { service }).then((r) => r.operations || []),
  tags: (start, end) => getJSON("/api/v2/search/tags", { start, end }),
  tagValues: (tag, start, end) =>
    getJSON(`/api/v2/search/tag/${encodeURIComponent(tag)}/values`, { start, end })
      .then((r) => (r.tagValues || []).map((v) => v.value)),
  search: (params) => getJSON("/api/cobalt/search", params),
  trace: (id) => takeEarly(id) || getJSON(`/api/cobalt/traces/${encodeURIComponent(id)}`),
  request: (rid) => getJSON(`/api/cobalt/requests/${encodeURIComponent(rid)}`),
  graph: (start, end) => getJSON("/api/cobalt/service-graph", { start, end }),
  red: (start, end) => getJSON("/api/cobalt/red", { start, end, by: "operation" }),
};

export const otlpDownloadURL = (id) => `/api/cobalt/traces/${encodeURIComponent(id)}/otlp`;
