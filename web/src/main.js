// vigil's web UI: a hash-routed page per view, the status snapshot shared by
// all of them, and one live-update stream (server-sent events) that makes a
// change on the host reach the open page within a second.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { alerts } from './alerts.js';
import { status as fetchStatus } from './api.js';
import { h, fill } from './dom.js';
import { explore } from './explore.js';
import { insight } from './insight.js';
import { overview } from './overview.js';
import { service } from './service.js';
import { system } from './system.js';

const PAGES = { '': overview, service, alerts, explore, system, insight };
const TICK_MS = 10000;  // charts and tables that no event announces (host resources)

const main = document.getElementById('page');
const liveBadge = document.getElementById('live');
let current = null;
let lastStatus = null;
let statusError = null;

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, q] = raw.split('?');
  return { path: path.split('/').map(decodeURIComponent), params: new URLSearchParams(q || '') };
}

function route() {
  if (current && current.destroy) current.destroy();
  const { path, params } = parseHash();
  const make = PAGES[path[0]] || null;
  document.querySelectorAll('[data-nav]').forEach((a) => {
    const on = a.dataset.nav === (path[0] || 'overview') || (path[0] === 'service' && a.dataset.nav === 'overview');
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  });
  if (!make) {
    current = { el: h('div', {}, h('h1', {}, 'Not found'), h('p', {}, 'No page here. '), h('a', { href: '#/' }, 'Overview')) };
  } else {
    current = make({ path, params, navigate });
  }
  fill(main, current.el);
  document.title = `vigil — ${path[0] ? path[0] : 'overview'}${path[1] ? ' ' + path[1] : ''}`;
  if (lastStatus && current.onStatus) current.onStatus(lastStatus);
  else if (statusError) showStatusError();
}

function showStatusError() {
  if (!current || !current.onStatus) return;
  let box = main.querySelector('.status-error');
  if (!box) { box = h('p', { class: 'error status-error', role: 'alert' }); main.prepend(box); }
  box.textContent = statusError;
}

// One status request at a time; a change during a request asks for one more.
let inFlight = false;
let again = false;
async function refreshStatus() {
  if (inFlight) { again = true; return; }
  inFlight = true;
  try {
    lastStatus = await fetchStatus();
    statusError = null;
    main.querySelector('.status-error')?.remove();
    if (current && current.onStatus) current.onStatus(lastStatus);
    document.documentElement.dataset.overall = lastStatus.overall;
  } catch (e) {
    statusError = e.message;
    showStatusError();
  } finally {
    inFlight = false;
    if (again) { again = false; refreshStatus(); }
  }
}

let liveTimer = null;
function onEvent() {
  // Events come in bursts (a unit stopping changes several metrics): one refresh per burst.
  if (liveTimer) return;
  liveTimer = setTimeout(() => {
    liveTimer = null;
    refreshStatus();
    if (current && current.onLive) current.onLive();
  }, 50);
}

function connectLive() {
  if (!window.EventSource) { liveBadge.textContent = 'polling'; return; }
  const es = new EventSource('/api/v1/events');
  es.addEventListener('open', () => { liveBadge.textContent = '● live'; liveBadge.className = 'live on'; refreshStatus(); });
  es.addEventListener('error', () => { liveBadge.textContent = '○ reconnecting'; liveBadge.className = 'live off'; });
  for (const type of ['change', 'alerts', 'recovery']) es.addEventListener(type, onEvent);
}

// Theme: the system's unless the user chose one here.
function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}
applyTheme(localStorage.getItem('vigil.theme'));
function toggleTheme() {
  const dark = document.documentElement.dataset.theme
    ? document.documentElement.dataset.theme === 'dark'
    : matchMedia('(prefers-color-scheme: dark)').matches;
  const next = dark ? 'light' : 'dark';
  localStorage.setItem('vigil.theme', next);
  applyTheme(next);
  route();  // charts read their colours when drawn
}
document.getElementById('theme').addEventListener('click', toggleTheme);

// Keys: 1-5 pages, / the query box, t theme. Not while typing.
document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
  const pages = { 1: '#/', 2: '#/alerts', 3: '#/explore', 4: '#/system', 5: '#/insight' };
  if (pages[e.key]) { navigate(pages[e.key]); main.focus(); } else if (e.key === 't') toggleTheme();
  else if (e.key === '/') { e.preventDefault(); navigate('#/explore'); }
});

window.addEventListener('hashchange', route);
setInterval(() => {
  if (document.hidden) return;
  refreshStatus();
  if (current && current.onTick) current.onTick();
}, TICK_MS);
route();
refreshStatus();
connectLive();
