// System: what vigil itself is doing — collectors, rules, the notification
// outbox and the recovery audit.
import { notificationsTable } from './alerts.js';
import { get, query } from './api.js';
import { ago, duration, h, number, section, table, fill } from './dom.js';

function byLabel(result, label) {
  const out = new Map();
  for (const s of result) out.set(s.metric[label], Number(s.value[1]));
  return out;
}

export function system() {
  const boxes = { collectors: h('div', {}), rules: h('div', {}), outbox: h('div', {}), recovery: h('div', {}) };
  const el = h('div', { class: 'page system' }, h('h1', {}, 'System'),
    section('Collectors', boxes.collectors), section('Rules', boxes.rules),
    section('Notification outbox', boxes.outbox), section('Recovery', boxes.recovery));
  const fail = (box, e) => fill(box, h('p', { class: 'error' }, e.message));

  async function collectors() {
    const [up, last, dur, errors] = await Promise.all([
      query('vigil_collector_up'), query('vigil_collector_last_success_timestamp_seconds'),
      query('vigil_collector_duration_seconds'), query('sum by (collector) (vigil_collector_errors_total)')]);
    const lastBy = byLabel(last.result, 'collector');
    const durBy = byLabel(dur.result, 'collector');
    const errBy = byLabel(errors.result, 'collector');
    const now = Date.now() / 1000;
    const rows = up.result.sort((a, b) => a.metric.collector.localeCompare(b.metric.collector)).map((s) => {
      const name = s.metric.collector;
      const ok = s.value[1] === '1';
      return h('tr', { dataset: { collector: name } }, h('th', { scope: 'row' }, name),
        h('td', {}, ok ? '✔ ok' : '✖ failing'), h('td', {}, ago(lastBy.get(name), now)),
        h('td', {}, durBy.has(name) ? `${(durBy.get(name) * 1000).toFixed(1)} ms` : '—'),
        h('td', {}, number(errBy.get(name) ?? 0)));
    });
    fill(boxes.collectors, table(['Collector', 'Last run', 'Last success', 'Took', 'Errors'], rows));
  }

  async function rules() {
    const r = await get('/api/v1/rules');
    const rows = r.data.groups.map((g) => h('tr', {}, h('th', { scope: 'row' }, g.name), h('td', {}, g.file),
      h('td', {}, g.rules.length), h('td', {}, g.lastEvaluation ? ago(Date.parse(g.lastEvaluation) / 1000) : '—'),
      h('td', {}, `${((g.evaluationTime || 0) * 1000).toFixed(2)} ms`),
      h('td', {}, g.rules.filter((x) => x.health === 'err').map((x) => `${x.name || x.alert}: ${x.lastError}`)
        .join('; ') || 'ok')));
    fill(boxes.rules, rows.length ? table(['Group', 'File', 'Rules', 'Evaluated', 'Took', 'Health'], rows)
      : h('p', { class: 'muted' }, 'No rule files are loaded.'));
  }

  async function outbox() {
    const [r, q] = await Promise.all([get('/api/v1/notifications'),
      query('sum by (__name__) ({__name__=~"vigil_notifications_.*|vigil_outbox_.*"})')]);
    const facts = q.result.map((s) => [h('dt', {}, s.metric.__name__), h('dd', {}, number(Number(s.value[1])))]);
    const items = r.data.history.slice(0, 20);
    fill(boxes.outbox, facts.length ? h('dl', { class: 'facts' }, facts) : null,
      notificationsTable(items));
  }

  async function recovery() {
    const r = (await get('/api/v1/recovery?limit=30')).data;
    const pauses = Object.entries(r.pauses || {}).map(([s, until]) => `${s} (${until})`).join(', ');
    fill(boxes.recovery, 
      h('p', {}, `Mode: ${r.mode}`, pauses ? ` — paused: ${pauses}` : ''),
      r.services.length ? table(['Service', 'Unit', 'Phase', 'Since', 'Budget left', 'Last MTTR'],
        r.services.map((s) => h('tr', {}, h('th', { scope: 'row' }, s.service), h('td', {}, s.unit),
          h('td', {}, s.phase), h('td', {}, s.since), h('td', {}, s.budgetRemaining),
          h('td', {}, s.lastMttrSeconds ? duration(s.lastMttrSeconds) : '—')))) : null,
      r.history.length ? table(['When', 'Service', 'Kind', 'Action', 'Outcome', 'Detail'], r.history.map((e) =>
        h('tr', {}, h('td', {}, e.time), h('td', {}, e.service), h('td', {}, e.kind), h('td', {}, e.action || ''),
          h('td', {}, e.outcome || ''), h('td', {}, e.detail))))
        : h('p', { class: 'muted' }, 'No recovery actions recorded.'));
  }

  const load = () => {
    collectors().catch((e) => fail(boxes.collectors, e));
    rules().catch((e) => fail(boxes.rules, e));
    outbox().catch((e) => fail(boxes.outbox, e));
    recovery().catch((e) => fail(boxes.recovery, e));
  };
  load();
  return { el, onTick: load, onLive: load };
}
