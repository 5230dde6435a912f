// The span details panel: every field as text, with copy buttons.
import { h, copyButton, chip, colourOf } from "./dom.js";
import { fmtDuration, fmtTime } from "./format.js";

function kvTable(entries, caption) {
  if (!entries.length) return h("p", { class: "muted" }, `No ${caption.toLowerCase()}`);
  return h("table", { class: "kv" },
    h("caption", { class: "sr" }, caption),
    h("tbody", null, entries.map(([k, v]) => h("tr", null,
      h("th", { scope: "row" }, k),
      h("td", null, h("span", { class: "val" }, String(v)), copyButton(String(v), `Copy ${k}`))))));
}

function section(title, body, open = true) {
  return h("details", { open }, h("summary", null, title), body);
}

/** detail: { spanID, parentSpanID, traceID, name, service, cluster, kind, status, statusMessage,
 *  startDate, offset, duration, critical, attributes, resource, scope, events, links } */
export function renderSpanDetails(d, { onClose, linkTo }) {
  const close = h("button", { type: "button", class: "close", "aria-label": "Close span details", title: "Close (Esc)" }, "×");
  close.addEventListener("click", onClose);
  const ids = [
    ["span id", d.spanID], ["trace id", d.traceID], ["parent span id", d.parentSpanID || "—"],
  ];
  return h("div", { class: "details-inner" },
    h("div", { class: "details-head" },
      h("h2", { id: "details-title" }, d.name), close),
    h("p", null,
      chip(d.service, "chip svc-chip", colourOf(d.service)), " ",
      d.cluster ? chip(d.cluster, "chip", colourOf(d.cluster)) : chip("no cluster", "chip muted"), " ",
      chip(d.kind, "chip plain"), " ",
      chip(`status ${d.status}`, d.status === "error" ? "chip err" : "chip plain"),
      d.critical ? [" ", chip("critical path", "chip crit-chip")] : null),
    d.statusMessage ? h("p", { class: "status-msg" }, d.statusMessage) : null,
    h("dl", { class: "facts" },
      h("dt", null, "Duration"), h("dd", null, fmtDuration(d.duration)),
      h("dt", null, "Start"), h("dd", null, `${fmtTime(d.startDate)} (+${fmtDuration(d.offset)})`),
      ids.map(([k, v]) => [h("dt", null, k), h("dd", null, h("code", null, v), v !== "—" ? copyButton(v, `Copy ${k}`) : null)])),
    section(`Attributes (${Object.keys(d.attributes).length})`, kvTable(Object.entries(d.attributes), "Attributes")),
    section(`Resource (${Object.keys(d.resource).length})`, kvTable(Object.entries(d.resource), "Resource attributes"), false),
    d.scope && d.scope[0] ? section("Instrumentation scope", kvTable([["name", d.scope[0]], ["version", d.scope[1] || ""]], "Scope"), false) : null,
    section(`Events (${d.events.length})`, d.events.length
      ? h("ol", { class: "events" }, d.events.map(([t, name, attrs]) => h("li", null,
          h("div", null, h("strong", null, name), " ", h("span", { class: "muted" }, `+${fmtDuration(t)}`)),
          kvTable(Object.entries(attrs || {}), "Event attributes"))))
      : h("p", { class: "muted" }, "No events")),
    section(`Links (${d.links.length})`, d.links.length
      ? h("ul", { class: "links" }, d.links.map(([tid, sid, attrs]) => h("li", null,
          h("a", { href: linkTo(tid, sid), "data-link": true }, `${tid} / ${sid}`),
          kvTable(Object.entries(attrs || {}), "Link attributes"))))
      : h("p", { class: "muted" }, "No links")),
    h("div", { class: "details-actions" }, copyButtonWide("Copy span as JSON", JSON.stringify(d.json, null, 2))),
  );
}

function copyButtonWide(label, text) {
  const b = copyButton(text, label);
  b.classList.add("wide");
  b.replaceChildren(label);
  b.addEventListener("click", () => setTimeout(() => { b.replaceChildren(label); }, 1300));
  return b;
}
