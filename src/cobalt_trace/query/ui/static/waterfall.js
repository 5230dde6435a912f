// A virtualised waterfall: only the rows in view exist in the DOM (a small recycled pool), so a
// trace of 100,000 spans scrolls like one of 100.  The tree is kept in flat typed arrays.
//
// model: { n, total, start[i], dur[i] (ns offsets), parent[i] (-1 = root), name(i), service(i),
//          cluster(i), error(i), critical (Uint8Array|null), segments (Map i → [[s, e]…]|null),
//          group(i) (optional: a number that tints the row, for stitched requests) }
import { h, colourOf } from "./dom.js";
import { fmtDuration, niceStep } from "./format.js";

const ROW = 24;
const OVERSCAN = 8;

export class Waterfall {
  constructor(container, model, { onSelect = () => {}, label = "Spans" } = {}) {
    this.model = model;
    this.onSelect = onSelect;
    this.collapsed = new Uint8Array(model.n);
    this.hits = null;
    this.selected = -1;
    this.buildTree();
    this.el = h("div", { class: "wf" });
    this.ruler = h("div", { class: "wf-ruler", "aria-hidden": "true" });
    this.header = h("div", { class: "wf-head" },
      h("div", { class: "wf-name" }, "Service · operation"), h("div", { class: "wf-lane" }, "Cluster"), this.ruler);
    this.minimap = h("canvas", { class: "wf-minimap", height: "56", title: "Minimap: click or drag to scroll" });
    this.mapView = h("div", { class: "wf-mapview" });
    this.mapBox = h("div", { class: "wf-mapbox" }, this.minimap, this.mapView);
    this.spacer = h("div", { class: "wf-spacer" });
    this.scroller = h("div", {
      class: "wf-scroll", tabindex: "0", role: "tree", "aria-label": label,
    }, this.spacer);
    this.el.append(this.mapBox, this.header, this.scroller);
    container.append(this.el);
    this.pool = [];
    this.drawRuler();
    this.computeVisible();
    this.scroller.addEventListener("scroll", () => this.schedule(), { passive: true });
    this.scroller.addEventListener("keydown", (ev) => this.onKey(ev));
    this.scroller.addEventListener("click", (ev) => this.onClick(ev));
    this.bindMinimap();
    this.resizeObserver = new ResizeObserver(() => { this.drawMinimap(); this.schedule(); });
    this.resizeObserver.observe(this.scroller);
    this.render();
  }

  destroy() { this.resizeObserver.disconnect(); }

  // -- tree -----------------------------------------------------------------------------------
  buildTree() {
    const { n, parent } = this.model;
    const count = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) if (parent[i] >= 0) count[parent[i]]++;
    this.childStart = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) this.childStart[i + 1] = this.childStart[i] + count[i];
    this.childList = new Int32Array(this.childStart[n]);
    const fill = this.childStart.slice(0, n);
    this.roots = [];
    // spans arrive ordered by start, so children end up ordered by start too
    for (let i = 0; i < n; i++) {
      const p = parent[i];
      if (p >= 0) this.childList[fill[p]++] = i;
      else this.roots.push(i);
    }
    this.depth = new Int32Array(n);
    this.order = new Int32Array(n); // full depth-first order
    let k = 0;
    const stack = [];
    for (let r = this.roots.length - 1; r >= 0; r--) stack.push(this.roots[r]);
    while (stack.length) {
      const i = stack.pop();
      this.order[k++] = i;
      for (let c = this.childStart[i + 1] - 1; c >= this.childStart[i]; c--) {
        const child = this.childList[c];
        this.depth[child] = this.depth[i] + 1;
        stack.push(child);
      }
    }
    this.maxDepth = this.depth.reduce((a, b) => Math.max(a, b), 0);
  }

  hasChildren(i) { return this.childStart[i + 1] > this.childStart[i]; }

  computeVisible() {
    const { n } = this.model;
    const vis = new Int32Array(n);
    let k = 0;
    for (let j = 0; j < n; ) {
      const i = this.order[j];
      vis[k++] = i;
      j++;
      if (this.collapsed[i]) {
        // skip the subtree: it is the run of deeper nodes that follows in depth-first order
        const d = this.depth[i];
        while (j < n && this.depth[this.order[j]] > d) j++;
      }
    }
    this.visible = vis.subarray(0, k);
    this.rowOf = new Int32Array(n).fill(-1);
    for (let r = 0; r < k; r++) this.rowOf[this.visible[r]] = r;
    this.spacer.style.height = `${k * ROW}px`;
    this.drawMinimap();
  }

  setCollapsed(i, value) {
    if (!this.hasChildren(i) || !!this.collapsed[i] === value) return;
    this.collapsed[i] = value ? 1 : 0;
    this.computeVisible();
    this.render();
  }

  collapseAll(depthLimit = 0) {
    for (let i = 0; i < this.model.n; i++) this.collapsed[i] = this.hasChildren(i) && this.depth[i] >= depthLimit ? 1 : 0;
    this.computeVisible();
    if (this.selected >= 0 && this.rowOf[this.selected] < 0) this.selected = -1;
    this.render();
  }

  expandAll() { this.collapsed.fill(0); this.computeVisible(); this.render(); }

  /** Makes span i visible (expanding its ancestors), selects it and scrolls to it. */
  reveal(i, select = true) {
    let changed = false;
    for (let p = this.model.parent[i]; p >= 0; p = this.model.parent[p]) {
      if (this.collapsed[p]) { this.collapsed[p] = 0; changed = true; }
    }
    if (changed) this.computeVisible();
    if (select) this.select(i, false);
    this.scrollToRow(this.rowOf[i]);
    this.render();
  }

  scrollToRow(row) {
    const top = row * ROW, h = this.scroller.clientHeight;
    if (top < this.scroller.scrollTop) this.scroller.scrollTop = top;
    else if (top + ROW > this.scroller.scrollTop + h) this.scroller.scrollTop = top + ROW - h + 4;
  }

  select(i, notify = true) {
    this.selected = i;
    this.render();
    if (notify) this.onSelect(i);
  }

  setHits(hits) { this.hits = hits; this.drawMinimap(); this.render(); }

  // -- rendering ------------------------------------------------------------------------------
  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  makeRow() {
    const tog = h("button", { class: "tog", type: "button", tabindex: "-1", "aria-hidden": "true" });
    const svc = h("span", { class: "svc" });
    const op = h("span", { class: "op" });
    const name = h("div", { class: "wf-name" }, tog, svc, op);
    const lane = h("span", { class: "lane-chip" });
    const bar = h("div", { class: "bar" });
    const dur = h("span", { class: "dur" });
    const tl = h("div", { class: "wf-tl" }, bar, dur);
    const el = h("div", { class: "wf-row", role: "treeitem" }, name, h("div", { class: "wf-lane" }, lane), tl);
    const row = { el, name, tog, svc, op, lane, bar, dur, tl, segs: [], span: -1 };
    this.scroller.append(el);
    return row;
  }

  render() {
    const m = this.model;
    const total = m.total || 1;
    const top = this.scroller.scrollTop;
    const height = this.scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
    const last = Math.min(this.visible.length, Math.ceil((top + height) / ROW) + OVERSCAN);
    const need = last - first;
    while (this.pool.length < need) this.pool.push(this.makeRow());
    for (let p = 0; p < this.pool.length; p++) {
      const row = this.pool[p];
      const r = first + p;
      if (r >= last) { row.el.hidden = true; row.span = -1; continue; }
      const i = this.visible[r];
      row.el.hidden = false;
      row.el.style.transform = `translateY(${r * ROW}px)`;
      row.el.id = `span-row-${i}`;
      row.span = i;
      row.el.dataset.span = i;
      row.el.setAttribute("aria-level", this.depth[i] + 1);
      row.el.setAttribute("aria-selected", i === this.selected ? "true" : "false");
      const kids = this.hasChildren(i);
      if (kids) row.el.setAttribute("aria-expanded", this.collapsed[i] ? "false" : "true");
      else row.el.removeAttribute("aria-expanded");
      row.el.classList.toggle("error", !!m.error(i));
      row.el.classList.toggle("crit", !!(m.critical && m.critical[i]));
      row.el.classList.toggle("hit", !!(this.hits && this.hits[i]));
      if (m.group) row.el.dataset.group = m.group(i) % 2;
      row.name.style.paddingLeft = `${4 + Math.min(this.depth[i], 40) * 12}px`;
      row.tog.textContent = kids ? (this.collapsed[i] ? "▸" : "▾") : "";
      row.tog.classList.toggle("leaf", !kids);
      const service = m.service(i);
      row.svc.textContent = service;
      row.svc.style.setProperty("--chip", colourOf(service));
      row.op.textContent = m.name(i);
      row.name.title = `${service} · ${m.name(i)}`;
      const cluster = m.cluster(i);
      row.lane.textContent = cluster || "—";
      row.lane.style.setProperty("--chip", cluster ? colourOf(cluster) : "transparent");
      const left = (100 * m.start[i]) / total;
      const width = Math.max((100 * m.dur[i]) / total, 0.05);
      row.bar.style.left = `${left}%`;
      row.bar.style.width = `${width}%`;
      row.bar.style.setProperty("--chip", colourOf(service));
      row.dur.textContent = fmtDuration(m.dur[i]);
      // the label goes after the bar, before it when that would overflow, else inside it
      const where = left + width <= 80 ? "after" : left > 12 ? "before" : "inside";
      row.dur.className = `dur ${where}`;
      row.dur.style.left = where === "after" ? `${left + width}%` : "";
      row.dur.style.right = where === "before" ? `${100 - left}%` : where === "inside" ? `${100 - left - width}%` : "";
      const segs = (m.segments && m.segments.get(i)) || [];
      while (row.segs.length < segs.length) { const d = h("div", { class: "seg" }); row.tl.append(d); row.segs.push(d); }
      for (let k = 0; k < row.segs.length; k++) {
        const d = row.segs[k];
        if (k >= segs.length) { d.hidden = true; continue; }
        d.hidden = false;
        d.classList.toggle("wait", !!segs[k][2]);
        d.style.left = `${(100 * segs[k][0]) / total}%`;
        d.style.width = `${Math.max((100 * (segs[k][1] - segs[k][0])) / total, 0.05)}%`;
      }
    }
    if (this.selected >= 0 && this.rowOf[this.selected] >= 0) this.scroller.setAttribute("aria-activedescendant", `span-row-${this.selected}`);
    else this.scroller.removeAttribute("aria-activedescendant");
    this.drawMapView();
  }

  drawRuler() {
    const total = this.model.total || 1;
    const step = niceStep(total, 6);
    for (let t = 0; t <= total * 1.0001; t += step) {
      const tick = h("span", { class: "tick" }, fmtDuration(t));
      tick.style.left = `${(100 * t) / total}%`;
      if ((100 * t) / total > 92) tick.classList.add("end");
      this.ruler.append(tick);
    }
  }

  drawMinimap() {
    const c = this.minimap;
    const w = (c.width = Math.max(100, c.clientWidth || 800));
    const hgt = c.height;
    const ctx = c.getContext("2d");
    ctx.clearRect(0, 0, w, hgt);
    const m = this.model, total = m.total || 1, rows = this.visible ? this.visible.length : 0;
    if (!rows) return;
    const styles = getComputedStyle(this.el);
    const colours = {
      bar: styles.getPropertyValue("--map-bar") || "#8aa", crit: styles.getPropertyValue("--crit") || "#e0a000",
      err: styles.getPropertyValue("--err") || "#d33", hit: styles.getPropertyValue("--hit") || "#fd0",
    };
    const rowH = Math.max(hgt / rows, 0.5);
    const kinds = [["bar", (i) => true], ["crit", (i) => m.critical && m.critical[i]],
      ["err", (i) => m.error(i)], ["hit", (i) => this.hits && this.hits[i]]];
    for (const [colour, test] of kinds) {
      ctx.fillStyle = colours[colour];
      for (let r = 0; r < rows; r++) {
        const i = this.visible[r];
        if (!test(i)) continue;
        ctx.fillRect((w * m.start[i]) / total, (r * hgt) / rows, Math.max((w * m.dur[i]) / total, 1), Math.max(rowH, 1));
      }
    }
    this.drawMapView();
  }

  drawMapView() {
    const rows = this.visible.length || 1;
    const hgt = this.minimap.clientHeight || 56;
    const top = this.scroller.scrollTop / ROW, vis = (this.scroller.clientHeight || 600) / ROW;
    this.mapView.style.top = `${(hgt * top) / rows}px`;
    this.mapView.style.height = `${Math.max(3, (hgt * Math.min(vis, rows)) / rows)}px`;
  }

  bindMinimap() {
    const go = (ev) => {
      const rect = this.minimap.getBoundingClientRect();
      const frac = Math.min(1, Math.max(0, (ev.clientY - rect.top) / rect.height));
      this.scroller.scrollTop = frac * this.visible.length * ROW - this.scroller.clientHeight / 2;
    };
    this.mapBox.addEventListener("pointerdown", (ev) => {
      go(ev);
      this.mapBox.setPointerCapture(ev.pointerId);
      const move = (e) => go(e);
      const up = () => { this.mapBox.removeEventListener("pointermove", move); this.mapBox.removeEventListener("pointerup", up); };
      this.mapBox.addEventListener("pointermove", move);
      this.mapBox.addEventListener("pointerup", up);
    });
  }

  // -- input ----------------------------------------------------------------------------------
  onClick(ev) {
    const rowEl = ev.target.closest(".wf-row");
    if (!rowEl) return;
    const i = Number(rowEl.dataset.span);
    if (ev.target.closest(".tog")) { this.setCollapsed(i, !this.collapsed[i]); this.selected = i; this.render(); return; }
    this.scroller.focus({ preventScroll: true });
    this.select(i);
  }

  onKey(ev) {
    const rows = this.visible.length;
    if (!rows) return;
    let r = this.selected >= 0 ? this.rowOf[this.selected] : -1;
    const page = Math.max(1, Math.floor(this.scroller.clientHeight / ROW) - 1);
    const i = this.selected;
    switch (ev.key) {
      case "ArrowDown": case "j": r = Math.min(rows - 1, r + 1); break;
      case "ArrowUp": case "k": r = Math.max(0, r - 1); break;
      case "PageDown": r = Math.min(rows - 1, r + page); break;
      case "PageUp": r = Math.max(0, r - page); break;
      case "Home": r = 0; break;
      case "End": r = rows - 1; break;
      case "ArrowRight":
        if (i >= 0 && this.collapsed[i]) { this.setCollapsed(i, false); ev.preventDefault(); return; }
        if (i >= 0 && this.hasChildren(i)) r = r + 1; else return;
        break;
      case "ArrowLeft":
        if (i >= 0 && this.hasChildren(i) && !this.collapsed[i]) { this.setCollapsed(i, true); ev.preventDefault(); return; }
        if (i >= 0 && this.model.parent[i] >= 0 && this.rowOf[this.model.parent[i]] >= 0) r = this.rowOf[this.model.parent[i]]; else return;
        break;
      case "Enter": case " ":
        if (i >= 0) { this.onSelect(i); ev.preventDefault(); }
        return;
      default: return;
    }
    ev.preventDefault();
    if (r < 0) r = 0;
    this.selected = this.visible[r];
    this.scrollToRow(r);
    this.render();
    this.onSelect(this.selected);
  }
}
