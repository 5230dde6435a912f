// The request view: every trace that carries one OpenStack request id, stitched in time order.
import { h, clear, chip, colourOf, copyButton } from "./dom.js";
import { api } from "./api.js";
import { fmtDuration, fmtTime, nsToDate } from "./format.js";
import { Waterfall } from "./waterfall.js";

export function requestModel(spans) {
  const sorted = [...spans].sort((a, b) => {
    const d = BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  });
  const n = sorted.length;
  const t0 = n ? BigInt(sorted[0].startTimeUnixNano) : 0n;
  const start = new Float64Array(n), dur = new Float64Array(n), parent = new Int32Array(n).fill(-1);
  const at = new Map(), traceNo = new Map(), group = new Int32Array(n);
  sorted.forEach((sp, i) => at.set(`${sp.traceID}/${sp.spanID}`, i));
  let total = 0;
  sorted.forEach((sp, i) => {
    start[i] = Number(BigInt(sp.startTimeUnixNano) - t0);
    dur[i] = sp.durationNanos;
    total = Math.max(total, start[i] + dur[i]);
    if (sp.parentSpanID) parent[i] = at.get(`${sp.traceID}/${sp.parentSpanID}`) ?? -1;
    if (!traceNo.has(sp.traceID)) traceNo.set(sp.traceID, traceNo.size);
    group[i] = traceNo.get(sp.traceID);
  });
  return {
    n, total, start, dur, parent, spans: sorted, t0,
    name: (i) => sorted[i].name, service: (i) => sorted[i].service, cluster: (i) => sorted[i].cluster,
    error: (i) => sorted[i].status === "error", group: (i) => group[i],
    critical: null, segments: null,
  };
}

export async function render(main, [requestId]) {
  document.title = `${requestId} · cobalt-trace`;
  main.append(h("p", { class: "muted", role: "status" }, "Looking up ", h("code", null, requestId), "…"));
  let r;
  try {
    r = await api.request(requestId);
  } catch (err) {
    clear(main).append(h("h1", null, "Request not found"), h("p", { class: "error-box", role: "alert" }, err.message),
      h("p", null, h("a", { href: "/search", "data-link": true }, "Back to search")));
    document.body.dataset.ready = "error";
    return;
  }
  const model = requestModel(r.spans);
  const cards = h("ol", { class: "trace-cards" }, r.traces.map((t, k) => h("li", null,
    h("div", { class: "card-title" },
      h("span", { class: "badge" }, `#${k + 1}`), " ",
      h("a", { href: `/trace/${t.traceID}`, "data-link": true },
        h("strong", null, t.rootServiceName || "(no root span)"), ": ", t.rootName || "—")),
    h("div", { class: "muted small" }, `${fmtTime(nsToDate(t.startTimeUnixNano))} · ${fmtDuration(t.durationNanos)} · ${t.spanCount} spans · `,
      h("code", null, t.traceID)),
    h("div", { class: "path-chips" }, t.clusters.map((c, j) => [j ? h("span", { class: "arrow", "aria-hidden": "true" }, " → ") : null, chip(c, "chip", colourOf(c))])))));
  const details = h("aside", { class: "details", hidden: true, "aria-label": "Span" });
  const wfBox = h("div", { class: "wf-box" });
  const traceCount = r.traces.length;
  clear(main).append(h("div", { class: "trace-view" },
    h("section", { class: "trace-head" },
      h("div", { class: "title-row" }, h("h1", null, "Request ", h("code", null, r.requestId), copyButton(r.requestId, "Copy request id"))),
      h("p", null, `${traceCount} trace${traceCount === 1 ? "" : "s"} carry this request id` +
        (traceCount > 1 ? " — its context was lost on some hop, so they are stitched here in time order." : "."),
        ` ${model.n} spans over ${fmtDuration(model.total)}.`),
      cards),
    h("div", { class: "trace-body" }, wfBox, details)));
  const wf = new Waterfall(wfBox, model, {
    label: `Spans of request ${r.requestId}`,
    onSelect: (i) => {
      const sp = model.spans[i];
      const close = h("button", { type: "button", class: "close", "aria-label": "Close" }, "×");
      close.addEventListener("click", () => { details.hidden = true; });
      clear(details).append(h("div", { class: "details-inner" },
        h("div", { class: "details-head" }, h("h2", null, sp.name), close),
        h("dl", { class: "facts" },
          h("dt", null, "Service"), h("dd", null, sp.service),
          h("dt", null, "Cluster"), h("dd", null, sp.cluster || "—"),
          h("dt", null, "Kind"), h("dd", null, sp.kind),
          h("dt", null, "Status"), h("dd", null, sp.status),
          h("dt", null, "Duration"), h("dd", null, fmtDuration(sp.durationNanos)),
          h("dt", null, "Start"), h("dd", null, fmtTime(nsToDate(sp.startTimeUnixNano))),
          h("dt", null, "Trace"), h("dd", null, h("code", null, sp.traceID))),
        h("p", null, h("a", { class: "button", href: `/trace/${sp.traceID}?span=${sp.spanID}`, "data-link": true }, "Open in trace view (attributes, events)"))));
      details.hidden = false;
    },
  });
  document.body.dataset.ready = "request";
  return () => wf.destroy();
}
