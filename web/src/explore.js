// Explore: any PromQL expression as a chart and a table; the URL holds the
// query and range, so a link shares exactly what is shown.
import { get, query, RANGES } from './api.js';
import { chart } from './chart.js';
import { h, labelsText, number, section, table, fill } from './dom.js';
import { rangePicker } from './service.js';

let metricNames = null;  // fetched once per page load

export function explore(ctx) {
  const expr = ctx.params.get('q') || '';
  const range = RANGES[ctx.params.get('range')] ? ctx.params.get('range') : '1h';
  const list = h('datalist', { id: 'metric-names' });
  const input = h('input', {
    id: 'query', name: 'q', type: 'text', value: expr, list: 'metric-names', autocomplete: 'off',
    spellcheck: 'false', placeholder: 'PromQL, e.g. rate(node_cpu_seconds_total[5m])', 'aria-label': 'PromQL query',
  });
  const go = (q, r) => ctx.navigate(`#/explore?${new URLSearchParams({ q, range: r })}`);
  const form = h('form', { class: 'query-form', onsubmit: (e) => { e.preventDefault(); go(input.value, range); } },
    input, list, h('button', { type: 'submit' }, 'Run'));
  const results = h('div', {});
  const el = h('div', { class: 'page explore' }, h('h1', {}, 'Explore'), form,
    rangePicker(range, (r) => go(input.value, r)), results);

  const complete = (names) => fill(list, ...names.map((n) => h('option', { value: n })));
  if (metricNames) complete(metricNames);
  else {
    get('/api/v1/label/__name__/values').then((r) => { metricNames = r.data; complete(metricNames); })
      .catch(() => { /* completion is a convenience; the query still runs */ });
  }

  let c = null;
  if (expr) {
    c = chart({ title: expr, query: expr, range: RANGES[range], height: 260 });
    const tableBox = h('div', {}, h('p', { class: 'muted' }, 'loading…'));
    results.append(c.el, section('Now', tableBox));
    query(expr).then((data) => {
      if (data.resultType === 'scalar' || data.resultType === 'string') {
        fill(tableBox, h('p', {}, String(data.result[1])));
        return;
      }
      const rows = data.result.slice(0, 500).map((s) => h('tr', {},
        h('td', {}, `${s.metric.__name__ || ''}{${labelsText(s.metric, ['__name__'])}}`),
        h('td', { class: 'num' }, number(Number(s.value[1])))));
      fill(tableBox, rows.length ? table(['Series', 'Value'], rows)
        : h('p', { class: 'muted' }, 'empty result'));
    }).catch((e) => fill(tableBox, h('p', { class: 'error' }, e.message)));
  } else {
    results.append(h('p', { class: 'muted' }, 'Type a query (metric names complete as you type) and press Enter.'));
  }
  setTimeout(() => input.focus(), 0);
  return { el, destroy() { if (c) c.destroy(); } };
}
