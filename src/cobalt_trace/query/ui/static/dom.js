// DOM helpers.  Every value that came from spans is untrusted: it only ever becomes a text node
// or an attribute value set through the DOM, never markup.
const SVG_NS = "http://www.w3.org/2000/svg";

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

function setProps(el, props) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.setAttribute("class", v);
    else if (k === "text") el.textContent = String(v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style") Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

/** h("a", {href, class}, "text", child…) → an element; strings become text nodes. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  append(el, children);
  return el;
}

export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setProps(el, props);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Copies text; works without the async clipboard API too (plain http on a remote host). */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (_) { /* fall back below */ }
  const area = h("textarea", { class: "offscreen", "aria-hidden": "true" });
  area.value = text;
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand("copy"); } catch (_) { ok = false; }
  area.remove();
  return ok;
}

function copyIcon() {
  return s("svg", { viewBox: "0 0 16 16", width: "13", height: "13", "aria-hidden": "true", class: "icon" },
    s("rect", { x: "5", y: "5", width: "9", height: "9", rx: "1.5" }), s("path", { d: "M3 11V3.5A1.5 1.5 0 0 1 4.5 2H11" }));
}

export function copyButton(text, label = "Copy") {
  const btn = h("button", { type: "button", class: "copy", title: `${label} to clipboard`, "aria-label": label }, copyIcon());
  btn.addEventListener("click", async (ev) => {
    ev.stopPropagation();
    const ok = await copyText(text);
    btn.dataset.copied = ok ? "yes" : "no";
    btn.replaceChildren(ok ? "✓" : "✗");
    setTimeout(() => { btn.replaceChildren(copyIcon()); delete btn.dataset.copied; }, 1200);
  });
  return btn;
}

/** A stable colour per name (services, clusters), from a small palette readable in both themes. */
const PALETTE = ["#3b82c4", "#d9822b", "#3a9a5b", "#b5489e", "#7c6bd6", "#c0504d", "#2a9d9d", "#8f7a2e", "#5a7fa8", "#c46b3b"];
const colourCache = new Map();
export function colourOf(name) {
  let c = colourCache.get(name);
  if (c === undefined) {
    let hsh = 2166136261;
    for (let i = 0; i < name.length; i++) hsh = Math.imul(hsh ^ name.charCodeAt(i), 16777619);
    c = PALETTE[(hsh >>> 0) % PALETTE.length];
    colourCache.set(name, c);
  }
  return c;
}

export function chip(text, cls = "chip", colour = null) {
  const el = h("span", { class: cls, title: text }, text);
  if (colour) el.style.setProperty("--chip", colour);
  return el;
}
