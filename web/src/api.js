// The JSON APIs the pages read. Errors become exceptions carrying the
// server's own message, shown on the page (never only in the console).

export class ApiError extends Error {}

async function request(url, options) {
  let resp;
  try {
    resp = await fetch(url, options);
  } catch (e) {
    throw new ApiError(`vigil is unreachable (${url})`);
  }
  const text = await resp.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!resp.ok) {
    const why = (body && (body.error || body.message)) || text.trim() || resp.statusText;
    throw new ApiError(`${url.split('?')[0]}: ${resp.status} ${why}`);
  }
  return body;
}

export const get = (url) => request(url);
export const postJson = (url, data) => request(url, {
  method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(data),
});
export const del = (url) => request(url, { method: 'DELETE' });

export async function status() { return (await get('/api/v1/status')).data; }

export async function query(expr, timeSeconds) {
  const p = new URLSearchParams({ query: expr });
  if (timeSeconds) p.set('time', String(timeSeconds));
  return (await get('/api/v1/query?' + p)).data;
}

// `downsampled`: read vigil's 5m/1h history where the step allows (long ranges).
export async function queryRange(expr, start, end, step, downsampled = false) {
  const p = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(step) });
  if (downsampled) p.set('downsampled', 'true');
  return (await get('/api/v1/query_range?' + p)).data;
}

// The step a chart of `rangeSeconds` uses: about 240 points, on a round
// grid, never finer than the host's 15 s collection.
export function stepFor(rangeSeconds) {
  const raw = rangeSeconds / 240;
  const grid = [15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  return grid.find((g) => g >= raw) || 86400;
}

export const RANGES = { '1h': 3600, '6h': 6 * 3600, '24h': 86400, '7d': 7 * 86400, '30d': 30 * 86400 };
