// The search page: form (state in the URL), scatter plot of duration over time, results list.
import { h, s, clear, chip, colourOf } from "./dom.js";
import { api } from "./api.js";
import { fmtDuration, fmtTime, nsToDate, parseDuration, niceStep } from "./format.js";
import { attachAutocomplete } from "./autocomplete.js";
import { navigate } from "./main.js";

const RANGES = [["15m", 900], ["1h", 3600], ["3h", 10800], ["6h", 21600], ["24h", 86400], ["2d", 172800], ["7d", 604800]];
const FIELDS = ["service", "operation", "q", "minDuration", "maxDuration", "range", "from", "to", "limit", "sort"];

/** The TraceQL the form stands for: the fields as one spanset, and the typed query beside it. */
export function composeQuery(f) {
  const conds = [];
  if (f.service) conds.push(`resource.service.name = ${JSON.stringify(f.service)}`);
  if (f.operation) conds.push(`name = ${JSON.stringify(f.operation)}`);
  if (f.minDuration) conds.push(`traceDuration >= ${f.minDuration.trim()}`);
  if (f.maxDuration) conds.push(`traceDuration <= ${f.maxDuration.trim()}`);
  const form = conds.length ? `{ ${conds.join(" && ")} }` : "";
  const typed = (f.q || "").trim();
  if (form && typed) return `${form} && ${typed}`;
  return form || typed || "{}";
}

function timeWindow(f) {
  if (f.range === "custom" && f.from && f.to) {
    return [Math.floor(new Date(f.from).getTime() / 1000), Math.ceil(new Date(f.to).getTime() / 1000)];
  }
  const secs = (RANGES.find(([k]) => k === (f.range || "1h")) || RANGES[1])[1];
  const now = Math.ceil(Date.now() / 1000);
  return [now - secs, now];
}

function readForm(form) {
  const data = new FormData(form);
  const f = {};
  for (const k of FIELDS) f[k] = (data.get(k) || "").toString();
  return f;
}

function toParams(f) {
  const p = new URLSearchParams();
  for (const k of FIELDS) {
    if (!f[k]) continue;
    if ((k === "from" || k === "to") && f.range !== "custom") continue;
    if (k === "range" && f[k] === "1h") continue;
    if (k === "limit" && f[k] === "20") continue;
    p.set(k, f[k]);
  }
  return p;
}

function field(label, control, hint) {
  return h("label", { class: "field" }, h("span", null, label), control, hint ? h("small", { class: "muted" }, hint) : null);
}

export async function render(main, _params, query) {
  const f = Object.fromEntries(FIELDS.map((k) => [k, query.get(k) || ""]));
  f.range ||= "1h"; f.limit ||= "20"; f.sort ||= "recent";
  document.title = "Search · cobalt-trace";

  const service = h("select", { name: "service", id: "f-service" }, h("option", { value: "" }, "All services"));
  const operation = h("select", { name: "operation", id: "f-operation" }, h("option", { value: "" }, "All operations"));
  const q = h("input", { name: "q", id: "f-q", class: "mono", placeholder: '{ span.http.response.status_code >= 500 }', autocomplete: "off", spellcheck: "false", "data-search-box": true });
  q.value = f.q;
  const minD = h("input", { name: "minDuration", placeholder: "e.g. 100ms", size: "8" }); minD.value = f.minDuration;
  const maxD = h("input", { name: "maxDuration", placeholder: "e.g. 2s", size: "8" }); maxD.value = f.maxDuration;
  const range = h("select", { name: "range" }, RANGES.map(([k]) => h("option", { value: k }, `Last ${k}`)), h("option", { value: "custom" }, "Absolute…"));
  range.value = f.range;
  const from = h("input", { type: "datetime-local", name: "from", step: "1" }); from.value = f.from;
  const to = h("input", { type: "datetime-local", name: "to", step: "1" }); to.value = f.to;
  const absolute = h("span", { class: "absolute" }, from, " – ", to);
  const limit = h("input", { type: "number", name: "limit", min: "1", max: "1000", size: "4" }); limit.value = f.limit;
  const sort = h("select", { name: "sort", "aria-label": "Sort results" },
    [["recent", "Most recent"], ["longest", "Longest"], ["spans", "Most spans"], ["errors", "Most errors"]].map(([v, l]) => h("option", { value: v }, l)));
  sort.value = f.sort;
  const effective = h("code", { class: "effective" });
  const formEl = h("form", { class: "search-form", id: "search-form" },
    h("div", { class: "row" },
      field("Service", service), field("Operation", operation),
      field("Duration", h("span", { class: "pair" }, minD, " – ", maxD), "of the whole trace"),
      field("Time", h("span", { class: "pair" }, range, absolute)),
      field("Limit", limit)),
    h("div", { class: "row" },
      h("label", { class: "field grow" }, h("span", null, "TraceQL"), h("div", { class: "ac-wrap" }, q)),
      h("div", { class: "field" }, h("span", null, "\u00a0"), h("button", { type: "submit", class: "primary" }, "Search"))),
    h("p", { class: "muted small" }, "Query sent: ", effective));
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const plot = h("div", { class: "scatter" });
  const results = h("div", { class: "results" });
  main.append(h("h1", { class: "sr" }, "Search traces"), formEl, status,
    h("div", { class: "results-head" }, h("h2", null, "Results"), sort), plot, results);

  const syncAbsolute = () => { absolute.hidden = range.value !== "custom"; };
  range.addEventListener("change", () => {
    if (range.value === "custom" && !from.value) {
      const pad = (d) => new Date(d - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 19);
      from.value = pad(Date.now() - 3600e3); to.value = pad(Date.now());
    }
    syncAbsolute();
  });
  syncAbsolute();
  const updateEffective = () => { effective.textContent = composeQuery(readForm(formEl)); };
  formEl.addEventListener("input", updateEffective);
  formEl.addEventListener("change", updateEffective);
  attachAutocomplete(q, () => timeWindow(readForm(formEl)));

  async function loadOperations(svc, selected) {
    clear(operation).append(h("option", { value: "" }, "All operations"));
    if (!svc) return;
    const ops = await api.operations(svc).catch(() => []);
    for (const name of [...new Set(ops.map((o) => o.name))].sort()) operation.append(h("option", { value: name }, name));
    operation.value = selected || "";
  }
  service.addEventListener("change", () => loadOperations(service.value, ""));

  let lastResults = [];
  sort.addEventListener("change", () => {
    const p = new URLSearchParams(location.search);
    if (sort.value === "recent") p.delete("sort"); else p.set("sort", sort.value);
    history.replaceState(null, "", `${location.pathname}${p.size ? "?" + p : ""}`);
    showResults(results, lastResults, sort.value);
  });

  formEl.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const cur = readForm(formEl);
    for (const [input, v] of [[minD, cur.minDuration], [maxD, cur.maxDuration]]) {
      try { parseDuration(v); input.setCustomValidity(""); } catch (err) { input.setCustomValidity(err.message); input.reportValidity(); return; }
    }
    const p = toParams(cur);
    navigate(`/search${p.size ? "?" + p : ""}`);
  });

  const services = await api.services().catch(() => []);
  for (const name of services.sort()) service.append(h("option", { value: name }, name));
  service.value = f.service;
  await loadOperations(f.service, f.operation);
  updateEffective();

  const [start, end] = timeWindow(f);
  status.textContent = "Searching…";
  try {
    const r = await api.search({ q: composeQuery(f), start, end, limit: f.limit });
    lastResults = r.traces;
    status.textContent = `${r.traces.length} trace${r.traces.length === 1 ? "" : "s"} ${r.traces.length >= Number(f.limit) ? "(limit reached) " : ""}between ${fmtTime(new Date(start * 1000))} and ${fmtTime(new Date(end * 1000))}`;
    drawScatter(plot, r.traces, start, end);
    showResults(results, r.traces, f.sort);
  } catch (err) {
    status.textContent = "";
    results.append(h("p", { class: "error-box", role: "alert" }, err.message));
  }
  document.body.dataset.ready = "search";
}

const SORTS = {
  recent: (a, b) => (BigInt(b.startTimeUnixNano) > BigInt(a.startTimeUnixNano) ? 1 : -1),
  longest: (a, b) => b.durationNanos - a.durationNanos,
  spans: (a, b) => b.spanCount - a.spanCount,
  errors: (a, b) => b.errorCount - a.errorCount,
};

function showResults(box, traces, sortKey) {
  clear(box);
  if (!traces.length) { box.append(h("p", { class: "muted" }, "No traces match.")); return; }
  const sorted = [...traces].sort(SORTS[sortKey] || SORTS.recent);
  const longest = Math.max(...traces.map((t) => t.durationNanos), 1);
  const table = h("table", { class: "results-table" },
    h("thead", null, h("tr", null, ["Trace", "Start", "Duration", "Spans", "Errors", "Services", "Clusters"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", null, sorted.map((t) => {
      const bar = h("span", { class: "dur-bar" });
      bar.style.width = `${(100 * t.durationNanos) / longest}%`;
      return h("tr", { class: t.errorCount ? "has-errors" : "" },
        h("td", null,
          h("a", { href: `/trace/${t.traceID}`, "data-link": true, class: "trace-link" },
            h("strong", null, t.rootServiceName || "(root not received)"), ": ", t.rootName || "—"),
          h("div", { class: "muted mono small" }, t.traceID.slice(0, 16))),
        h("td", { class: "nowrap" }, fmtTime(nsToDate(t.startTimeUnixNano))),
        h("td", { class: "dur-cell" }, h("span", null, fmtDuration(t.durationNanos)), bar),
        h("td", { class: "num" }, String(t.spanCount)),
        h("td", { class: t.errorCount ? "num err-text" : "num" }, String(t.errorCount)),
        h("td", null, t.services.map((x) => chip(x, "chip svc-chip", colourOf(x)))),
        h("td", null, t.clusters === null ? h("span", { class: "muted", title: "too many spans to list here" }, "…")
          : t.clusters.map((c) => chip(c, "chip", colourOf(c)))));
    })));
  box.append(table);
}

function drawScatter(box, traces, start, end) {
  clear(box);
  if (!traces.length) return;
  const W = Math.max(600, box.clientWidth || 1000), H = 160, L = 56, B = 22, T = 8;
  const maxDur = Math.max(...traces.map((t) => t.durationNanos), 1);
  const ystep = niceStep(maxDur, 4), ymax = Math.ceil(maxDur / ystep) * ystep;
  const x = (sec) => L + ((W - L - 8) * (sec - start)) / Math.max(1, end - start);
  const y = (d) => T + (H - T - B) * (1 - d / ymax);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "scatter-svg", role: "img", "aria-label": "Trace duration over time" });
  for (let d = 0; d <= ymax; d += ystep) {
    svg.append(s("line", { x1: L, x2: W - 8, y1: y(d), y2: y(d), class: "grid" }),
      s("text", { x: L - 6, y: y(d) + 4, class: "axis", "text-anchor": "end" }, fmtDuration(d)));
  }
  const tstep = niceStep(end - start, 6);
  for (let t = Math.ceil(start / tstep) * tstep; t <= end; t += tstep) {
    const d = new Date(t * 1000);
    svg.append(s("text", { x: x(t), y: H - 6, class: "axis", "text-anchor": "middle" },
      `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}${tstep < 60 ? ":" + String(d.getSeconds()).padStart(2, "0") : ""}`));
  }
  for (const t of traces) {
    const cx = x(Number(BigInt(t.startTimeUnixNano) / 1000000n) / 1e3), cy = y(t.durationNanos);
    const r = 3 + Math.min(6, Math.log2(1 + t.spanCount) / 2);
    const dot = s("circle", { cx, cy, r, class: t.errorCount ? "dot err" : "dot" },
      s("title", null, `${t.rootServiceName}: ${t.rootName} — ${fmtDuration(t.durationNanos)}, ${t.spanCount} spans`));
    const link = s("a", { href: `/trace/${t.traceID}`, "data-link": true, tabindex: "-1" }, dot);
    svg.append(link);
  }
  box.append(svg);
}
