// TraceQL autocomplete: tag names (scoped) where a field belongs, tag values after an operator.
// Names and values come from Tempo's tag endpoints, fetched once per field.
import { h, clear } from "./dom.js";
import { api } from "./api.js";

const INTRINSICS = ["name", "status", "duration", "kind", "statusMessage", "traceDuration", "rootName", "rootServiceName"];
const KEYWORDS = new Set(["status", "kind", "span:status", "span:kind"]);
const VALUE_CTX = /([\w.:\-]+)\s*(=~|!~|!=|=|>=|<=|>|<)\s*("?)([^"&|}]*)$/;
const FIELD_CTX = /(^|[{(]|&&|\|\|)\s*([\w.:\-]*)$/;

export function attachAutocomplete(input, timeRange) {
  let names = null, open = false, active = -1, items = [], replaceFrom = 0, seq = 0;
  const values = new Map();
  const list = h("ul", { class: "ac-list", role: "listbox", id: "traceql-suggestions", hidden: true });
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("aria-expanded", "false");
  input.insertAdjacentElement("afterend", list);

  async function tagNames() {
    if (!names) {
      const [start, end] = timeRange();
      const r = await api.tags(start, end).catch(() => ({ scopes: [] }));
      names = [];
      for (const scope of r.scopes || []) {
        for (const t of scope.tags) names.push(scope.name === "intrinsic" ? t : `${scope.name}.${t}`);
      }
      for (const t of INTRINSICS) if (!names.includes(t)) names.push(t);
    }
    return names;
  }

  async function tagValues(field) {
    if (!values.has(field)) {
      const [start, end] = timeRange();
      values.set(field, api.tagValues(field, start, end).catch(() => []));
    }
    return values.get(field);
  }

  function close() {
    open = false; active = -1; list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function show(suggestions) {
    items = suggestions.slice(0, 12);
    clear(list);
    if (!items.length) { close(); return; }
    items.forEach((it, k) => {
      const li = h("li", { role: "option", id: `ac-${k}`, "aria-selected": "false" }, it.label);
      li.addEventListener("mousedown", (ev) => { ev.preventDefault(); accept(k); });
      list.append(li);
    });
    open = true; active = 0; list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    highlight();
  }

  function highlight() {
    [...list.children].forEach((li, k) => li.setAttribute("aria-selected", k === active ? "true" : "false"));
    input.setAttribute("aria-activedescendant", `ac-${active}`);
  }

  function accept(k) {
    const it = items[k];
    const caret = input.selectionStart;
    const text = input.value;
    input.value = text.slice(0, replaceFrom) + it.insert + text.slice(caret);
    const pos = replaceFrom + it.insert.length;
    input.setSelectionRange(pos, pos);
    close();
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  async function update() {
    const mine = ++seq;
    const before = input.value.slice(0, input.selectionStart);
    let m = VALUE_CTX.exec(before);
    if (m) {
      const field = m[1], partial = m[4].toLowerCase();
      replaceFrom = before.length - m[4].length - m[3].length;
      const all = await tagValues(field);
      if (mine !== seq) return;
      const keyword = KEYWORDS.has(field);
      show(all.filter((v) => v.toLowerCase().includes(partial))
        .map((v) => ({ label: v, insert: keyword ? v : JSON.stringify(v) })));
      return;
    }
    m = FIELD_CTX.exec(before);
    if (m && (m[2].length > 0 || /[{(]\s*$|&&\s*$|\|\|\s*$/.test(before))) {
      const partial = m[2].toLowerCase();
      replaceFrom = before.length - m[2].length;
      const all = await tagNames();
      if (mine !== seq) return;
      show(all.filter((n) => n.toLowerCase().includes(partial) && n.toLowerCase() !== partial)
        .map((n) => ({ label: n, insert: n })));
      return;
    }
    close();
  }

  input.addEventListener("input", update);
  input.addEventListener("focus", update);
  input.addEventListener("blur", () => setTimeout(close, 100));
  input.addEventListener("keydown", (ev) => {
    if (!open) {
      if (ev.key === "ArrowDown") { update(); ev.preventDefault(); }
      return;
    }
    if (ev.key === "ArrowDown") { active = (active + 1) % items.length; highlight(); ev.preventDefault(); }
    else if (ev.key === "ArrowUp") { active = (active + items.length - 1) % items.length; highlight(); ev.preventDefault(); }
    else if (ev.key === "Enter" || ev.key === "Tab") { accept(active); ev.preventDefault(); }
    else if (ev.key === "Escape") { close(); ev.preventDefault(); ev.stopPropagation(); }
  });
  return { close };
}
