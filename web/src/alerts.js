// Alerts: firing (and why some are muted), pending, silences, recent
// notifications; silences are created, extended and expired here.
import { del, get, postJson } from './api.js';
import { ago, h, labelsText, priorityBadge, section, table, time, fill } from './dom.js';

// The priority vigil gave an alert (alerting.severities), found by its labels
// in the status snapshot.
function priorityOf(labels, status) {
  const key = JSON.stringify(labels);
  const hit = (status?.alerts?.firing || []).find((a) => JSON.stringify(a.labels) === key);
  return hit ? hit.priority : '';
}

function matchersText(matchers) {
  return matchers.map((m) => `${m.name}${m.isEqual === false ? '!' : ''}${m.isRegex ? '=~' : '='}"${m.value}"`)
    .join(', ');
}

// `alertname="X", service=~"a|b"` -> Alertmanager v2 matchers.
export function parseMatchers(text) {
  const out = [];
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;
  let m;
  let at = 0;
  while (at < text.length && (m = re.exec(text))) {
    out.push({ name: m[1], value: m[3].replace(/\\(.)/g, '$1'), isRegex: m[2].includes('~'),
      isEqual: !m[2].startsWith('!') });
    at = re.lastIndex;
  }
  if (at < text.trim().length || !out.length) {
    throw new Error(`matchers: expected name="value", … at character ${at + 1}`);
  }
  return out;
}

// Recent deliveries from /api/v1/notifications (here and on the System page).
export function notificationsTable(items) {
  if (!items.length) return h('p', { class: 'muted' }, 'No notifications sent yet.');
  return table(['When', 'Receiver', 'Via', 'Outcome', 'Attempts', 'Detail'], items.map((n) => h('tr', {},
    h('td', {}, n.createdAt), h('td', {}, n.receiver), h('td', {}, n.integration), h('td', {}, n.outcome),
    h('td', {}, n.attempts), h('td', {}, n.detail))));
}

export function alerts(ctx) {
  const el = h('div', { class: 'page alerts' }, h('h1', {}, 'Alerts'));
  const firingBox = h('div', {});
  const pendingBox = h('div', {});
  const silencesBox = h('div', {});
  const historyBox = h('div', {});
  const message = h('p', { role: 'status', class: 'message' });
  const matchers = h('input', { id: 'silence-matchers', name: 'matchers', required: true, size: 50,
    placeholder: 'alertname="DiskFull", service="bitcoind"' });
  const hours = h('select', { id: 'silence-duration', name: 'duration' },
    [['1h', 1], ['4h', 4], ['12h', 12], ['1d', 24], ['7d', 168]].map(([t, v]) => h('option', { value: v }, t)));
  const comment = h('input', { id: 'silence-comment', name: 'comment', required: true, size: 40,
    placeholder: 'why (required)' });
  const author = h('input', { id: 'silence-author', name: 'createdBy', size: 16,
    value: localStorage.getItem('vigil.author') || '' , placeholder: 'your name' });
  const form = h('form', { class: 'silence-form', onsubmit: (e) => { e.preventDefault(); createSilence(); } },
    h('label', {}, 'Matchers ', matchers), h('label', {}, 'For ', hours), h('label', {}, 'Comment ', comment),
    h('label', {}, 'By ', author), h('button', { type: 'submit' }, 'Create silence'));
  el.append(message,
    section('Firing', firingBox), section('Pending', pendingBox),
    section('Silences', form, silencesBox), section('Recent notifications', historyBox));

  let lastStatus = null;
  const say = (text, bad) => { message.textContent = text; message.className = `message ${bad ? 'error' : 'ok'}`; };

  async function createSilence() {
    let parsed;
    try { parsed = parseMatchers(matchers.value); } catch (e) { say(e.message, true); return; }
    if (!comment.value.trim()) { say('A silence needs a comment.', true); return; }
    localStorage.setItem('vigil.author', author.value);
    const now = Date.now();
    try {
      const r = await postJson('/api/v2/silences', {
        matchers: parsed, startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + Number(hours.value) * 3600e3).toISOString(),
        createdBy: author.value || 'web UI', comment: comment.value,
      });
      say(`Silence ${r.silenceID} created.`);
      comment.value = '';
      load();
    } catch (e) { say(e.message, true); }
  }

  async function extend(s) {
    try {
      const base = Math.max(Date.now(), Date.parse(s.endsAt));
      await postJson('/api/v2/silences', { ...s, status: undefined, updatedAt: undefined,
        endsAt: new Date(base + 3600e3).toISOString() });
      say(`Silence ${s.id} extended by 1 h.`);
      load();
    } catch (e) { say(e.message, true); }
  }

  async function expire(s) {
    try {
      await del(`/api/v2/silence/${encodeURIComponent(s.id)}`);
      say(`Silence ${s.id} expired.`);
      load();
    } catch (e) { say(e.message, true); }
  }

  function silenceFrom(a) {
    const keep = ['alertname', 'service', 'instance', 'name', 'mountpoint', 'probe'];
    matchers.value = Object.entries(a.labels).filter(([k]) => keep.includes(k))
      .map(([k, v]) => `${k}="${v.replace(/["\\]/g, '\\$&')}"`).join(', ');
    comment.focus();
  }

  async function load() {
    const [am, rules, silences, history] = await Promise.allSettled([
      get('/api/v2/alerts'), get('/api/v1/alerts'), get('/api/v2/silences'), get('/api/v1/notifications')]);
    const now = Date.now() / 1000;
    if (am.status === 'fulfilled') {
      // inhibitedBy lists fingerprints: name the inhibiting alerts where they are listed too.
      const byFingerprint = new Map(am.value.map((a) => [a.fingerprint,
        `${a.labels.alertname}${a.labels.service ? ` (${a.labels.service})` : ''}`]));
      const rows = am.value.map((a) => {
        const st = a.status || {};
        const muted = st.state === 'suppressed';
        const why = [...(st.silencedBy || []).map((id) => `silenced by ${id}`),
          ...(st.inhibitedBy || []).map((fp) => `inhibited by ${byFingerprint.get(fp) || fp}`)].join('; ');
        return h('tr', { dataset: { alertname: a.labels.alertname, state: muted ? 'suppressed' : 'active' } },
          h('td', {}, priorityBadge(priorityOf(a.labels, lastStatus) || '')),
          h('th', { scope: 'row' }, a.labels.alertname),
          h('td', {}, labelsText(a.labels, ['alertname'])),
          h('td', {}, (a.annotations && a.annotations.summary) || ''),
          h('td', { title: a.startsAt }, ago(Date.parse(a.startsAt) / 1000, now)),
          h('td', { class: muted ? 'muted' : '' }, muted ? `muted: ${why}` : 'active'),
          h('td', {}, h('button', { type: 'button', onclick: () => silenceFrom(a) }, 'Silence…')));
      });
      fill(firingBox, rows.length
        ? table(['Priority', 'Alert', 'Labels', 'Summary', 'Since', 'State', ''], rows)
        : h('p', { class: 'ok' }, '✔ Nothing is firing.'));
    } else fill(firingBox, h('p', { class: 'error' }, am.reason.message));

    if (rules.status === 'fulfilled') {
      const pending = (rules.value.data.alerts || []).filter((a) => a.state === 'pending');
      fill(pendingBox, pending.length ? table(['Alert', 'Labels', 'Active since'], pending.map((a) =>
        h('tr', {}, h('th', { scope: 'row' }, a.labels.alertname), h('td', {}, labelsText(a.labels, ['alertname'])),
          h('td', {}, ago(Date.parse(a.activeAt) / 1000, now))))) : h('p', { class: 'muted' }, 'None pending.'));
    } else fill(pendingBox, h('p', { class: 'error' }, rules.reason.message));

    if (silences.status === 'fulfilled') {
      const list = silences.value.filter((s) => s.status.state !== 'expired' || Date.parse(s.endsAt) > Date.now() - 86400e3);
      fill(silencesBox, list.length ? table(['State', 'Matchers', 'Comment', 'By', 'Ends', ''],
        list.map((s) => h('tr', { dataset: { silence: s.id, state: s.status.state } },
          h('td', {}, s.status.state), h('td', {}, matchersText(s.matchers)), h('td', {}, s.comment),
          h('td', {}, s.createdBy), h('td', { title: s.endsAt }, time(Date.parse(s.endsAt) / 1000)),
          h('td', {}, s.status.state === 'expired' ? '' : [
            h('button', { type: 'button', onclick: () => extend(s) }, 'Extend 1 h'), ' ',
            h('button', { type: 'button', class: 'danger', onclick: () => expire(s) }, 'Expire')]))))
        : h('p', { class: 'muted' }, 'No silences.'));
    } else fill(silencesBox, h('p', { class: 'error' }, silences.reason.message));

    if (history.status === 'fulfilled') {
      const items = history.value.data.history.slice(0, 30);
      fill(historyBox, notificationsTable(items));
    } else fill(historyBox, h('p', { class: 'error' }, history.reason.message));
  }

  load();
  return {
    el,
    onStatus(status) { lastStatus = status; },
    onLive: load,
    onTick: load,
  };
}
