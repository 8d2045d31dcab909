// Small DOM and formatting helpers. Text always goes in as text nodes, never
// as HTML, so labels and annotations cannot inject markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

// Replaces an element's children (skipping null and false, like h()).
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Severity priorities: an icon and a word, so colour is never the only signal.
export const PRIORITIES = {
  P0: { icon: '■', word: 'critical' },
  P1: { icon: '▲', word: 'high' },
  P2: { icon: '◆', word: 'medium' },
  P3: { icon: '●', word: 'low' },
};

export function priorityBadge(p, count) {
  const known = PRIORITIES[p];
  const text = known ? `${p} ${known.word}` : p || 'unranked';
  return h('span', { class: `badge prio-${p || 'none'}`, title: text },
    h('span', { 'aria-hidden': 'true' }, known ? known.icon + ' ' : ''),
    count === undefined ? text : `${count} ${text}`);
}

export const STATES = {
  up: { icon: '✔', word: 'up' },
  degraded: { icon: '◐', word: 'degraded' },
  down: { icon: '✖', word: 'down' },
  recovering: { icon: '↻', word: 'recovering' },
  planned_down: { icon: '⏸', word: 'stopped (planned)' },
  unknown: { icon: '?', word: 'unknown' },
};

export function stateBadge(state) {
  const s = STATES[state] || STATES.unknown;
  return h('span', { class: `badge state-${state}`, dataset: { state } },
    h('span', { 'aria-hidden': 'true' }, s.icon + ' '), s.word);
}

export function ago(seconds, now = Date.now() / 1000) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return '—';
  return duration(Math.max(0, now - seconds)) + ' ago';
}

export function duration(s) {
  if (s === null || s === undefined || !isFinite(s)) return '—';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.round((s % 86400) / 3600)}h`;
}

export function percent(ratio, digits = 1) {
  if (ratio === null || ratio === undefined || !isFinite(ratio)) return '—';
  return (ratio * 100).toFixed(digits) + '%';
}

export function bytes(n) {
  if (n === null || n === undefined || !isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = Math.abs(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (n < 0 ? '-' : '') + (i === 0 ? v.toFixed(0) : v.toFixed(1)) + ' ' + units[i];
}

export function number(v) {
  if (v === null || v === undefined || !isFinite(v)) return '—';
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

export function time(seconds) {
  if (!seconds) return '—';
  return new Date(seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function table(headers, rows, caption) {
  return h('div', { class: 'scroll' },
    h('table', {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows)));
}

export function section(title, ...children) {
  return h('section', { class: 'card', 'aria-label': title }, h('h2', {}, title), children);
}

export function labelsText(labels, skip = []) {
  return Object.entries(labels || {})
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => `${k}="${v}"`).join(', ');
}
