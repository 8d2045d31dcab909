// A cross-site form post in Debian's headless Chromium (playwright-core from
// web/node_modules): a page served on another origin submits a form to
// vigil's silences API while the browser holds the operator's credentials.
// Started by tests/integration/test_web_security.py with VIGIL_URL, EVIL_URL,
// VIGIL_USER and VIGIL_PASSWORD. Prints "ok <check>" or "FAIL <check>: <why>";
// exits 1 on any failure.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const vigil = process.env.VIGIL_URL;
const evil = process.env.EVIL_URL;
let failures = 0;
function check(name, ok, detail = '') {
  if (ok) console.log(`ok ${name}`);
  else { failures++; console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`); }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  timeout: 30000,
});
try {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,  // the test's own CA
    httpCredentials: { username: process.env.VIGIL_USER, password: process.env.VIGIL_PASSWORD },
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);

  // The operator has the UI open: the browser now sends the credentials.
  const ui = await page.goto(vigil + '/');
  check('the UI loads with the operator\'s credentials', ui.status() === 200, `status ${ui.status()}`);
  const sameOrigin = await page.evaluate(async () => {
    const now = Date.now();
    const r = await fetch('/api/v2/silences', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        matchers: [{ name: 'alertname', value: 'FromTheUi', isRegex: false }],
        startsAt: new Date(now).toISOString(), endsAt: new Date(now + 3600e3).toISOString(),
        createdBy: 'ui', comment: 'same-origin write',
      }),
    });
    return r.status;
  });
  check('a write from the UI\'s own origin is accepted', sameOrigin === 200, `status ${sameOrigin}`);

  // Another site's page posts a form to vigil (CSRF).
  const answer = page.waitForResponse((r) => r.url().startsWith(vigil + '/api/v2/silences'));
  await page.goto(evil + '/attack.html');
  const r = await answer;
  check('the cross-site form post is refused with 403', r.status() === 403, `status ${r.status()}`);
  const text = await r.text();
  check('the refusal says why', text.includes('cross-origin'), text);
} catch (e) {
  check('browser session', false, e.stack);
} finally {
  await browser.close();
}
process.exit(failures ? 1 : 0);
