// Overview: every service, the alerts by priority, the host's resources.
import { chart } from './chart.js';
import {
  ago, bytes, duration, h, number, percent, PRIORITIES, priorityBadge, section, stateBadge, table, fill } from './dom.js';

function healthChips(service) {
  return (service.health || []).map((v) => h('span', { class: 'chip', title: v.name },
    v.text && v.text.includes(v.name) ? v.text : `${v.name} ${v.text ?? '—'}`));
}

function alertCounts(counts) {
  const parts = Object.keys(PRIORITIES).filter((p) => counts && counts[p] > 0)
    .map((p) => priorityBadge(p, counts[p]));
  return parts.length ? parts : h('span', { class: 'muted' }, 'none');
}

function servicesTable(status) {
  if (!status.services.length) {
    return h('p', { class: 'muted' }, 'No services are configured: add them under services: in vigil.yml.');
  }
  const rows = status.services.map((s) => h('tr', { dataset: { service: s.name, state: s.state } },
    h('th', { scope: 'row' }, h('a', { href: `#/service/${encodeURIComponent(s.name)}` }, s.name)),
    h('td', {}, stateBadge(s.state)),
    h('td', { title: s.since ? new Date(s.since * 1000).toISOString() : '' }, ago(s.since, status.time)),
    h('td', {}, percent(s.uptime_24h, 2)),
    h('td', {}, percent(s.uptime_30d, 2)),
    h('td', { class: 'chips' }, healthChips(s)),
    h('td', {}, alertCounts(s.alerts))));
  return table(['Service', 'State', 'Since', 'Uptime 24 h', 'Uptime 30 d', 'Health', 'Alerts'], rows);
}

function firingList(status) {
  const firing = status.alerts.firing || [];
  if (!firing.length) return h('p', { class: 'ok' }, '✔ No alerts are firing.');
  return h('ul', { class: 'alerts' }, firing.slice(0, 20).map((a) => h('li', {},
    priorityBadge(a.priority), ' ', h('strong', {}, a.name),
    a.service ? ` (${a.service})` : '', a.summary ? ` — ${a.summary}` : '',
    h('span', { class: 'muted' }, ` since ${ago(a.since, status.time)}`))),
  firing.length > 20 ? h('li', {}, h('a', { href: '#/alerts' }, `${firing.length - 20} more…`)) : null);
}

function hostSection(status) {
  const host = status.host || {};
  const mem = host.memory || {};
  const used = mem.total_bytes && mem.available_bytes !== null ? 1 - mem.available_bytes / mem.total_bytes : null;
  const meter = (ratio) => h('meter', { min: 0, max: 1, low: 0.8, high: 0.9, optimum: 0, value: ratio ?? 0 });
  const fsRows = (host.filesystems || []).map((f) => h('tr', {},
    h('th', { scope: 'row' }, f.mountpoint), h('td', {}, f.device), h('td', {}, meter(f.used_ratio), ' ',
      percent(f.used_ratio)),
    h('td', {}, `${bytes(f.avail_bytes)} of ${bytes(f.size_bytes)}`),
    h('td', {}, f.fill_bytes_per_second === null || f.fill_bytes_per_second === undefined ? '—'
      : `${bytes(f.fill_bytes_per_second * 86400)}/day`),
    h('td', {}, f.full_in_seconds ? `in ${duration(f.full_in_seconds)}` : '—')));
  return section('Host',
    h('dl', { class: 'facts' },
      h('dt', {}, 'Host'), h('dd', {}, host.name || '—'),
      h('dt', {}, 'CPU busy'), h('dd', {}, meter(host.cpu_busy_ratio), ' ', percent(host.cpu_busy_ratio),
        host.cpus ? ` of ${host.cpus} CPUs` : ''),
      h('dt', {}, 'Load (1 m)'), h('dd', {}, number(host.load1)),
      h('dt', {}, 'Memory used'), h('dd', {}, meter(used), ' ', percent(used),
        mem.total_bytes ? ` of ${bytes(mem.total_bytes)}` : '')),
    fsRows.length ? table(['Mount', 'Device', 'Used', 'Free', 'Fill rate', 'Full'], fsRows) : null);
}

export function overview(ctx) {
  const el = h('div', { class: 'page overview' });
  const body = h('div', {});
  const charts = h('div', { class: 'grid' });
  const cpu = chart({
    title: 'CPU busy, last hour', range: 3600,
    query: '1 - avg(rate(node_cpu_seconds_total{mode="idle"}[1m]))',
    legend: () => 'busy', format: (v) => percent(v, 0),
  });
  const mem = chart({
    title: 'Memory used, last hour', range: 3600,
    query: 'node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes',
    legend: () => 'used', format: bytes,
  });
  charts.append(cpu.el, mem.el);
  el.append(h('h1', {}, 'Overview'), body, section('Last hour', charts));

  const draw = (status) => {
    const overall = status.overall || 'healthy';
    fill(body, 
      h('p', { class: `overall overall-${overall}`, role: 'status', dataset: { overall } },
        { healthy: '✔ Healthy', warning: '▲ Warning', critical: '■ Critical' }[overall] || overall,
        h('span', { class: 'muted' }, ` — updated ${new Date(status.time * 1000).toLocaleTimeString()}`)),
      section('Alerts', h('p', { class: 'counts' }, Object.keys(PRIORITIES).map((p) =>
        priorityBadge(p, status.alerts.counts[p] || 0)),
      h('span', { class: 'muted' }, ` ${status.alerts.counts.pending || 0} pending`)), firingList(status)),
      section('Services', servicesTable(status)),
      hostSection(status));
  };
  return {
    el,
    onStatus: draw,
    onTick() { cpu.reload(); mem.reload(); },
    destroy() { cpu.destroy(); mem.destroy(); },
  };
}
