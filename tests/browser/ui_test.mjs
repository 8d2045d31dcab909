// Drives vigil's web UI in Debian's headless Chromium (playwright-core from
// web/node_modules, no browser download). Started by
// tests/integration/test_web_ui.py, which runs vigil, a private systemd --user
// and the emulated peers, and passes what to check in the environment:
//   VIGIL_URL, UI_SERVICES (comma-separated), UI_KILL_UNIT, UI_KILL_SERVICE,
//   UI_ALERT (an always-firing alert), UI_SCREENSHOTS (a directory).
// Prints "ok <check>" or "FAIL <check>: <why>" per check; exits 1 on any failure.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const url = process.env.VIGIL_URL;
const services = process.env.UI_SERVICES.split(',');
const killUnit = process.env.UI_KILL_UNIT;
const killService = process.env.UI_KILL_SERVICE;
const alertName = process.env.UI_ALERT;
const shots = process.env.UI_SCREENSHOTS;
mkdirSync(shots, { recursive: true });

let failures = 0;
function check(name, ok, detail = '') {
  if (ok) console.log(`ok ${name}`);
  else { failures++; console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`); }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(fn, timeoutMs, intervalMs = 25) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) return null;
    await sleep(intervalMs);
  }
}
const api = async (path, options) => {
  const r = await fetch(url + path, options);
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
};
const systemctl = (...args) => execFileSync('systemctl', ['--user', ...args], { timeout: 10000 });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  timeout: 30000,
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // The live stream is cut when the page navigates away: not a failure.
    if (!r.url().endsWith('/api/v1/events')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });

  // Every page loads cleanly.
  const pages = {
    overview: ['#/', '.overview table'],
    service: [`#/service/${encodeURIComponent(services[0])}`, '.service dl.facts'],
    alerts: ['#/alerts', '.alerts section'],
    explore: [`#/explore?${new URLSearchParams({ q: 'ui_test_series', range: '1h' })}`, '.explore figure.chart canvas'],
    system: ['#/system', '.system [data-collector]'],
    insight: ['#/insight', '.insight [data-sla]'],
  };
  for (const [name, [hash, ready]] of Object.entries(pages)) {
    problems.length = 0;
    await page.goto(url + '/' + hash);
    const shown = await page.waitForSelector(ready, { timeout: 10000 }).then(() => true, () => false);
    await page.waitForLoadState('networkidle').catch(() => {});
    await sleep(300);
    check(`page ${name} shows its content`, shown, `no ${ready}`);
    check(`page ${name} has no console error or failed request`, problems.length === 0, problems.join('; '));
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  }

  // The overview lists every configured service.
  await page.goto(url + '/#/');
  await page.waitForSelector('.overview tr[data-service]');
  const listed = await page.$$eval('.overview tr[data-service]', (rows) => rows.map((r) => r.dataset.service));
  check('overview lists each configured service', services.every((s) => listed.includes(s)),
    `listed ${listed.join(',')}`);
  const stateOf = (s) => page.$eval(`.overview tr[data-service="${s}"]`, (r) => r.dataset.state).catch(() => null);
  check(`${killService} is up before the kill`, await until(async () => (await stateOf(killService)) === 'up', 15000),
    `state ${await stateOf(killService)}`);

  // A killed unit turns "down" on the open page, without a reload.
  await page.evaluate(() => { window.notReloaded = true; });
  const killedAt = Date.now();
  systemctl('kill', '--signal=SIGKILL', killUnit);
  const down = await until(async () => (await stateOf(killService)) === 'down', 2000);
  const downMs = Date.now() - killedAt;
  check('a killed unit shows "down" within 2 s', down, `state ${await stateOf(killService)} after ${downMs} ms`);
  console.log(`# down shown ${downMs} ms after the kill`);
  await page.screenshot({ path: join(shots, 'overview-down.png'), fullPage: true });
  systemctl('start', killUnit);
  const upAt = Date.now();
  const up = await until(async () => (await stateOf(killService)) === 'up', 10000);
  check('it shows "up" again after the restart', up, `state ${await stateOf(killService)}`);
  console.log(`# up shown ${Date.now() - upAt} ms after the start`);
  check('the page was never reloaded', await page.evaluate(() => window.notReloaded === true));

  // A silence created in the UI mutes the alert; expiring it unmutes.
  await page.goto(url + '/#/alerts');
  const row = `.alerts tr[data-alertname="${alertName}"]`;
  await page.waitForSelector(row);
  await page.click(`${row} button`);
  check('"Silence…" fills the matchers from the alert',
    (await page.inputValue('#silence-matchers')).includes(`alertname="${alertName}"`));
  await page.fill('#silence-comment', 'browser test');
  await page.fill('#silence-author', 'ui-test');
  await page.click('.silence-form button[type=submit]');
  const silence = await until(async () => (await api('/api/v2/silences')).find((s) => s.comment === 'browser test'
    && s.status.state === 'active'), 5000);
  check('the silence appears in /api/v2/silences', silence,
    JSON.stringify(await api('/api/v2/silences')));
  const alertState = async () => (await api('/api/v2/alerts?silenced=true&inhibited=true'))
    .find((a) => a.labels.alertname === alertName)?.status?.state;
  check('the silence mutes the alert', await until(async () => (await alertState()) === 'suppressed', 5000),
    `state ${await alertState()}`);
  await page.waitForSelector(`${row}[data-state="suppressed"]`).catch(() => {});
  await page.screenshot({ path: join(shots, 'alerts-silenced.png'), fullPage: true });
  if (silence) {
    await page.click(`tr[data-silence="${silence.id}"] button.danger`);
    const expired = await until(async () => (await api(`/api/v2/silence/${silence.id}`)).status.state === 'expired',
      5000);
    check('expiring it from the UI expires it', expired);
    check('the alert is active again', await until(async () => (await alertState()) === 'active', 5000),
      `state ${await alertState()}`);
  }

  // A chart's points equal /api/v1/query_range for the same query, and its canvas is drawn.
  const expr = 'ui_test_series';
  await page.goto(url + '/#/explore?' + new URLSearchParams({ q: expr, range: '1h' }));
  await page.waitForSelector('.explore figure.chart canvas');
  const drawn = await until(() => page.evaluate((q) => {
    for (const c of window.vigil.charts.values()) if (c.query === q && c.data[0].length) return c;
    return null;
  }, expr), 5000);
  if (!drawn) check('the explore chart has data', false);
  else {
    const p = new URLSearchParams({ query: drawn.query, start: drawn.start, end: drawn.end, step: drawn.step });
    if (drawn.downsampled) p.set('downsampled', 'true');
    const ref = (await api('/api/v1/query_range?' + p)).data.result;
    // Series by series (the chart keeps the API's order), point by point.
    let compared = 0;
    const mismatch = [];
    ref.forEach((series, k) => {
      const want = new Map(series.values.map(([t, v]) => [t, Number(v)]));
      const got = drawn.data[0].map((t, i) => [t, drawn.data[k + 1][i]]).filter(([, v]) => v !== null);
      compared += got.length;
      if (JSON.stringify(series.metric) !== JSON.stringify(drawn.series[k])) mismatch.push(`series ${k} labels`);
      if (got.length !== want.size || !got.every(([t, v]) => want.get(t) === v)) {
        mismatch.push(`series ${k}: ${got.length} drawn, ${want.size} from the API`);
      }
    });
    check('the chart shows exactly the points of /api/v1/query_range',
      ref.length === 3 && drawn.series.length === 3 && compared > 400 && mismatch.length === 0,
      `${ref.length} series from the API, ${drawn.series.length} drawn, ${compared} points; ${mismatch.join('; ')}`);
    // Pixels in the series' own colour (#3b82f6) mean the line was drawn.
    const coloured = await page.$eval('.explore .uplot canvas', (canvas) => {
      const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 200 && Math.abs(d[i] - 59) < 40 && Math.abs(d[i + 1] - 130) < 40 && Math.abs(d[i + 2] - 246) < 40) n++;
      }
      return n;
    });
    check('the chart canvas has the series drawn', coloured > 50, `${coloured} pixels in the series colour`);
  }

  // Insight: every service's uptime as GET /api/v1/sla gives it.
  await page.goto(url + '/#/insight');
  await page.waitForSelector('.insight tr[data-sla]');
  const sla = (await (await fetch(url + '/api/v1/sla')).json()).data;
  const shownSla = await page.$$eval('.insight tr[data-sla]', (rows) => rows.map((r) => [r.dataset.sla,
    r.querySelector('[data-state]').dataset.state, r.cells[2].textContent, r.cells[5].textContent]));
  // The kill's downtime is over, so it no longer moves: to the millisecond.
  const killedDown = sla.find((s) => s.service === killService).windows.find((w) => w.window === '30d')
    .unplanned_downtime_seconds;
  const killedRow = shownSla.find((r) => r[0] === killService);
  check('insight shows the kill\'s unplanned downtime', killedDown > 0 && killedRow &&
    killedRow[3] === `${killedDown.toFixed(3)} s`, `${killedRow} vs ${killedDown}`);
  // The uptime moves while the test reads it (a service killed above has a second of downtime in a
  // window of seconds): the same within 0.5 %.
  const agrees = sla.length === shownSla.length && sla.every((s, i) => {
    const day = s.windows.find((w) => w.window === '24h');
    const [name, state, text] = shownSla[i];
    return name === s.service && state === s.state && (day.availability === null ? text === '—'
      : Math.abs(parseFloat(text) - day.availability * 100) < 0.5);
  });
  check('insight shows each service\'s state and 24 h uptime as the SLA API does',
    services.every((name) => shownSla.some((r) => r[0] === name)) && agrees,
    `${JSON.stringify(shownSla)} vs ${JSON.stringify(sla.map((s) => [s.service, s.state, s.windows[0]]))}`);

  // The titan kill above is an incident: filed within seconds, listed with its MTTD.
  const incident = await until(async () => (await (await fetch(url + '/api/v1/incidents?since=1h')).json()).data
    .find((i) => i.root.service === killService && i.mttr_seconds !== null), 20000, 500);
  check('the kill is filed as an incident', !!incident,
    JSON.stringify((await (await fetch(url + '/api/v1/incidents?since=1h')).json()).data));
  if (incident) {
    await page.goto(url + '/#/');
    await page.goto(url + '/#/insight');
    const row = await page.waitForSelector(`.insight tr[data-incident="${incident.id}"]`, { timeout: 5000 })
      .catch(() => null);
    const text = row ? await row.textContent() : '';
    check('insight lists the incident with its root, MTTD and MTTR', text.includes(killService) &&
      text.includes(incident.mttd_seconds.toFixed(3)) && text.includes(incident.mttr_seconds.toFixed(3)), text);
    await page.screenshot({ path: join(shots, 'insight-incident.png'), fullPage: true });
  }

  // Keyboard: page keys and the theme key.
  await page.goto(url + '/#/');
  await page.waitForSelector('.overview');
  await page.keyboard.press('2');
  check('key 2 opens the alerts page', await until(async () => (await page.evaluate(() => location.hash)) === '#/alerts',
    2000));
  const before = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.keyboard.press('t');
  const after = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check('key t switches between light and dark', before !== after, `${before} -> ${after}`);
  await page.goto(url + '/#/');
  await page.waitForSelector('.overview tr[data-service]');
  await page.screenshot({ path: join(shots, 'overview-other-theme.png'), fullPage: true });
  await page.keyboard.press('t');

  // A phone: nothing wider than the screen.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const pp = await phone.newPage();
  await pp.goto(url + '/#/');
  await pp.waitForSelector('.overview tr[data-service]');
  const overflow = await pp.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check('the overview fits a phone screen', overflow <= 1, `${overflow} px wider than the screen`);
  await pp.screenshot({ path: join(shots, 'overview-phone.png'), fullPage: true });
  await phone.close();
} catch (e) {
  check('browser session', false, e.stack || String(e));
} finally {
  await browser.close();
}
process.exit(failures ? 1 : 0);
