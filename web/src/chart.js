// Time-series charts: one PromQL range query drawn with uPlot. Every chart
// on the page is listed in window.vigil.charts (query, range and the points
// drawn) so tests and curious users can check it against the API.
import uPlot from 'uplot';
import { queryRange, stepFor } from './api.js';
import { h, labelsText } from './dom.js';

const registry = new Map();
window.vigil = Object.assign(window.vigil || {}, { charts: registry });
let nextId = 1;

const PALETTE = ['#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#06b6d4', '#ec4899', '#84cc16',
  '#f97316', '#6366f1'];

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// Series of a Prometheus matrix on one time grid: start + k*step.
export function align(matrix, start, end, step) {
  const xs = [];
  for (let t = start; t <= end; t += step) xs.push(t);
  const index = new Map(xs.map((t, i) => [t, i]));
  const ys = matrix.map((s) => {
    const col = new Array(xs.length).fill(null);
    for (const [t, v] of s.values) {
      const i = index.get(t);
      if (i !== undefined) col[i] = Number(v);
    }
    return col;
  });
  return [xs, ...ys];
}

function legendName(metric) {
  const { __name__: name, ...rest } = metric;
  const text = labelsText(rest);
  return text ? `${name || ''}{${text}}` : (name || 'value');
}

// A chart card. `spec`: {title, query, range (s), format(v) -> text, legend(metric) -> text};
// `$window` in the query becomes a rate window that suits the step.
// Returns {el, destroy()}; the chart loads itself.
export function chart(spec) {
  const id = `chart-${nextId++}`;
  const plotBox = h('div', { class: 'plot' });
  const note = h('p', { class: 'muted chart-note', role: 'status' }, 'loading…');
  const el = h('figure', { class: 'chart', id, dataset: { query: spec.query } },
    h('figcaption', {}, spec.title), plotBox, note);
  let plot = null;
  let destroyed = false;
  let resize = null;

  const load = async () => {
    const end = Math.floor(Date.now() / 1000);
    const step = spec.step || stepFor(spec.range);
    // Steps count back from now, so the newest point is always drawn.
    const start = end - Math.floor(spec.range / step) * step;
    // Rate windows span two steps (at least 5 m) so coarse steps skip no data.
    const query = spec.query.replaceAll('$window', `${Math.max(300, 2 * step)}s`);
    // Steps of 5 m and more may read the downsampled history.
    const downsampled = step >= 300;
    let result;
    try {
      result = await queryRange(query, start, end, step, downsampled);
    } catch (e) {
      note.textContent = e.message;
      note.classList.add('error');
      return;
    }
    if (destroyed) return;
    const matrix = result.result || [];
    const data = align(matrix, start, end, step);
    registry.set(id, { id, query, start, end, step, downsampled, data, series: matrix.map((s) => s.metric) });
    if (plot) { plot.destroy(); plot = null; }
    if (matrix.length === 0) {
      note.textContent = 'no data in this range';
      return;
    }
    note.textContent = '';
    const fmt = spec.format || ((v) => (v === null ? '—' : String(+v.toPrecision(4))));
    const axisColor = cssVar('--muted');
    const gridColor = cssVar('--grid');
    const width = Math.max(280, plotBox.clientWidth || el.clientWidth || 600);
    plot = new uPlot({
      width,
      height: spec.height || 180,
      cursor: { drag: { x: true, y: false } },
      legend: { show: matrix.length <= 12 },
      scales: { x: { time: true } },
      axes: [
        { stroke: axisColor, grid: { stroke: gridColor } },
        { stroke: axisColor, grid: { stroke: gridColor }, size: 80, values: (u, vals) => vals.map(fmt) },
      ],
      series: [{}, ...matrix.map((s, i) => ({
        label: (spec.legend || legendName)(s.metric),
        stroke: PALETTE[i % PALETTE.length],
        width: 1.5,
        spanGaps: false,
        value: (u, v) => fmt(v),
      }))],
    }, data, plotBox);
  };

  if (window.ResizeObserver) {
    resize = new ResizeObserver(() => {
      if (plot && plotBox.clientWidth > 0 && Math.abs(plot.width - plotBox.clientWidth) > 8) {
        plot.setSize({ width: plotBox.clientWidth, height: plot.height });
      }
    });
    resize.observe(plotBox);
  }
  load();
  return {
    el,
    reload: load,
    destroy() {
      destroyed = true;
      if (resize) resize.disconnect();
      if (plot) plot.destroy();
      registry.delete(id);
    },
  };
}
