// Insight: what the recorded history adds up to — uptime and SLOs per
// service (GET /api/v1/sla), incidents with MTTD and MTTR
// (GET /api/v1/incidents) and capacity forecasts with their recommendations
// (GET /api/v1/capacity).
import { get } from './api.js';
import { duration, h, percent, section, stateBadge, table, fill, bytes } from './dom.js';

const WINDOWS = ['24h', '7d', '30d'];

// Short stretches to the millisecond (MTTD, a brief outage), longer ones in words.
function seconds(s) {
  if (s === null || s === undefined) return '—';
  return s < 10 ? `${s.toFixed(3)} s` : duration(s);
}

function windowOf(service, name) {
  return service.windows.find((w) => w.window === name);
}

// Availability with enough digits to tell 99.9 % from 99.99 %; "—" when nothing is known.
function availability(w) {
  return w && w.availability !== null ? percent(w.availability, 3) : '—';
}

function slaRows(services) {
  return services.map((s) => {
    const month = windowOf(s, '30d');
    const slo = s.slo;
    const burn = slo ? Object.entries(slo.burn_rate).map(([k, v]) => `${k} ${v === null ? '—' : v.toFixed(2)}`)
      .join(', ') : '';
    return h('tr', { dataset: { sla: s.service } }, h('th', { scope: 'row' }, s.service),
      h('td', {}, stateBadge(s.state)),
      ...WINDOWS.map((name) => h('td', { class: 'num' }, availability(windowOf(s, name)))),
      h('td', { class: 'num' }, month ? seconds(month.unplanned_downtime_seconds) : '—'),
      h('td', { class: 'num' }, month ? seconds(month.planned_downtime_seconds) : '—'),
      h('td', {}, slo ? `${percent(slo.objective, 2)} over ${slo.window}` : 'none'),
      h('td', { class: 'num' }, slo && slo.error_budget_remaining_ratio !== null
        ? percent(slo.error_budget_remaining_ratio, 0) : '—'),
      h('td', {}, burn || '—'));
  });
}

function days(d) {
  return d === null || d === undefined ? 'not filling' : `${d.toFixed(1)} d`;
}

function capacityRows(resources) {
  return resources.map((r) => {
    const f = r.daysToFull;
    const range = f && f.estimate !== null && f.low !== null && f.high !== null
      ? `${days(f.estimate)} (${f.low.toFixed(0)}–${f.high.toFixed(0)})` : days(f && f.estimate);
    return h('tr', { dataset: { resource: r.name } }, h('th', { scope: 'row' }, r.name),
      h('td', {}, r.resource.replace('_', ' ')),
      h('td', { class: 'num' }, `${bytes(r.usedBytes)} of ${bytes(r.capacityBytes)}`),
      h('td', { class: 'num' }, r.error ? '—' : range),
      h('td', {}, r.error ? r.error : r.recommendation));
  });
}

function incidentRows(incidents) {
  return incidents.map((i) => h('tr', { dataset: { incident: String(i.id) } },
    h('th', { scope: 'row' }, `#${i.id}`), h('td', {}, i.start.replace('T', ' ').replace(/\.\d+Z$/, 'Z')),
    h('td', {}, `${i.root.service} (${i.root.alert})`), h('td', {}, i.services.join(', ')), h('td', {}, i.severity),
    h('td', { class: 'num' }, seconds(i.mttd_seconds) + (i.notified === false ? ' (to firing: not notified)' : '')),
    h('td', { class: 'num' }, i.mttr_seconds !== null ? seconds(i.mttr_seconds) : i.end === null ? 'ongoing' : '—'),
    h('td', {}, h('a', { href: `/api/v1/incidents/${i.id}?format=md` }, 'post-mortem'))));
}

export function insight() {
  const boxes = { sla: h('div', {}), incidents: h('div', {}), capacity: h('div', {}) };
  const el = h('div', { class: 'page insight' }, h('h1', {}, 'Insight'),
    section('Uptime and SLOs', boxes.sla), section('Incidents, last 30 days', boxes.incidents),
    section('Capacity forecasts', boxes.capacity));
  const fail = (box, e) => fill(box, h('p', { class: 'error' }, e.message));

  async function sla() {
    const services = (await get('/api/v1/sla')).data;
    fill(boxes.sla, services.length
      ? table(['Service', 'State', 'Uptime 24 h', '7 d', '30 d', 'Unplanned down 30 d', 'Planned 30 d', 'SLO',
        'Budget left', 'Burn rate'], slaRows(services),
      'Availability from the exact times each service changed state; planned downtime (maintenance windows, ' +
        'clean stops) does not count against it.')
      : h('p', { class: 'muted' }, 'No service has a recorded state yet.'));
  }

  async function incidents() {
    const list = (await get('/api/v1/incidents?since=30d')).data;
    fill(boxes.incidents, list.length
      ? table(['Incident', 'Started', 'Root', 'Services', 'Severity', 'MTTD', 'MTTR', ''], incidentRows(list),
        'MTTD: first evidence to the first delivered page; MTTR: first evidence to the root service up again.')
      : h('p', { class: 'muted' }, 'No incident in the last 30 days.'));
  }

  async function capacity() {
    const r = (await get('/api/v1/capacity')).data;
    fill(boxes.capacity, r.resources.length
      ? table(['Resource', 'Kind', 'Used', 'Full in', 'Recommendation'], capacityRows(r.resources),
        'Forecast from 30 days of history, robust to deletions, rotation and pruning; the range is the uncertainty.')
      : h('p', { class: 'muted' }, 'No filesystem or memory history yet.'));
  }

  const load = () => {
    sla().catch((e) => fail(boxes.sla, e));
    incidents().catch((e) => fail(boxes.incidents, e));
    capacity().catch((e) => fail(boxes.capacity, e));
  };
  load();
  return { el, onTick: load };
}
