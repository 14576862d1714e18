// The operator console: one page over the admin API. Every value goes
// into the page through textContent or attributes, never as markup, and
// every action is one admin API call (see docs/console.md).
'use strict';

const POLL_MS = 2000;
const HISTORY_MS = 10000;
const TOKEN_KEY = 'refract-admin-token';

// ---- DOM helpers ----------------------------------------------------------

function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = String(v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const $ = (id) => document.getElementById(id);

function fill(tableId, rows, empty) {
  const body = document.querySelector('#' + tableId + ' tbody');
  body.replaceChildren(...rows);
  if (rows.length === 0) {
    const width = document.querySelectorAll('#' + tableId + ' thead th').length;
    body.appendChild(h('tr', {}, h('td', { class: 'empty', colspan: width, text: empty })));
  }
}

// ---- formatting -----------------------------------------------------------

function duration(s) {
  if (s < 1) return (s * 1000).toFixed(0) + ' ms';
  if (s < 120) return s.toFixed(s < 10 ? 1 : 0) + ' s';
  if (s < 7200) return (s / 60).toFixed(0) + ' min';
  if (s < 172800) return (s / 3600).toFixed(1) + ' h';
  return (s / 86400).toFixed(1) + ' d';
}

function latency(s) {
  if (s === undefined || s === null) return '–';
  if (s < 0.001) return (s * 1e6).toFixed(0) + ' µs';
  if (s < 1) return (s * 1000).toFixed(s < 0.01 ? 1 : 0) + ' ms';
  return s.toFixed(2) + ' s';
}

function rate(r) { return r === undefined || r === null ? '–' : r >= 10 ? r.toFixed(0) : r.toFixed(2); }
function pct(x) { return x === undefined || x === null ? '–' : (100 * x).toFixed(x > 0 && x < 0.01 ? 2 : 1) + ' %'; }

let serverSkew = 0; // server time − browser time, so "ago" is the server's

function when(t) {
  if (!t) return null;
  const d = new Date(t);
  const ago = Math.max(0, (Date.now() + serverSkew - d.getTime()) / 1000);
  const span = h('time', { datetime: d.toISOString(), title: d.toISOString(), text: d.toLocaleTimeString() + ' (' + duration(ago) + ' ago)' });
  return span;
}

function pill(state, label) {
  return h('span', { class: 'pill ' + String(state).toLowerCase().replace(/[^a-z_-]/g, ''), text: label || state });
}

// shortHash shows 12 hex digits; the full hash is on hover and copied on click.
function shortHash(hash) {
  if (!hash) return h('span', { text: '–' });
  return h('code', { class: 'hash', title: hash, text: hash.slice(0, 12) });
}

// sparkline draws values (nulls are gaps) as an SVG polyline.
function sparkline(values, cls) {
  const ns = 'http://www.w3.org/2000/svg';
  const w = 120, hgt = 24;
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'spark ' + (cls || ''));
  svg.setAttribute('viewBox', '0 0 ' + w + ' ' + hgt);
  svg.setAttribute('width', w);
  svg.setAttribute('height', hgt);
  const nums = values.filter((v) => v !== null && v !== undefined);
  if (nums.length < 2) return svg;
  const max = Math.max(...nums) || 1;
  const step = w / Math.max(1, values.length - 1);
  let d = '', pen = false;
  values.forEach((v, i) => {
    if (v === null || v === undefined) { pen = false; return; }
    const x = (i * step).toFixed(1), y = (hgt - 2 - (v / max) * (hgt - 4)).toFixed(1);
    d += (pen ? 'L' : 'M') + x + ' ' + y + ' ';
    pen = true;
  });
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', d.trim());
  svg.appendChild(path);
  const title = document.createElementNS(ns, 'title');
  title.textContent = 'max ' + (cls === 'latency' ? latency(max) : cls === 'ratio' ? pct(max) : rate(max));
  svg.appendChild(title);
  return svg;
}

// ---- the admin API --------------------------------------------------------

// api calls the admin API with the tab's token (when signed in) and the
// header the admin API requires of state-changing requests. It resolves
// to {status, ok, body, headers}; a 401 shows the sign-in form.
async function api(method, path, body, headers) {
  const hdrs = Object.assign({ 'X-Refract-Admin': '1' }, headers || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) hdrs.Authorization = 'Bearer ' + token;
  const init = { method, headers: hdrs, cache: 'no-store' };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    if (!hdrs['Content-Type']) hdrs['Content-Type'] = typeof body === 'string' ? 'application/yaml' : 'application/json';
  }
  const resp = await fetch(path, init);
  let parsed = null;
  const text = await resp.text();
  try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = text; }
  if (resp.status === 401) needSignIn(parsed && parsed.message);
  return { status: resp.status, ok: resp.ok, body: parsed, headers: resp.headers };
}

function errorText(r) {
  if (r.body && r.body.message) return r.status + ': ' + r.body.message;
  return 'HTTP ' + r.status;
}

// ---- sign-in and roles ----------------------------------------------------

const ROLES = { viewer: 1, operator: 2, admin: 3 };
let role = 'viewer'; // until /admin/whoami says (without a roles API: admin, the guard decides)

let signedOut = false; // polling waits for a token

function needSignIn(msg) {
  $('login').hidden = false;
  signedOut = true;
  if (sessionStorage.getItem(TOKEN_KEY)) $('login-error').textContent = msg || 'the token was refused';
  sessionStorage.removeItem(TOKEN_KEY);
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value);
  $('token').value = '';
  $('login-error').textContent = '';
  $('login').hidden = true;
  signedOut = false;
  // Everything the view asked for before was refused: ask again.
  whoami().then(() => { if (!signedOut) { poll(); showView(); } });
});

$('signout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
});

async function whoami() {
  const r = await api('GET', '/admin/whoami');
  if (r.ok && r.body && r.body.role) {
    role = r.body.role;
    $('whoami').replaceChildren(h('span', { text: r.body.subject + ' · ' }), pill(role));
  } else if (r.status === 404) {
    role = 'admin';
    $('whoami').textContent = '';
  }
  $('signout').hidden = !sessionStorage.getItem(TOKEN_KEY);
  document.body.dataset.role = role;
  // Controls the role may not use are hidden, not just refused later:
  // operators run the gateway (reload, refresh, try calls), admins also
  // change its config.
  for (const b of document.querySelectorAll('.op')) b.hidden = (ROLES[role] || 0) < ROLES.operator;
  for (const b of document.querySelectorAll('.adm')) b.hidden = (ROLES[role] || 0) < ROLES.admin;
}

// ---- views ----------------------------------------------------------------

const VIEWS = ['overview', 'upstreams', 'routes', 'consumers', 'config', 'explorer'];

function currentView() {
  const v = location.hash.replace('#', '');
  return VIEWS.includes(v) ? v : 'overview';
}

function showView() {
  const v = currentView();
  document.body.dataset.view = v;
  for (const name of VIEWS) $('view-' + name).hidden = name !== v;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === v);
  if (v === 'config') loadConfig();
  if (v === 'explorer') loadExplorer();
  if (v === 'routes') loadRoutes();
  if (v === 'consumers') loadConsumers();
}
window.addEventListener('hashchange', showView);

let stats = null, history = { series: {} };

function series(key, field) {
  return (history.series[key] || []).map((p) => p[field] === undefined ? null : p[field]);
}

// latest is the newest point of a series that had requests: the
// quantiles an idle route last showed.
function latest(key) {
  const pts = history.series[key] || [];
  for (let i = pts.length - 1; i >= 0; i--) if (pts[i].p50_seconds !== undefined) return pts[i];
  return {};
}

function renderOverview(st) {
  const probs = st.problems || [];
  const box = $('problems');
  if (probs.length === 0) {
    const eps = st.upstreams.reduce((n, u) => n + u.endpoints.length, 0);
    box.replaceChildren(h('div', { class: 'allclear', text: 'All clear: ' + st.upstreams.length + ' upstream(s), ' + eps +
      ' endpoint(s), no breaker open, descriptors fresh.' }));
  } else {
    box.replaceChildren(h('h2', { text: 'What is wrong now (' + probs.length + ')' }), h('ul', { class: 'problems' }, ...probs.map((p) =>
      h('li', { class: 'problem ' + p.severity, 'data-kind': p.kind, 'data-subject': p.subject },
        pill(p.severity), h('strong', { text: p.subject }), ' ', h('span', { class: 'msg', text: p.message }),
        p.since ? h('span', { class: 'since' }, ' since ', when(p.since)) : null))));
  }
  const rec = st.requests.recent || {};
  const fp = st.fast_path;
  const direct = fp.requests + fp.responses, all = direct + fp.request_fallbacks + fp.response_fallbacks;
  const tile = (label, value, spark, id) => h('div', { class: 'tile', id: id },
    h('div', { class: 'label', text: label }), h('div', { class: 'value', text: value }), spark || null);
  $('tiles').replaceChildren(
    tile('requests/s', rate(rec.per_second !== undefined ? rec.per_second : st.requests.per_second), sparkline(series('', 'per_second')), 'tile-rate'),
    tile('errors (5xx)', pct(rec.error_ratio || 0), sparkline(series('', 'error_ratio'), 'ratio'), 'tile-errors'),
    tile('p50', latency(rec.p50_seconds !== undefined ? rec.p50_seconds : latest('').p50_seconds), sparkline(series('', 'p50_seconds'), 'latency'), 'tile-p50'),
    tile('p99', latency(rec.p99_seconds !== undefined ? rec.p99_seconds : latest('').p99_seconds), sparkline(series('', 'p99_seconds'), 'latency'), 'tile-p99'),
    tile('in flight', st.requests.in_flight, null, 'tile-inflight'),
    tile('open streams', st.requests.streams_open, null, 'tile-streams'),
    tile('fast path', all === 0 ? '–' : Math.round(100 * direct / all) + ' %', null, 'tile-fastpath'),
    refusedTile(st.policy_rejections || {}),
    tile('requests', st.requests.total + ' (' + st.requests.server_errors + ' 5xx)', null, 'tile-total'),
    tile('uptime', duration(st.uptime_seconds), null, 'tile-uptime'),
  );
  const perUp = {}, errUp = {};
  for (const r of st.routes) {
    if (!r.upstream) continue;
    perUp[r.upstream] = (perUp[r.upstream] || 0) + (r.recent ? r.recent.per_second : r.per_second);
    errUp[r.upstream] = (errUp[r.upstream] || 0) + r.server_errors;
  }
  fill('up-summary', st.upstreams.map((u) => {
    const up = u.endpoints.filter((e) => e.state === 'READY').length;
    const s = upstreamState(u);
    return h('tr', { 'data-upstream': u.name },
      h('td', {}, h('a', { href: '#upstreams', text: u.name })), h('td', {}, pill(s.state, s.label)),
      h('td', { class: 'num', text: up + ' / ' + u.endpoints.length }), h('td', {}, pill(u.descriptors.state)),
      h('td', { class: 'num', text: u.routes }), h('td', { class: 'num', text: rate(perUp[u.name] || 0) }),
      h('td', { class: 'num five' + (errUp[u.name] ? ' error' : ''), text: errUp[u.name] || 0 }));
  }), 'no upstream configured');
}

// refusedTile counts the requests policies refused, the policies that did
// on hover (rate limits, authentication, an open breaker …).
function refusedTile(rej) {
  const keys = Object.keys(rej).sort((a, b) => rej[b] - rej[a]);
  const total = keys.reduce((n, k) => n + rej[k], 0);
  return h('div', { class: 'tile', id: 'tile-refused', title: keys.map((k) => k + ' ' + rej[k]).join(', ') || 'none' },
    h('div', { class: 'label', text: 'refused by policy' }), h('div', { class: 'value' + (total ? ' warn' : ''), text: total }),
    keys.length ? h('div', { class: 'sub', text: keys.slice(0, 3).map((k) => k + ' ' + rej[k]).join(' · ') }) : null);
}

// upstreamState is one word for an upstream: down (no endpoint up),
// degraded (some down, or discovery or descriptors failing), idle or up.
function upstreamState(u) {
  const down = u.endpoints.filter((e) => e.state === 'TRANSIENT_FAILURE').length;
  if (u.endpoints.length === 0) return { state: 'down', label: 'no endpoints' };
  if (down === u.endpoints.length || u.connectivity === 'TRANSIENT_FAILURE') return { state: 'down', label: 'down' };
  const d = u.descriptors;
  if (down > 0 || u.discovery !== 'ok' || (d.last_error && new Date(d.last_error_at) > new Date(d.fetched_at || 0)))
    return { state: 'degraded', label: 'degraded' };
  if (u.endpoints.every((e) => e.state === 'IDLE')) return { state: 'idle', label: 'idle' };
  return { state: 'up', label: 'up' };
}

const schemaHistory = {}; // upstream → {versions} or null when the API is absent
const schemaUI = {}; // upstream → {open, diff}: what the operator opened survives the redraws

function renderUpstreams(st) {
  const cards = st.upstreams.map((u) => {
    const d = u.descriptors;
    const s = upstreamState(u);
    const eps = h('table', { class: 'grid endpoints' },
      h('thead', {}, h('tr', {}, ...['endpoint', 'connectivity', 'since', 'last error', 'at'].map((t) => h('th', { text: t })))),
      h('tbody', {}, ...(u.endpoints.length ? u.endpoints.map((e) => h('tr', { 'data-endpoint': e.addr, 'data-state': e.state },
        h('td', {}, h('code', { text: e.addr })), h('td', {}, pill(e.state)), h('td', {}, when(e.since) || '–'),
        h('td', { class: 'lasterr ' + (e.state === 'TRANSIENT_FAILURE' ? 'error' : 'past-error'), text: e.last_error || '' }),
        h('td', {}, when(e.last_error_at) || ''))) :
        [h('tr', {}, h('td', { class: 'empty', colspan: 5, text: 'discovery reports no endpoint' }))])));
    const descErr = d.last_error ? h('p', { class: new Date(d.last_error_at) > new Date(d.fetched_at || 0) ? 'error' : 'past-error' },
      'last descriptor error: ' + d.last_error + ' ', when(d.last_error_at)) : null;
    const hist = schemaHistory[u.name];
    const ui = schemaUI[u.name] || (schemaUI[u.name] = { open: false, diff: null });
    const histBox = hist && hist.versions && hist.versions.length ? h('details', { class: 'schemas', open: ui.open,
      ontoggle: (ev) => { ui.open = ev.target.open; } },
      h('summary', { text: 'schema history (' + hist.versions.length + ' versions)' }),
      h('table', { class: 'grid' }, h('thead', {}, h('tr', {}, ...['hash', 'state', 'first seen', 'last seen', 'breaking', 'summary', ''].map((t) => h('th', { text: t })))),
        h('tbody', {}, ...hist.versions.map((v, i) => h('tr', { 'data-hash': v.hash },
          h('td', {}, shortHash(v.hash)), h('td', {}, v.state ? pill(v.state === 'serving' ? 'up' : v.state === 'held' ? 'open' : 'idle', v.state) : ''),
          h('td', {}, when(v.first_seen) || '–'), h('td', {}, when(v.last_seen) || '–'),
          h('td', {}, v.breaking ? pill('open', 'breaking') : ''), h('td', { text: v.summary || '' }),
          h('td', {}, i + 1 < hist.versions.length ? h('button', { type: 'button', text: 'diff with previous',
            onclick: () => showSchemaDiff(u.name, hist.versions[i + 1].hash, v.hash) }) : null))))),
      h('div', { class: 'schema-diff', id: 'schema-diff-' + u.name }, ...(ui.diff ? [renderSchemaDiff(ui.diff)] : []))) : null;
    const held = hist && hist.held ? h('div', { class: 'held error' },
      'a breaking schema is held (not served) since ', when(hist.held.since), ': ', shortHash(hist.held.hash), ' · ' + (hist.held.changes || []).length + ' change(s) ',
      h('button', { type: 'button', class: 'op', text: 'approve it', hidden: (ROLES[role] || 0) < ROLES.operator,
        onclick: () => approveSchema(u.name, hist.held.hash) })) : null;
    return h('article', { class: 'card ' + s.state, 'data-upstream': u.name, 'data-state': s.state },
      h('header', {}, h('h2', { text: u.name }), pill(s.state, s.label), pill(u.connectivity),
        h('button', { type: 'button', class: 'op', text: 'refresh descriptors', onclick: () => refreshDescriptors(u.name) })),
      h('dl', { class: 'kv' },
        h('dt', { text: 'discovery' }), h('dd', {}, pill(u.discovery), ' ' + u.source + ' ', u.error ? h('span', { class: 'error', text: u.error + ' ' }) : null,
          u.since ? h('span', {}, u.error ? 'since ' : 'last change ', when(u.since)) : null),
        h('dt', { text: 'descriptors' }), h('dd', {}, pill(d.state), ' ', shortHash(d.hash), d.fetched_at ? h('span', {}, ' fetched ', when(d.fetched_at)) : null,
          d.endpoint ? ' from ' + d.endpoint : '', ' · ' + d.methods + ' methods · ' + d.refreshes + ' refreshes, ' + d.failures + ' failed'),
        h('dt', { text: 'routes' }), h('dd', { text: u.routes + (u.health_check ? ' · grpc.health.v1 probes on' : '') })),
      descErr, held, eps, histBox);
  });
  $('upstream-cards').replaceChildren(...cards);
}

async function loadSchemaHistory(name) {
  if (schemaHistory[name] === null) return;
  const r = await api('GET', '/admin/descriptors/' + encodeURIComponent(name) + '/history');
  schemaHistory[name] = r.ok ? r.body : (r.status === 404 ? null : schemaHistory[name]);
}

async function showSchemaDiff(name, from, to) {
  const r = await api('GET', '/admin/descriptors/' + encodeURIComponent(name) + '/diff?from=' + encodeURIComponent(from) + '&to=' + encodeURIComponent(to));
  const ui = schemaUI[name] || (schemaUI[name] = { open: true, diff: null });
  ui.diff = r.ok ? r.body : { error: errorText(r) };
  $('schema-diff-' + name).replaceChildren(renderSchemaDiff(ui.diff));
}

function renderSchemaDiff(d) {
  if (d.error) return h('p', { class: 'error', text: d.error });
  return h('table', { class: 'grid diff' }, h('caption', { text: 'from ' + String(d.from).slice(0, 12) + ' to ' + String(d.to).slice(0, 12) }),
    h('tbody', {}, ...(d.changes || []).map((c) => h('tr', { class: c.op },
      h('td', { text: c.op }), h('td', { text: c.kind }), h('td', {}, h('code', { text: c.path })), h('td', { text: c.detail || '' }),
      h('td', {}, c.breaking ? pill('open', 'breaking') : '')))));
}

async function approveSchema(name, hash) {
  const r = await api('POST', '/admin/descriptors/' + encodeURIComponent(name) + '/approve', { hash });
  $('status').textContent = r.ok ? 'schema ' + hash.slice(0, 12) + ' of ' + name + ' adopted' : 'approval failed: ' + errorText(r);
  delete schemaHistory[name];
  await loadSchemaHistory(name);
  poll(true);
}

async function refreshDescriptors(name) {
  const r = await api('POST', '/admin/descriptors/' + encodeURIComponent(name));
  $('status').textContent = r.ok ? 'descriptors of ' + name + ' refreshed' : 'refresh of ' + name + ' failed: ' + errorText(r);
  poll(true);
}

function codesCell(codes) {
  if (!codes) return h('td', { text: '–' });
  const keys = Object.keys(codes).sort((a, b) => codes[b] - codes[a]);
  return h('td', { class: 'codes' }, ...keys.map((k) => h('span', { class: 'code ' + (k === 'OK' ? 'ok' : 'bad'), text: k + ' ' + codes[k] })));
}

function renderRoutes(st) {
  const be = $('build-error');
  be.hidden = !st.build_error;
  be.textContent = st.build_error ? 'the last route build failed (the previous routes are served): ' + st.build_error : '';
  fill('routes', st.routes.map((r) => {
    const key = r.method + ' ' + r.route;
    const rec = r.recent || {};
    const lat = rec.p50_seconds !== undefined ? rec : latest(key);
    const errs = r.requests ? (r.client_errors + r.server_errors) : 0;
    const fp = r.fast_path;
    return h('tr', { 'data-route': key },
      h('td', { class: 'method', text: r.method }), h('td', { class: 'route' }, h('code', { text: r.route })),
      h('td', {}, r.upstream || '–', h('div', { class: 'grpc', text: r.grpc_method || '' }), r.streaming ? pill('idle', r.streaming + ' stream') : null),
      h('td', { class: 'num', text: rate(rec.per_second !== undefined ? rec.per_second : r.per_second) }),
      h('td', {}, sparkline(series(key, 'per_second'))),
      h('td', { class: 'num', title: r.client_errors + ' 4xx, ' + r.server_errors + ' 5xx', text: errs ? r.client_errors + ' / ' + r.server_errors : '0' }),
      h('td', { class: 'num', title: lat.at ? 'at ' + lat.at : '', text: latency(lat.p50_seconds) }),
      h('td', { class: 'num', title: lat.at ? 'at ' + lat.at : '', text: latency(lat.p99_seconds) }),
      h('td', { class: 'num', text: r.requests }), codesCell(r.grpc_codes),
      h('td', {}, r.breaker ? pill(r.breaker) : '–'),
      fastPathCell(r),
      h('td', { class: 'policies', text: (r.policies || []).join(', ') || '–' }));
  }), 'no route yet: descriptors pending');
}

// fastPathCell is the share of the route's unary requests transcoded on
// the fast path both ways, with its counts and why not on hover.
function fastPathCell(r) {
  const fp = r.fast_path;
  if (!fp) return h('td', { text: '–' });
  const how = fp.request && fp.response ? 'yes' : fp.request || fp.response ? 'partly' : 'no';
  const t = r.transcoded;
  const title = (t ? t.fast + ' fast, ' + t.fallback + ' fallback. ' : '') + (fp.fallback || 'request and response on the fast path');
  const cls = r.fast_path_share === undefined ? '' : r.fast_path_share >= 0.99 ? 'ok' : r.fast_path_share > 0 ? 'warn' : 'bad';
  return h('td', { class: 'fastpath ' + cls, title }, r.fast_path_share === undefined ? how : pct(r.fast_path_share) + ' ' + (how === 'yes' ? '' : '(' + how + ')'));
}

async function loadRoutes() {
  const r = await api('GET', '/admin/routes');
  if (!r.ok) return;
  const rows = [];
  for (const [up, list] of Object.entries(r.body.hidden || {})) {
    for (const m of list) rows.push(h('tr', {}, h('td', { text: up }), h('td', { class: 'grpc', text: m.method }), h('td', { text: m.rule || '' })));
  }
  for (const [up, list] of Object.entries(r.body.unrouted || {})) {
    for (const why of list) rows.push(h('tr', {}, h('td', { text: up }), h('td', { text: '' }), h('td', { class: 'error', text: why })));
  }
  fill('hidden', rows, 'every method is exposed');
}

// ---- consumers ------------------------------------------------------------

async function loadConsumers() {
  const r = await api('GET', '/admin/consumers');
  if (!r.ok) { fill('consumers', [], r.status === 404 ? 'this admin listener has no consumers view' : errorText(r)); return; }
  const v = r.body;
  $('consumers-cap').textContent = v.tracked + ' of at most ' + v.max_tracked + ' callers counted by name' +
    (v.tracked >= v.max_tracked ? '; later ones count as "other"' : '') + '.';
  fill('consumers', v.consumers.map((c) => {
    const q = c.quota;
    const reasons = Object.keys(c.denials).sort((a, b) => c.denials[b] - c.denials[a]);
    const left = q && !q.error ? h('td', { class: 'num quota' }, h('meter', { min: 0, max: q.burst, value: q.left, low: q.burst / 10, optimum: q.burst, title: q.left + ' of ' + q.burst + ' left' }), ' ' + q.left) : h('td', { class: 'num', text: '–' });
    return h('tr', { 'data-consumer': c.kind + ':' + c.name },
      h('td', {}, h('strong', { text: c.name || '(anonymous)' })), h('td', { text: c.kind.replace('_', ' ') }),
      h('td', { class: 'num', text: rate(c.per_second) }), h('td', { class: 'num', text: c.requests }),
      h('td', { class: 'num', text: c.client_errors + ' / ' + c.server_errors }),
      h('td', { class: 'num' + (c.denied ? ' error' : ''), text: c.denied }),
      h('td', { class: 'codes' }, ...reasons.map((k) => h('span', { class: 'code bad', 'data-reason': k, text: k + ' ' + c.denials[k] }))),
      h('td', { class: q && q.error ? 'error' : '', text: q ? (q.error ? 'store unavailable: ' + q.error : q.rate + ' per ' + duration(q.period_seconds) + ', burst ' + q.burst) : '–' }),
      h('td', { class: 'num', text: q && !q.error ? q.used : '–' }), left,
      h('td', { text: q && !q.error ? (q.used ? duration(q.full_in_seconds) : 'full') : '–' }));
  }), 'no caller yet');
}

// ---- config ---------------------------------------------------------------

let configDoc = null, editorBase = '', validateTimer = null, validSeq = 0;

// renderConfigStatus shows GET /admin/reload: what runs, and how reloads went.
function renderConfigStatus(st) {
  if (!st.ok) return;
  const s = st.body;
  const kv = [['version', s.version], ['source', s.source], ['loaded', when(s.loaded_at)], ['reloads', s.reloads_ok + ' ok, ' + s.reloads_failed + ' refused']];
  if (s.last_error) kv.push(['last refused', h('span', { class: 'error' }, (s.last_error_version || '') + ': ' + s.last_error + ' ', when(s.last_error_at))]);
  $('config-status').replaceChildren(...kv.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', {}, v || '–')]));
}

async function loadConfig() {
  const [st, cfg] = await Promise.all([api('GET', '/admin/reload'), api('GET', '/admin/config')]);
  renderConfigStatus(st);
  if (!cfg.ok) { $('effective').textContent = errorText(cfg); return; }
  // The control-plane shape carries the source text and its version:
  // then the config is editable here.
  const editable = cfg.body && typeof cfg.body.yaml === 'string' && cfg.body.version;
  configDoc = editable ? cfg.body : null;
  $('effective').textContent = JSON.stringify(editable ? cfg.body.config : cfg.body, null, 2);
  $('editor-box').hidden = !editable;
  if (editable) {
    if (!$('editor').value || $('editor').value === editorBase) {
      $('editor').value = cfg.body.yaml;
      editorBase = cfg.body.yaml;
    }
    loadHistory();
    // Gray releases need a config shared in Consul KV.
    if (String(cfg.body.source).startsWith('consul:')) loadRelease(); else $('release').hidden = true;
    // Only admins change the config: others read the source, unvalidated.
    const canEdit = (ROLES[role] || 0) >= ROLES.admin;
    $('editor').readOnly = !canEdit;
    if (canEdit) validate();
  }
}

function renderDiff(tableId, diff) {
  fill(tableId, (diff || []).map((d) => h('tr', { class: d.op },
    h('td', { text: d.op }), h('td', {}, h('code', { text: d.path })),
    h('td', { text: d.from === undefined ? '' : JSON.stringify(d.from) }), h('td', { text: d.to === undefined ? '' : JSON.stringify(d.to) }))), 'no change');
}

async function validate() {
  const seq = ++validSeq;
  const text = $('editor').value;
  const r = await api('POST', '/admin/config/validate', text, { 'Content-Type': 'application/yaml' });
  if (seq !== validSeq) return; // a newer keystroke is being validated
  const errs = r.ok ? (r.body.errors || []) : [{ message: errorText(r) }];
  const valid = r.ok && r.body.valid;
  $('editor-errors').replaceChildren(...errs.map((e) => h('li', { class: 'error', 'data-path': e.path || '' },
    e.line ? 'line ' + e.line + ': ' : '', e.path ? h('code', { text: e.path }) : null, e.path ? ': ' : '', e.message)));
  $('editor').classList.toggle('invalid', !valid);
  renderDiff('editor-diff', valid ? r.body.diff : []);
  $('apply').disabled = !valid || text === editorBase;
  document.body.dataset.validated = valid ? 'valid' : 'invalid';
}

$('editor').addEventListener('input', () => {
  if ($('editor').readOnly) return;
  clearTimeout(validateTimer);
  validateTimer = setTimeout(validate, 250);
});

$('revert').addEventListener('click', () => { $('editor').value = editorBase; validate(); });

async function afterWrite(r, out) {
  if (r.ok) {
    out.replaceChildren(h('span', { class: 'ok', text: 'applied: version ' + r.body.version + (r.body.previous ? ' (was ' + r.body.previous + ')' : '') }));
    $('editor').value = '';
    editorBase = '';
  } else if (r.status === 412) {
    out.replaceChildren(h('span', { class: 'error', text: 'the config changed meanwhile (412): reloaded it; re-apply your edit' }));
    $('editor').value = '';
  } else {
    const details = (r.body && r.body.details || []).flatMap((d) => d.fieldViolations || d.field_violations || []);
    out.replaceChildren(h('span', { class: 'error', text: errorText(r) }), ...details.map((v) => h('div', { class: 'error', text: (v.field || v.path || '') + ': ' + (v.description || v.message || '') })));
  }
  await loadConfig();
  poll(true);
}

$('apply').addEventListener('click', async () => {
  if (!configDoc) return;
  const r = await api('PUT', '/admin/config', $('editor').value, { 'Content-Type': 'application/yaml', 'If-Match': '"' + configDoc.version + '"' });
  await afterWrite(r, $('apply-result'));
});

async function loadHistory() {
  const r = await api('GET', '/admin/config/history');
  if (!r.ok) { fill('history', [], 'no history: ' + errorText(r)); return; }
  fill('history', (r.body.versions || []).map((v, i) => h('tr', { 'data-version': v.version },
    h('td', {}, h('code', { text: v.version })), h('td', {}, when(v.at) || '–'), h('td', { text: v.who || '' }), h('td', { text: v.from || '' }),
    h('td', { text: v.summary || '' }),
    h('td', {}, i === 0 ? pill('up', 'running') : h('button', { type: 'button', class: 'adm rollback', text: 'roll back to this',
      hidden: (ROLES[role] || 0) < ROLES.admin,
      onclick: async () => {
        const r2 = await api('POST', '/admin/config/rollback', { version: v.version });
        await afterWrite(r2, $('apply-result'));
      } })))), 'no earlier version');
}

async function loadRelease() {
  const r = await api('GET', '/admin/config/release');
  $('release').hidden = !r.ok;
  if (!r.ok) return;
  const s = r.body;
  document.body.dataset.release = s.candidate ? 'running' : 'none';
  document.body.dataset.instanceRuns = s.this_instance ? s.this_instance.runs : '';
  const kv = [['stable', s.stable], ['candidate', s.candidate || 'none'], ['share', s.candidate ? s.share + ' %' : '–'],
    ['started', s.started_at ? (s.who || '') + ' ' + new Date(s.started_at).toLocaleTimeString() : '–'],
    ['this instance', s.this_instance ? s.this_instance.id + ' runs ' + s.this_instance.runs + ' (' + String(s.this_instance.version || '').slice(0, 12) + ')' : '–'],
    ['instances', (s.instances || []).join(', ') || (s.candidate ? 'by share' : '–')]];
  $('release-status').replaceChildren(...kv.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]));
}

async function releaseAction(path, body) {
  const r = await api('POST', path, body);
  $('release-result').textContent = r.ok ? path + ': done' : path + ': ' + errorText(r);
  $('release-result').className = r.ok ? 'ok' : 'error';
  await loadConfig();
}
$('release-start').addEventListener('click', () => releaseAction('/admin/config/release', { yaml: $('editor').value, share: Number($('release-share').value) }));
$('release-promote').addEventListener('click', () => releaseAction('/admin/config/promote'));
$('release-abort').addEventListener('click', () => releaseAction('/admin/config/abort'));

$('reload').addEventListener('click', async () => {
  const r = await api('POST', '/admin/reload');
  $('reload-result').textContent = r.ok ? 'reloaded: version ' + (r.body && r.body.version) : 'refused: ' + errorText(r);
  loadConfig();
});

// ---- API explorer ---------------------------------------------------------

let explorerLoaded = false;

function loadExplorer() {
  if (explorerLoaded) return;
  explorerLoaded = true;
  const css = h('link', { rel: 'stylesheet', href: '/console/swagger-ui/swagger-ui.css' });
  document.head.appendChild(css);
  const s = h('script', { src: '/console/swagger-ui/swagger-ui-bundle.js' });
  s.addEventListener('load', () => {
    // The viewer asks the admin API for the document and sends "try it
    // out" calls to /admin/try/..., which serves them with the public
    // handler: the API's own Authorization travels as
    // X-Refract-Try-Authorization, the admin token as Authorization.
    window.SwaggerUIBundle({
      url: '/admin/openapi.json',
      dom_id: '#swagger',
      deepLinking: false,
      validatorUrl: null,
      tryItOutEnabled: true,
      requestInterceptor: (req) => {
        const hdrs = req.headers || {};
        if (hdrs.Authorization) { hdrs['X-Refract-Try-Authorization'] = hdrs.Authorization; delete hdrs.Authorization; }
        const token = sessionStorage.getItem(TOKEN_KEY);
        if (token) hdrs.Authorization = 'Bearer ' + token;
        hdrs['X-Refract-Admin'] = '1';
        req.headers = hdrs;
        return req;
      },
      onComplete: () => { document.body.dataset.explorer = 'ready'; },
    });
  });
  document.body.appendChild(s);
}

// ---- polling --------------------------------------------------------------

let pollTimer = null, lastHistory = 0;

async function poll(once) {
  if (signedOut) return; // resumes after sign-in
  try {
    const r = await api('GET', '/admin/stats');
    if (r.status === 401) {
      $('status').textContent = 'sign in with an admin token';
      return;
    }
    if (!r.ok) throw new Error('/admin/stats answered ' + errorText(r));
    stats = r.body;
    serverSkew = new Date(stats.time).getTime() - Date.now();
    if (Date.now() - lastHistory > HISTORY_MS - 500) {
      lastHistory = Date.now();
      const hr = await api('GET', '/admin/stats/history');
      if (hr.ok) history = hr.body;
      await Promise.all(stats.upstreams.map((u) => loadSchemaHistory(u.name)));
      if (currentView() === 'routes') loadRoutes();
    }
    if (currentView() === 'consumers') loadConsumers();
    // A release moves on its own (instances switching, an automatic abort).
    if (currentView() === 'config') {
      api('GET', '/admin/reload').then(renderConfigStatus);
      if (!$('release').hidden) loadRelease();
    }
    $('instance').textContent = stats.instance + ' · ' + stats.version + ' · config ' + (stats.config_version || '–');
    renderOverview(stats);
    renderUpstreams(stats);
    renderRoutes(stats);
    const probs = stats.problems.length;
    document.title = (probs ? '(' + probs + ') ' : '') + 'refract console';
    $('status').textContent = 'updated ' + new Date(stats.time).toLocaleTimeString();
    $('status').classList.remove('error');
    document.body.dataset.ready = 'true';
  } catch (err) {
    $('status').textContent = 'cannot reach the gateway: ' + err.message;
    $('status').classList.add('error');
  }
  if (!once) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, POLL_MS);
  }
}

// The role decides what the views offer: ask for it first.
whoami().then(() => { showView(); if (!signedOut) poll(); });
