// console.js -- Herald's web console: plain JavaScript on Herald's public
// APIs, nothing private. Signed in with the admin key it lists the apps and
// their keys (GET /apps) and acts for the app chosen with one of its keys;
// signed in with an app key it acts for that app only. The live tail is a
// native EventSource on GET /sse with a token of the app's key; what has no
// stream (channels, occupancy, presence, stats, connections, rules) is read
// again every `refresh` ms (?refresh=ms in the page's address, default
// 2000). Everything received is shown as text, never as HTML.
'use strict';

const REFRESH_MS = Number(new URLSearchParams(location.search).get('refresh')) || 2000;
const TAIL_MAX = 200; // messages kept in the tail
const STATS_MINUTES = 60;
const STORAGE_KEY = 'herald.console.key';
const APP_KEY = /^[^.:\s]+\.[^:\s]+:\S+$/; // appId.keyId:secret

const $ = (id) => document.getElementById(id);

const state = {
  secret: null, // what the user signed in with
  admin: false, // the secret is the admin key
  apps: [], // [{appId, keys: [{keyName, keyStr, capability}]}]
  app: null,
  key: null, // the app's key the console acts with
  channel: null,
  stream: null, // the EventSource of the channel's tail
  timer: null,
};

// ---- HTTP

class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error;
    super(e ? `${e.message} (${e.code}, HTTP ${status})` : `HTTP ${status}`);
    this.status = status;
  }
}

function appAuth() {
  return 'Basic ' + btoa(state.key.keyStr);
}

function adminAuth() {
  return 'Bearer ' + state.secret;
}

/** fetch() of a Herald API: the parsed JSON body, or an ApiError. */
async function api(path, { method = 'GET', body, auth = appAuth() } = {}) {
  const headers = { Authorization: auth, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  const type = res.headers.get('content-type') || '';
  const parsed = type.includes('json') ? await res.json() : await res.text();
  if (!res.ok) throw new ApiError(res.status, parsed);
  return parsed;
}

const enc = encodeURIComponent;

function showError(err) {
  const box = $('error');
  box.textContent = err ? String(err.message || err) : '';
  box.hidden = !err;
}

// ---- DOM helpers

/** An element with text content (or child nodes) and attributes. */
function el(tag, content = '', attrs = {}) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (Array.isArray(content)) e.append(...content);
  else e.textContent = content;
  return e;
}

function fillRows(table, rows) {
  const body = table.tBodies[0];
  body.replaceChildren(...rows.map((r) => {
    const tr = el('tr', r.cells.map((c) => el('td', String(c))));
    for (const [k, v] of Object.entries(r.attrs || {})) tr.setAttribute(k, v);
    return tr;
  }));
}

function text(data) {
  return typeof data === 'string' ? data : JSON.stringify(data);
}

// ---- Sign in

/** The apps the secret gives: all of them for the admin key, else the key's own. */
async function appsFor(secret) {
  if (APP_KEY.test(secret)) {
    const keyName = secret.slice(0, secret.indexOf(':'));
    state.admin = false;
    return [{ appId: keyName.split('.')[0], keys: [{ keyName, keyStr: secret, capability: '' }] }];
  }
  state.admin = true;
  return api('/apps', { auth: 'Bearer ' + secret });
}

async function signIn(secret) {
  state.secret = secret;
  state.apps = await appsFor(secret);
  if (!state.apps.length) throw new Error('This server has no apps');
  if (!state.admin) await api('/channels?limit=1', { auth: 'Basic ' + btoa(secret) }); // is the key good?
  sessionStorage.setItem(STORAGE_KEY, secret);
  $('login').hidden = true;
  $('console').hidden = false;
  $('sign-out').hidden = false;
  $('who').textContent = state.admin ? 'admin' : state.apps[0].keys[0].keyName;
  $('app-select').replaceChildren(...state.apps.map((a) => el('option', a.appId, { value: a.appId })));
  selectApp(state.apps[0].appId);
}

function signOut() {
  sessionStorage.removeItem(STORAGE_KEY);
  closeChannel();
  clearInterval(state.timer);
  location.reload();
}

// ---- Apps and keys

/** The key to act with: one with every capability if there is one. */
function bestKey(app) {
  return app.keys.find((k) => k.capability === '{"*":["*"]}') || app.keys[0];
}

function selectApp(appId) {
  closeChannel();
  state.app = state.apps.find((a) => a.appId === appId);
  state.key = bestKey(state.app);
  fillRows($('keys'), state.app.keys.map((k) => ({
    cells: [k.keyName + (k === state.key ? ' (used here)' : ''), k.capability || '(as granted)'],
  })));
  clearInterval(state.timer);
  refresh();
  state.timer = setInterval(refresh, REFRESH_MS);
}

// ---- What is read again and again

async function refresh() {
  const parts = [refreshChannels(), refreshStats(), refreshConnections(), refreshRules()];
  if (state.channel) parts.push(refreshPresence());
  const failed = (await Promise.allSettled(parts)).find((r) => r.status === 'rejected');
  showError(failed && failed.reason);
}

async function refreshChannels() {
  const list = await api('/channels?limit=100');
  fillRows($('channels'), list.map((c) => {
    const m = (c.status && c.status.occupancy && c.status.occupancy.metrics) || {};
    const attrs = { 'data-channel': c.channelId };
    if (c.channelId === state.channel) attrs.class = 'selected';
    return {
      cells: [c.channelId, m.connections, m.publishers, m.subscribers, m.presenceMembers],
      attrs,
    };
  }));
}

async function refreshPresence() {
  const channel = state.channel;
  const members = await api(`/channels/${enc(channel)}/presence?limit=100`);
  if (channel !== state.channel) return;
  fillRows($('presence'), members.map((p) => ({
    cells: [p.clientId, p.connectionId, p.data === undefined ? '' : text(p.data)],
    attrs: { 'data-client-id': p.clientId },
  })));
}

/** Connections per transport: the node's gauges of GET /metrics (the admin key's). */
async function refreshConnections() {
  if (!state.admin) {
    $('connections-note').textContent = 'GET /metrics needs the admin key: sign in with it to see these.';
    return;
  }
  const metrics = await api('/metrics', { auth: adminAuth() });
  const rows = {};
  for (const [, name, transport, value] of metrics.matchAll(/^(herald_connections(?:_opened_total)?)\{transport="([^"]+)"\} (\d+)$/gm)) {
    rows[transport] = rows[transport] || { cells: [transport, 0, 0], attrs: { 'data-transport': transport } };
    rows[transport].cells[name === 'herald_connections' ? 1 : 2] = Number(value);
  }
  fillRows($('connections'), Object.values(rows));
  $('connections-note').textContent = 'This node, from GET /metrics.';
}

async function refreshStats() {
  const intervals = await api(`/stats?unit=minute&limit=${STATS_MINUTES}&direction=backwards`);
  drawChart($('stats-chart'), intervals.reverse().map((s) => ({
    label: s.intervalId.slice(-5),
    value: (s.entries && s.entries['messages.all.all.count']) || 0,
  })));
}

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, content) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (content !== undefined) e.textContent = content;
  return e;
}

/** A bar per interval (oldest left), the scale's top labelled, in an inline SVG. */
function drawChart(box, points) {
  const W = 600, H = 180, PAD = 24;
  const max = Math.max(1, ...points.map((p) => p.value));
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'messages per minute' });
  chart.append(svg('line', { class: 'axis', x1: PAD, y1: H - PAD, x2: W, y2: H - PAD }));
  chart.append(svg('text', { x: 0, y: 12 }, String(max)));
  const step = (W - PAD) / STATS_MINUTES; // a slot per minute of the hour
  points.forEach((p, i) => {
    const h = ((H - 2 * PAD) * p.value) / max;
    const bar = svg('rect', {
      class: 'bar', x: PAD + i * step + 1, y: H - PAD - h, width: Math.max(step - 2, 1), height: h,
      'data-interval': p.label, 'data-value': p.value,
    });
    bar.append(svg('title', {}, `${p.label}: ${p.value}`));
    chart.append(bar);
  });
  if (points.length) {
    chart.append(svg('text', { x: PAD, y: H - 6 }, points[0].label));
    chart.append(svg('text', { x: PAD + (points.length - 1) * step, y: H - 6 }, points[points.length - 1].label));
  }
  box.replaceChildren(chart);
}

/** Webhook rules as GET /apps/:app/rules gives them, or what it answered instead. */
async function refreshRules() {
  const box = $('rules');
  const path = `/apps/${enc(state.app.appId)}/rules`;
  let rules;
  try {
    rules = await api(path, { auth: state.admin ? adminAuth() : appAuth() });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    box.replaceChildren(el('p', `GET ${path} answered: ${err.message}` +
      (err.status === 404 ? '. This server has no webhook rules API.' : ''), { class: 'note' }));
    return;
  }
  if (!Array.isArray(rules) || !rules.length) {
    box.replaceChildren(el('p', 'No rules.', { class: 'note' }));
    return;
  }
  const columns = [...new Set(rules.flatMap((r) => Object.keys(r)))];
  const table = el('table', [el('thead', [el('tr', columns.map((c) => el('th', c)))]), el('tbody')], { id: 'rules-table' });
  fillRows(table, rules.map((r) => ({ cells: columns.map((c) => (r[c] === undefined ? '' : text(r[c]))) })));
  box.replaceChildren(table);
}

// ---- A channel: its tail (EventSource), presence and the publish form

/** A token of the app's key for the stream, so the secret stays out of URLs. */
async function streamToken() {
  const { keyName } = state.key;
  const details = await api(`/keys/${enc(keyName)}/requestToken`, {
    method: 'POST', body: { keyName, timestamp: Date.now() },
  });
  return details.token;
}

function closeChannel() {
  if (state.stream) state.stream.close();
  state.stream = null;
  state.channel = null;
  $('channel-panel').hidden = true;
}

async function openChannel(name) {
  closeChannel();
  state.channel = name;
  $('channel-name').textContent = name;
  $('tail').replaceChildren();
  fillRows($('presence'), []);
  $('channel-panel').hidden = false;
  await startTail(name);
  refreshPresence().catch(showError);
}

async function startTail(name) {
  const token = await streamToken();
  if (name !== state.channel) return;
  const stream = new EventSource(`/sse?v=1.2&channels=${enc(name)}&accessToken=${enc(token)}`);
  state.stream = stream;
  $('tail-state').textContent = 'connecting';
  stream.onopen = () => { $('tail-state').textContent = 'live'; };
  stream.onmessage = (ev) => addToTail(JSON.parse(ev.data));
  stream.onerror = () => {
    if (stream.readyState !== EventSource.CLOSED) {
      $('tail-state').textContent = 'reconnecting';
      return;
    }
    // refused (an expired token, say): start again with a new token
    $('tail-state').textContent = 'closed';
    if (state.stream === stream) setTimeout(() => state.channel === name && startTail(name).catch(showError), REFRESH_MS);
  };
}

function addToTail(msg) {
  const time = new Date(msg.timestamp || Date.now()).toISOString().slice(11, 23);
  const item = el('li', [
    el('span', time, { class: 'time' }),
    el('span', msg.name || '', { class: 'name' }),
    el('span', msg.data === undefined ? '' : text(msg.data), { class: 'data' }),
  ], { 'data-id': msg.id || '' });
  if (msg.clientId) item.append(el('span', ` (${msg.clientId})`, { class: 'note' }));
  const tail = $('tail');
  tail.prepend(item);
  while (tail.children.length > TAIL_MAX) tail.lastChild.remove();
}

async function publish(ev) {
  ev.preventDefault();
  const result = $('publish-result');
  const message = { name: $('publish-name').value || undefined, data: $('publish-data').value };
  result.textContent = 'publishing';
  try {
    await api(`/channels/${enc(state.channel)}/messages`, { method: 'POST', body: message });
    result.textContent = 'published';
  } catch (err) {
    result.textContent = err.message;
  }
}

// ---- Wiring

function onError(promise) {
  promise.then(() => showError(null), showError);
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  onError(signIn($('login-key').value.trim()));
});
$('sign-out').addEventListener('click', signOut);
$('app-select').addEventListener('change', (ev) => selectApp(ev.target.value));
$('open-channel').addEventListener('submit', (ev) => {
  ev.preventDefault();
  onError(openChannel($('open-channel-name').value.trim()));
});
$('channels').addEventListener('click', (ev) => {
  const row = ev.target.closest('tr[data-channel]');
  if (row) onError(openChannel(row.dataset.channel));
});
$('publish').addEventListener('submit', publish);

const saved = sessionStorage.getItem(STORAGE_KEY);
if (saved) onError(signIn(saved));
