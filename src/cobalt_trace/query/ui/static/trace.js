// The trace view: header with the cluster path, virtualised waterfall, span details.
import { h, clear, copyButton, chip, colourOf } from "./dom.js";
import { api, otlpDownloadURL } from "./api.js";
import { fmtDuration, fmtTime, nsToDate } from "./format.js";
import { Waterfall } from "./waterfall.js";
import { renderSpanDetails } from "./spandetails.js";

/** The compact trace JSON → the waterfall's model (typed arrays + accessors). */
export function traceModel(t) {
  const sp = t.spans, n = t.spanCount;
  const critical = new Uint8Array(n);
  const segments = new Map();
  for (const [i, a, b, waiting] of t.criticalPath) {
    critical[i] = 1;
    let list = segments.get(i);
    if (!list) segments.set(i, (list = []));
    list.push([a, b, waiting]);
  }
  const res = t.resources;
  return {
    n, total: t.durationNanos,
    start: Float64Array.from(sp.start), dur: Float64Array.from(sp.duration),
    parent: Int32Array.from(sp.parent),
    name: (i) => t.names[sp.name[i]],
    service: (i) => res[sp.resource[i]].service,
    cluster: (i) => res[sp.resource[i]].cluster,
    error: (i) => sp.status[i] === 2,
    critical, segments,
  };
}

function spanDetail(t, model, i) {
  const sp = t.spans, r = t.resources[sp.resource[i]];
  const start = BigInt(t.startUnixNano) + BigInt(sp.start[i]);
  const d = {
    spanID: sp.spanID[i], parentSpanID: sp.parentSpanID[i], traceID: t.traceID,
    name: model.name(i), service: r.service, cluster: r.cluster,
    kind: t.kinds[sp.kind[i]], status: t.statuses[sp.status[i]], statusMessage: sp.statusMessage[i],
    startDate: new Date(Number(start / 1000000n)), offset: sp.start[i], duration: sp.duration[i],
    critical: model.critical[i] === 1,
    attributes: sp.attributes[i] || {}, resource: r.attributes || {}, scope: t.scopes[sp.scope[i]],
    events: sp.events[i] || [], links: sp.links[i] || [],
  };
  d.json = {
    traceId: d.traceID, spanId: d.spanID, parentSpanId: d.parentSpanID, name: d.name, kind: d.kind,
    startTimeUnixNano: start.toString(), endTimeUnixNano: (start + BigInt(d.duration)).toString(),
    attributes: d.attributes, status: { code: d.status, message: d.statusMessage }, resource: d.resource,
    events: d.events.map(([o, name, attributes]) => ({ timeUnixNano: (BigInt(t.startUnixNano) + BigInt(o)).toString(), name, attributes })),
    links: d.links.map(([traceId, spanId, attributes]) => ({ traceId, spanId, attributes })),
  };
  return d;
}

/** The header's "management 12ms → broker 3ms → control-plane 40ms" strip. */
export function clusterPathStrip(path, total) {
  const items = [];
  const hopInto = new Map();
  for (const hop of path.hops) if (!hopInto.has(hop.to)) hopInto.set(hop.to, hop);
  path.clusters.forEach((c, k) => {
    if (k > 0) {
      const hop = hopInto.get(c.name);
      const label = hop && hop.brokerNanos ? `broker ${fmtDuration(hop.brokerNanos)}` : "";
      items.push(h("li", { class: "hop", title: hop ? `${hop.calls} call(s) ${hop.from || "(none)"} → ${hop.to || "(none)"}; broker wait from ${"messaging.cobalt.queue_wait_ms"}` : "" },
        h("span", { class: "arrow", "aria-hidden": "true" }, "→"), label ? h("span", { class: "broker" }, label) : null));
    }
    const name = c.name || "(no cluster)";
    const el = h("li", { class: "cluster", title: `${c.spanCount} spans; on the critical path ${fmtDuration(c.criticalNanos)} (${Math.round(100 * c.criticalNanos / (total || 1))}%), busy ${fmtDuration(c.busyNanos)}` },
      h("span", { class: "cname" }, name), h("span", { class: "ctime" }, fmtDuration(c.criticalNanos)));
    el.style.setProperty("--chip", colourOf(c.name || "none"));
    items.push(el);
  });
  const totals = [];
  if (path.waitingNanos) totals.push(`waiting between spans ${fmtDuration(path.waitingNanos)}`);
  if (path.brokerNanos) totals.push(`queue wait reported ${fmtDuration(path.brokerNanos)}`);
  return h("ol", { class: "cluster-path", "aria-label": "Cluster path: time on the critical path per cluster, broker wait between clusters" }, items,
    totals.length ? h("li", { class: "broker-total", title: "Critical-path time after a producer ended and before its consumer started; and the sum of messaging.cobalt.queue_wait_ms" }, totals.join(" · ")) : null);
}

function searchHits(t, model, text) {
  const q = text.trim().toLowerCase();
  if (!q) return null;
  const sp = t.spans, n = t.spanCount, hits = new Uint8Array(n);
  const nameHit = t.names.map((x) => x.toLowerCase().includes(q));
  const resHit = t.resources.map((r) => `${r.service}\u0000${r.cluster}`.toLowerCase().includes(q));
  let count = 0;
  for (let i = 0; i < n; i++) {
    let hit = nameHit[sp.name[i]] || resHit[sp.resource[i]] || sp.spanID[i].startsWith(q);
    if (!hit) {
      const attrs = sp.attributes[i];
      for (const k in attrs) {
        if (k.toLowerCase().includes(q) || String(attrs[k]).toLowerCase().includes(q)) { hit = true; break; }
      }
    }
    if (hit) { hits[i] = 1; count++; }
  }
  return { hits, count };
}

export async function render(main, [traceId], query) {
  main.append(h("p", { class: "muted", role: "status" }, "Loading trace ", h("code", null, traceId), "…"));
  let t;
  try {
    t = await api.trace(traceId);
    performance.mark("cobalt:trace-loaded");
  } catch (err) {
    clear(main).append(h("h1", null, "Trace not available"), h("p", { class: "error-box", role: "alert" }, err.message),
      h("p", null, h("a", { href: "/search", "data-link": true }, "Back to search")));
    document.body.dataset.ready = "error";
    return;
  }
  const model = traceModel(t);
  const rootIdx = t.spans.parent.indexOf(-1);
  const title = rootIdx >= 0 ? `${model.service(rootIdx)}: ${model.name(rootIdx)}` : t.traceID;
  document.title = `${title} · cobalt-trace`;
  const errors = t.spans.status.reduce((a, s) => a + (s === 2), 0);
  const services = new Set(t.resources.map((r) => r.service));

  const details = h("aside", { class: "details", "aria-labelledby": "details-title", hidden: true });
  const searchBox = h("input", { type: "search", placeholder: "Find in trace (/)", "data-search-box": true, "aria-label": "Find spans in this trace", spellcheck: "false" });
  const searchCount = h("span", { class: "muted find-count", "aria-live": "polite" });
  const wfBox = h("div", { class: "wf-box" });
  const header = h("section", { class: "trace-head" },
    h("div", { class: "title-row" },
      h("h1", null, title),
      h("div", { class: "actions" },
        h("a", { class: "button", href: otlpDownloadURL(t.traceID), download: `trace-${t.traceID}.json` }, "Download OTLP JSON"))),
    h("dl", { class: "stats" },
      h("dt", null, "Trace"), h("dd", null, h("code", null, t.traceID), copyButton(t.traceID, "Copy trace id")),
      h("dt", null, "Start"), h("dd", null, fmtTime(nsToDate(t.startUnixNano))),
      h("dt", null, "Duration"), h("dd", null, fmtDuration(t.durationNanos)),
      h("dt", null, "Spans"), h("dd", { "data-testid": "span-count" }, String(t.spanCount)),
      h("dt", null, "Errors"), h("dd", { class: errors ? "err-text" : "" }, String(errors)),
      h("dt", null, "Services"), h("dd", null, String(services.size))),
    clusterPathStrip(t.clusterPath, t.durationNanos),
    h("div", { class: "toolbar" },
      h("button", { type: "button", "data-action": "expand" }, "Expand all"),
      h("button", { type: "button", "data-action": "collapse" }, "Collapse all"),
      h("button", { type: "button", "data-action": "level" }, "Top two levels"),
      h("label", { class: "check", title: "Underlined: the spans that decide the trace's end; dashed: waiting for a consumer to start" },
        h("input", { type: "checkbox", checked: true, "data-action": "critical" }), " Critical path ", h("span", { class: "legend-crit", "aria-hidden": "true" })),
      h("span", { class: "muted small keys" }, "↑↓ move · ←→ fold · Enter details · / find · Esc close"),
      h("span", { class: "spacer" }),
      searchBox, searchCount));
  const body = h("div", { class: "trace-body" }, wfBox, details);
  clear(main).append(h("div", { class: "trace-view" }, header, body));

  const showDetails = (i) => {
    clear(details).append(renderSpanDetails(spanDetail(t, model, i), {
      onClose: hideDetails,
      linkTo: (tid, sid) => `/trace/${tid}?span=${sid}`,
    }));
    details.hidden = false;
    const url = new URL(location.href);
    url.searchParams.set("span", t.spans.spanID[i]);
    history.replaceState(null, "", url);
  };
  const hideDetails = () => {
    details.hidden = true;
    const url = new URL(location.href);
    url.searchParams.delete("span");
    history.replaceState(null, "", url);
    wf.scroller.focus();
  };
  const wf = new Waterfall(wfBox, model, { onSelect: showDetails, label: `Spans of trace ${t.traceID}` });

  header.addEventListener("click", (ev) => {
    const action = ev.target.closest("[data-action]")?.dataset.action;
    if (action === "expand") wf.expandAll();
    else if (action === "collapse") wf.collapseAll(0);
    else if (action === "level") wf.collapseAll(1);
  });
  const critToggle = header.querySelector('[data-action="critical"]');
  const { critical, segments } = model;
  critToggle.addEventListener("change", () => {
    model.critical = critToggle.checked ? critical : null;
    model.segments = critToggle.checked ? segments : null;
    wf.drawMinimap(); wf.render();
  });

  // in-trace search: highlight matches, Enter/Shift+Enter walks through them
  let hitList = [], hitPos = -1, debounce = 0;
  const runSearch = () => {
    const found = searchHits(t, model, searchBox.value);
    wf.setHits(found ? found.hits : null);
    hitList = [];
    if (found) for (let k = 0; k < wf.order.length; k++) if (found.hits[wf.order[k]]) hitList.push(wf.order[k]);
    hitPos = -1;
    searchCount.textContent = found ? `${found.count} match${found.count === 1 ? "" : "es"}` : "";
  };
  searchBox.addEventListener("input", () => { clearTimeout(debounce); debounce = setTimeout(runSearch, 120); });
  searchBox.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    ev.preventDefault();
    clearTimeout(debounce);
    if (!hitList.length) runSearch();
    if (!hitList.length) return;
    hitPos = (hitPos + (ev.shiftKey ? hitList.length - 1 : 1)) % hitList.length;
    wf.reveal(hitList[hitPos]);
    searchCount.textContent = `${hitPos + 1} of ${hitList.length}`;
    showDetails(hitList[hitPos]);
  });
  const onKey = (ev) => {
    if (ev.key === "Escape" && !details.hidden && !ev.target.closest("input")) hideDetails();
  };
  document.addEventListener("keydown", onKey);

  const wanted = query.get("span");
  const selectIdx = wanted ? t.spans.spanID.indexOf(wanted) : -1;
  if (selectIdx >= 0) { wf.reveal(selectIdx); showDetails(selectIdx); }
  // marks for bench/ui.py: the first frame with rows painted is when the page is usable
  requestAnimationFrame(() => {
    performance.mark("cobalt:interactive");
    document.body.dataset.ready = "trace";
  });
  wf.scroller.focus({ preventScroll: true });
  return () => { wf.destroy(); document.removeEventListener("keydown", onKey); };
}
