// One service: its state and health now, and charts over a chosen range.
import { RANGES } from './api.js';
import { chart } from './chart.js';
import { ago, bytes, h, percent, section, stateBadge, fill } from './dom.js';

export function rangePicker(current, onPick) {
  return h('div', { class: 'ranges', role: 'group', 'aria-label': 'Time range' },
    Object.keys(RANGES).map((r) => h('button', {
      type: 'button', 'aria-pressed': String(r === current), onclick: () => onPick(r),
    }, r)));
}

function quote(v) { return JSON.stringify(v); }

function chartSpecs(name) {
  const s = `service=${quote(name)}`;
  return [
    { title: 'State (1 = up)', query: `vigil_service_up{${s}}`, legend: () => 'up' },
    { title: 'Restarts (systemd NRestarts)', query: `node_systemd_service_restart_total{${s}}`,
      legend: (m) => m.name || 'restarts' },
    { title: 'Probe latency', query: `vigil_probe_duration_seconds{${s}}`,
      legend: (m) => m.probe || 'probe', format: (v) => (v === null ? '—' : `${(v * 1000).toFixed(0)} ms`) },
    { title: 'Log matches per second', query: `sum by (log, rule) (rate(vigil_log_matches_total{${s}}[$window]))`,
      legend: (m) => `${m.log}/${m.rule}` },
    { title: 'Sync lag (blocks)',
      query: `vigil_bitcoind_sync_lag_blocks{${s}} or vigil_titan_height_lag_blocks{${s}} `
        + `or vigil_validator_height_lag_blocks{${s}}`,
      legend: (m) => m.__name__.replace(/^vigil_|_blocks$/g, '') },
    { title: 'Process CPU (cores)', query: `sum(rate(vigil_process_cpu_seconds_total{${s}}[$window]))`,
      legend: () => 'cpu' },
    { title: 'Process memory (RSS)', query: `sum(vigil_process_resident_memory_bytes{${s}})`,
      legend: () => 'rss', format: bytes },
  ];
}

export function service(ctx) {
  const name = ctx.path[1] || '';
  const range = RANGES[ctx.params.get('range')] ? ctx.params.get('range') : '24h';
  const head = h('div', {});
  const grid = h('div', { class: 'grid' });
  const charts = chartSpecs(name).map((spec) => chart({ ...spec, range: RANGES[range] }));
  grid.append(...charts.map((c) => c.el));
  const el = h('div', { class: 'page service' },
    h('p', {}, h('a', { href: '#/' }, '← Overview')),
    h('h1', {}, name),
    head,
    rangePicker(range, (r) => ctx.navigate(`#/service/${encodeURIComponent(name)}?range=${r}`)),
    section('History', grid));

  const draw = (status) => {
    const s = status.services.find((x) => x.name === name);
    if (!s) {
      fill(head, h('p', { class: 'error' }, `No service named ${name} is configured.`));
      return;
    }
    fill(head, h('dl', { class: 'facts', dataset: { service: name, state: s.state } },
      h('dt', {}, 'State'), h('dd', {}, stateBadge(s.state), ` since ${ago(s.since, status.time)}`),
      h('dt', {}, 'Units'), h('dd', {}, (s.units || []).join(', ') || '—'),
      h('dt', {}, 'Uptime'), h('dd', {}, `${percent(s.uptime_24h, 2)} (24 h), ${percent(s.uptime_30d, 2)} (30 d)`),
      h('dt', {}, 'Depends on'), h('dd', {}, (s.depends_on || []).join(', ') || '—'),
      (s.health || []).map((v) => [h('dt', {}, v.name), h('dd', {}, v.text)])));
  };
  return {
    el,
    onStatus: draw,
    onTick() { charts.forEach((c) => c.reload()); },
    destroy() { charts.forEach((c) => c.destroy()); },
  };
}
