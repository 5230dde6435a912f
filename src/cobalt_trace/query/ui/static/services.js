// The services page: a dependency graph grouped by cluster (SVG drawn here) and a RED table.
import { h, s, clear, colourOf } from "./dom.js";
import { api } from "./api.js";
import { fmtDuration, fmtRate, fmtPercent } from "./format.js";

const RANGES = [["15m", 900], ["1h", 3600], ["6h", 21600], ["24h", 86400], ["7d", 604800]];
const NODE_W = 190, NODE_H = 40, ROW_H = 64, PAD = 16, HEAD = 26, GAP = 230;

/** Longest-path depth from the callers (cycles are cut after n rounds). */
function depths(nodes, edges) {
  const depth = new Map(nodes.map((n) => [n.service, 0]));
  for (let round = 0; round < nodes.length; round++) {
    let changed = false;
    for (const e of edges) {
      if (e.parent === e.child) continue;
      const d = depth.get(e.parent) + 1;
      if (d > depth.get(e.child) && d < nodes.length) { depth.set(e.child, d); changed = true; }
    }
    if (!changed) break;
  }
  return depth;
}

/** One column per cluster (ordered by how deep in the call chain it starts), its services
 *  stacked by depth.  Returns node positions, cluster boxes and the canvas size. */
export function layoutGraph(nodes, edges) {
  const depth = depths(nodes, edges);
  const groups = new Map();
  for (const n of nodes) {
    const c = n.clusters && n.clusters.length ? n.clusters[0] : "";
    if (!groups.has(c)) groups.set(c, []);
    groups.get(c).push(n);
  }
  const minDepth = (list) => Math.min(...list.map((n) => depth.get(n.service)));
  const ordered = [...groups.entries()].sort((a, b) => minDepth(a[1]) - minDepth(b[1]) || a[0].localeCompare(b[0]));
  const pos = new Map(), boxes = [];
  let x = 8, height = 0;
  ordered.forEach(([cluster, list], col) => {
    list.sort((a, b) => depth.get(a.service) - depth.get(b.service) || a.service.localeCompare(b.service));
    list.forEach((n, r) => pos.set(n.service, { x: x + PAD, y: 8 + HEAD + PAD + r * ROW_H, col }));
    const hgt = HEAD + PAD * 2 + (list.length - 1) * ROW_H + NODE_H;
    boxes.push({ cluster, x, y: 8, w: NODE_W + 2 * PAD, h: hgt });
    height = Math.max(height, hgt + 16);
    x += NODE_W + 2 * PAD + GAP;
  });
  return { pos, boxes, width: x - GAP + 8, height };
}

/** Forward edges leave right and enter left; backward ones the other way round; calls inside
 *  a cluster arc out to the right of its column. Returns the path and where the label goes. */
function edgeGeometry(a, b) {
  const ya = a.y + NODE_H / 2, yb = b.y + NODE_H / 2;
  if (a.col === b.col) {
    const x = a.x + NODE_W, bulge = 40 + Math.abs(yb - ya) / 4;
    return { d: `M${x},${ya} C${x + bulge},${ya} ${x + bulge},${yb} ${x},${yb}`, lx: x + bulge * 0.75 + 4, ly: (ya + yb) / 2 + 4, anchor: "start" };
  }
  const forward = b.col > a.col;
  const x1 = forward ? a.x + NODE_W : a.x, x2 = forward ? b.x : b.x + NODE_W;
  const dx = (forward ? 1 : -1) * Math.max(40, Math.abs(x2 - x1) / 2);
  return { d: `M${x1},${ya} C${x1 + dx},${ya} ${x2 - dx},${yb} ${x2},${yb}`, lx: (x1 + x2) / 2, ly: (ya + yb) / 2 - 5, anchor: "middle" };
}

function drawGraph(box, graph) {
  clear(box);
  if (!graph.nodes.length) { box.append(h("p", { class: "muted" }, "No calls in this time range.")); return; }
  const { pos, boxes, width, height } = layoutGraph(graph.nodes, graph.edges);
  const svg = s("svg", { class: "graph", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Service dependency graph grouped by cluster" },
    s("defs", null, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "9", markerHeight: "9", markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" },
      s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }))));
  for (const b of boxes) {
    const g = s("g", { class: "cluster-box", "data-cluster": b.cluster },
      s("rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: 8 }),
      s("text", { x: b.x + 10, y: b.y + 18, class: "cluster-label" }, b.cluster || "(no cluster)"));
    g.querySelector("rect").style.setProperty("--chip", colourOf(b.cluster || "none"));
    svg.append(g);
  }
  const maxCalls = Math.max(...graph.edges.map((e) => e.callCount), 1);
  const labels = s("g", { class: "edge-labels" });
  for (const e of graph.edges) {
    const a = pos.get(e.parent), b = pos.get(e.child);
    if (!a || !b || a === b) continue;
    const geo = edgeGeometry(a, b);
    const errRate = e.callCount ? e.errorCount / e.callCount : 0;
    const rate = e.ratePerSecond != null ? fmtRate(e.ratePerSecond) : `${e.callCount} calls`;
    const g = s("g", { class: errRate > 0.05 ? "edge hot" : "edge", "data-edge": `${e.parent}→${e.child}` },
      s("title", null, `${e.parent} → ${e.child}: ${e.callCount} calls, ${e.errorCount} errors, p50 ${fmtDuration(e.p50Nanos)}, p95 ${fmtDuration(e.p95Nanos)}, p99 ${fmtDuration(e.p99Nanos)}`),
      s("path", { d: geo.d, "marker-end": "url(#arrow)", "stroke-width": 1 + (2.5 * Math.log1p(e.callCount)) / Math.log1p(maxCalls) }));
    svg.append(g);
    labels.append(s("text", { x: geo.lx, y: geo.ly, "text-anchor": geo.anchor, class: errRate > 0.05 ? "edge-label hot" : "edge-label" },
      `${rate} · ${fmtPercent(e.errorCount, e.callCount)} err · p95 ${fmtDuration(e.p95Nanos)}`));
  }
  for (const n of graph.nodes) {
    const p = pos.get(n.service);
    const errRate = n.count ? n.errors / n.count : 0;
    const a = s("a", { href: `/search?service=${encodeURIComponent(n.service)}`, "data-link": true, class: errRate > 0.05 ? "node hot" : "node", "data-service": n.service },
      s("title", null, `${n.service} (${(n.clusters || []).join(", ") || "no cluster"}): ${n.count} spans, ${n.errors} errors`),
      s("rect", { x: p.x, y: p.y, width: NODE_W, height: NODE_H, rx: 6 }),
      s("text", { x: p.x + 10, y: p.y + 16, class: "node-name" }, n.service.length > 24 ? n.service.slice(0, 23) + "…" : n.service),
      s("text", { x: p.x + 10, y: p.y + 31, class: "node-stats" },
        `${n.ratePerSecond != null ? fmtRate(n.ratePerSecond) : "–"} · ${fmtPercent(n.errors, n.count)} err · p99 ${fmtDuration(n.p99Nanos)}`));
    a.querySelector("rect").style.setProperty("--chip", colourOf(n.service));
    svg.append(a);
  }
  svg.append(labels);
  box.append(svg);
}

function redTable(rows, filterText) {
  const f = filterText.trim().toLowerCase();
  const shown = rows.filter((r) => !f || `${r.service} ${r.operation}`.toLowerCase().includes(f));
  const q = (svc, op, extra = "") => `/search?${new URLSearchParams({ service: svc, operation: op, ...(extra ? { q: extra } : {}) })}`;
  return h("table", { class: "red-table" },
    h("thead", null, h("tr", null, ["Service", "Operation", "Rate", "Errors", "p50", "p90", "p99", ""].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", null, shown.map((r) => h("tr", null,
      h("td", null, r.service), h("td", null, r.operation),
      h("td", { class: "num" }, fmtRate(r.ratePerSecond)),
      h("td", { class: r.errors ? "num err-text" : "num" }, `${fmtPercent(r.errors, r.count)} (${r.errors})`),
      h("td", { class: "num" }, fmtDuration(r.p50Nanos)), h("td", { class: "num" }, fmtDuration(r.p90Nanos)), h("td", { class: "num" }, fmtDuration(r.p99Nanos)),
      h("td", { class: "nowrap" },
        h("a", { href: q(r.service, r.operation), "data-link": true }, "traces"), " · ",
        h("a", { href: q(r.service, r.operation, "{ status = error }"), "data-link": true }, "errors"), " · ",
        h("a", { href: q(r.service, r.operation, "") + "&sort=longest", "data-link": true }, "slowest"))))));
}

export async function render(main, _params, query) {
  document.title = "Services · cobalt-trace";
  const rangeKey = query.get("range") || "1h";
  const secs = (RANGES.find(([k]) => k === rangeKey) || RANGES[1])[1];
  const end = Math.ceil(Date.now() / 1000), start = end - secs;
  const range = h("select", { "aria-label": "Time range" }, RANGES.map(([k]) => h("option", { value: k }, `Last ${k}`)));
  range.value = rangeKey;
  range.addEventListener("change", () => {
    history.pushState(null, "", `/services${range.value === "1h" ? "" : "?range=" + range.value}`);
    dispatchEvent(new PopStateEvent("popstate"));
  });
  const graphBox = h("div", { class: "graph-box", tabindex: "0", "aria-label": "Dependency graph (scrollable)" }, h("p", { class: "muted" }, "Loading…"));
  const filter = h("input", { type: "search", placeholder: "Filter services and operations (/)", "data-search-box": true, "aria-label": "Filter the RED table" });
  const tableBox = h("div", { class: "table-box" });
  main.append(h("div", { class: "title-row" }, h("h1", null, "Services"), range),
    h("h2", null, "Dependency graph"), h("p", { class: "muted small" }, "Boxes are clusters; arrows go from caller to callee with call rate, error rate and p95 latency of the callee's spans. Click a service to search its traces."),
    graphBox, h("div", { class: "title-row" }, h("h2", null, "Rate, errors, duration"), filter), tableBox);
  try {
    const [graph, red] = await Promise.all([api.graph(start, end), api.red(start, end)]);
    drawGraph(graphBox, graph);
    const redraw = () => clear(tableBox).append(redTable(red.rows, filter.value));
    filter.addEventListener("input", redraw);
    redraw();
  } catch (err) {
    clear(graphBox).append(h("p", { class: "error-box", role: "alert" }, err.message));
  }
  document.body.dataset.ready = "services";
}
