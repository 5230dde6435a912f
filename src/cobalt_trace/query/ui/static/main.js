// The single-page app's router: pages are ES modules with `render(main, params, query)`, which
// may return a cleanup function.  Links marked `data-link` navigate without reloading.
import { h, clear } from "./dom.js";
import { prefetchTrace } from "./api.js";

const ROUTES = [
  [/^\/$/, "search"],
  [/^\/search$/, "search"],
  [/^\/services$/, "services"],
  [/^\/trace\/([^/]+)$/, "trace"],
  [/^\/request\/([^/]+)$/, "request"],
];
const REQUEST_ID = /^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TRACE_ID = /^[0-9a-f]{1,32}$/i;

let cleanup = null;
let renderSeq = 0;

export function navigate(url, replace = false) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  route();
}

/** Where the jump box sends a pasted id, or null. */
export function jumpTarget(text) {
  const t = text.trim();
  if (REQUEST_ID.test(t)) return `/request/${t.toLowerCase()}`;
  if (TRACE_ID.test(t) && !/^0+$/.test(t)) return `/trace/${t.toLowerCase()}`;
  return null;
}

async function route() {
  const seq = ++renderSeq;
  if (cleanup) { try { cleanup(); } catch (_) { /* page already gone */ } cleanup = null; }
  const main = document.getElementById("main");
  const path = location.pathname;
  let page = null, params = [];
  for (const [re, name] of ROUTES) {
    const m = re.exec(path);
    if (m) { page = name; params = m.slice(1).map(decodeURIComponent); break; }
  }
  for (const a of document.querySelectorAll("header nav a")) {
    a.toggleAttribute("aria-current", a.getAttribute("href") === path || (page === "search" && a.getAttribute("href") === "/search"));
  }
  clear(main);
  delete document.body.dataset.ready;
  if (!page) {
    main.append(h("h1", null, "Not found"), h("p", null, "No page at ", h("code", null, path)));
    return;
  }
  if (page === "trace") prefetchTrace(params[0]);
  const mod = await import(`./${page}.js`);
  if (seq !== renderSeq) return;
  const result = await mod.render(main, params, new URLSearchParams(location.search));
  if (seq !== renderSeq) { if (typeof result === "function") result(); return; }
  cleanup = typeof result === "function" ? result : null;
}

document.addEventListener("click", (ev) => {
  const a = ev.target.closest("a[data-link]");
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  ev.preventDefault();
  navigate(a.getAttribute("href"));
});
window.addEventListener("popstate", route);

document.getElementById("jump").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = document.getElementById("jump-input");
  const target = jumpTarget(input.value);
  if (target) {
    input.setCustomValidity("");
    navigate(target);
  } else {
    input.setCustomValidity("Paste a request id (req-<uuid>) or a trace id (hex)");
    input.reportValidity();
  }
});
document.getElementById("jump-input").addEventListener("input", (ev) => ev.target.setCustomValidity(""));

// "/" focuses the page's search box (the in-trace search on a trace), Esc leaves it.
document.addEventListener("keydown", (ev) => {
  const typing = ev.target.closest("input, textarea, select, [contenteditable]");
  if (ev.key === "/" && !typing && !ev.ctrlKey && !ev.metaKey) {
    const box = document.querySelector("[data-search-box]") || document.getElementById("jump-input");
    if (box) { ev.preventDefault(); box.focus(); box.select?.(); }
  } else if (ev.key === "Escape" && typing && ev.target.matches("[data-search-box], #jump-input")) {
    ev.target.blur();
  }
});

route();
