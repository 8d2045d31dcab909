// Measures web UIs in one headless Chromium (Debian's, via playwright-core
// from web/node_modules): bytes transferred for a first load with an empty
// cache, time to the first drawn chart, and time to draw a 24 h chart of 20
// series. Driven by bench/compare_ui.sh, which starts the UIs on the same
// host and data and passes them as JSON in UI_TARGETS:
//   [{"name", "firstLoad": url, "firstChart": {url, selector}, "chart24h": {url, selector} | null}]
// RUNS (default 5) fresh browser contexts per measurement; prints every run
// and the median.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const targets = JSON.parse(process.env.UI_TARGETS);
const runs = Number(process.env.RUNS || 5);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});

async function fresh(fn) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try { return await fn(await context.newPage()); } finally { await context.close(); }
}

// Bytes on the wire (headers + encoded bodies) until the network is idle.
async function firstLoadBytes(url) {
  return fresh(async (page) => {
    const responses = [];
    page.on('requestfinished', (r) => responses.push(r));
    await page.goto(url, { waitUntil: 'networkidle', timeout: 60000 });
    let total = 0;
    for (const r of responses) {
      const s = await r.sizes().catch(() => null);
      if (s) total += s.responseBodySize + s.responseHeadersSize;
    }
    return total;
  });
}

// Milliseconds from navigation to the selector's element being present and
// painted (two animation frames later).
async function timeTo(url, selector) {
  return fresh(async (page) => {
    const t0 = Date.now();
    await page.goto(url, { waitUntil: 'commit', timeout: 60000 });
    await page.waitForSelector(selector, { state: 'attached', timeout: 60000 });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    return Date.now() - t0;
  });
}

const results = {};
for (const t of targets) {
  const r = { bytes: [], firstChart: [], chart24h: [] };
  for (let i = 0; i < runs; i++) {
    r.bytes.push(await firstLoadBytes(t.firstLoad));
    r.firstChart.push(await timeTo(t.firstChart.url, t.firstChart.selector));
    if (t.chart24h) r.chart24h.push(await timeTo(t.chart24h.url, t.chart24h.selector));
  }
  results[t.name] = r;
  console.log(`${t.name}: first load ${r.bytes.join(' ')} bytes; first chart ${r.firstChart.join(' ')} ms; `
    + `24h x 20 chart ${r.chart24h.length ? r.chart24h.join(' ') + ' ms' : 'n/a'}`);
}
await browser.close();

console.log('\nmedians          first load (KB)   first chart (ms)   24 h chart of 20 series (ms)');
for (const [name, r] of Object.entries(results)) {
  console.log(`${name.padEnd(16)} ${(median(r.bytes) / 1024).toFixed(1).padStart(15)} ${String(median(r.firstChart)).padStart(18)} `
    + `${r.chart24h.length ? String(median(r.chart24h)).padStart(30) : 'n/a'.padStart(30)}`);
}
