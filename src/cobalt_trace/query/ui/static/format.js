// Formatting of times and durations.  Durations are ns (numbers).

export function fmtDuration(ns) {
  if (ns === null || ns === undefined || Number.isNaN(ns)) return "–";
  const a = Math.abs(ns);
  if (a < 1e3) return `${Math.round(ns)}ns`;
  if (a < 1e6) return `${trim(ns / 1e3)}µs`;
  if (a < 1e9) return `${trim(ns / 1e6)}ms`;
  if (a < 60e9) return `${trim(ns / 1e9)}s`;
  const m = Math.floor(a / 60e9);
  return `${m}m${Math.round((a - m * 60e9) / 1e9)}s`;
}

function trim(x) {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** ns since epoch as a string (exact) → Date. */
export function nsToDate(nsText) {
  return new Date(Number(BigInt(nsText) / 1000000n));
}

export function fmtTime(date) {
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

export function fmtRate(perSecond) {
  if (perSecond === null || perSecond === undefined) return "–";
  if (perSecond >= 100) return `${perSecond.toFixed(0)}/s`;
  if (perSecond >= 1) return `${perSecond.toFixed(1)}/s`;
  return `${(perSecond * 60).toFixed(1)}/min`;
}

export function fmtPercent(part, whole) {
  if (!whole) return "–";
  const p = (100 * part) / whole;
  return `${p < 10 && p > 0 ? p.toFixed(1) : p.toFixed(0)}%`;
}

/** "100ms", "1.5s", "2m" → ns; null if empty; throws on junk. */
export function parseDuration(text) {
  const t = (text || "").trim();
  if (!t) return null;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  const unit = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  re.lastIndex = 0;
  while (re.lastIndex < t.length) {
    const m = re.exec(t);
    if (!m) throw new Error(`“${t}” is not a duration such as 100ms or 1.5s`);
    total += parseFloat(m[1]) * unit[m[2]];
  }
  return total;
}

/** A nice tick step for a range, for rulers and axes. */
export function niceStep(range, ticks) {
  const raw = range / Math.max(1, ticks);
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}
