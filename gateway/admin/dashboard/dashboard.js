// The dashboard: polls /admin/stats and redraws. Every value goes in
// through textContent, never as markup.
'use strict';

const POLL_MS = 2000;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) tr.appendChild(c instanceof Node ? c : el('td', c));
  return tr;
}

function fill(id, rows, empty, width) {
  const body = document.querySelector('#' + id + ' tbody');
  body.replaceChildren(...rows);
  if (rows.length === 0) {
    const td = el('td', empty, 'empty');
    td.colSpan = width;
    body.appendChild(row([td]));
  }
}

function duration(s) {
  if (s < 1) return (s * 1000).toFixed(0) + ' ms';
  if (s < 120) return s.toFixed(1) + ' s';
  if (s < 7200) return (s / 60).toFixed(1) + ' min';
  return (s / 3600).toFixed(1) + ' h';
}

function rate(r) { return r >= 10 ? r.toFixed(0) : r.toFixed(2); }

function render(st) {
  document.getElementById('rate').textContent = rate(st.requests.per_second);
  document.getElementById('total').textContent = st.requests.total;
  document.getElementById('inflight').textContent = st.requests.in_flight;
  const fp = st.fast_path;
  const direct = fp.requests + fp.responses, all = direct + fp.request_fallbacks + fp.response_fallbacks;
  document.getElementById('fastpath').textContent = all === 0 ? '–' : Math.round(100 * direct / all) + ' %';
  document.getElementById('version').textContent = st.config_version || '–';
  document.getElementById('uptime').textContent = duration(st.uptime_seconds);

  fill('upstreams', st.upstreams.map((u) => {
    const d = u.descriptors;
    const eps = el('td');
    for (const e of u.endpoints) eps.appendChild(el('div', e, 'endpoint'));
    if (u.endpoints.length === 0) eps.textContent = 'none';
    const disc = el('td', u.discovery, 'state ' + u.discovery);
    if (u.error) disc.title = u.error;
    return row([
      el('td', u.name, 'name'), disc, eps, el('td', u.routes, 'num'),
      el('td', d.state, 'state ' + d.state), el('td', d.hash || '–', 'hash'),
      el('td', d.fetched_at ? duration(d.age_seconds) : '–'),
      el('td', d.refreshes + ' / ' + d.failures, 'num'),
      el('td', d.endpoint || '–'), el('td', d.last_error || '', 'error'),
    ]);
  }), 'no upstream', 10);

  const be = document.getElementById('build-error');
  be.hidden = !st.build_error;
  be.textContent = st.build_error ? 'last route build failed: ' + st.build_error : '';
  fill('routes', st.routes.map((r) => row([
    el('td', r.method, 'method'), el('td', r.route, 'route'), el('td', r.upstream || '–'),
    el('td', r.grpc_method || '–', 'grpc'), el('td', r.requests, 'num'), el('td', rate(r.per_second), 'num'),
    el('td', r.client_errors, 'num'), el('td', r.server_errors, 'num'),
  ])), 'no route yet: descriptors pending', 8);

  const pols = Object.keys(st.policy_rejections).sort();
  fill('rejections', pols.map((p) => row([el('td', p), el('td', st.policy_rejections[p], 'num')])), 'none', 2);

  document.getElementById('status').textContent = 'updated ' + new Date(st.time).toLocaleTimeString();
  document.body.dataset.ready = 'true';
}

// With admin_security.tokens the API wants a bearer token: the page asks
// for it and keeps it for this tab only. Every call sends X-Refract-Admin,
// which the admin API requires of state-changing requests.
const TOKEN_KEY = 'refract-admin-token';

function adminFetch(path, init) {
  const headers = { 'X-Refract-Admin': '1' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = 'Bearer ' + token;
  return fetch(path, Object.assign({ cache: 'no-store', headers }, init || {}));
}

document.getElementById('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById('token').value);
  document.getElementById('login').hidden = true;
});

async function poll() {
  try {
    const resp = await adminFetch('/admin/stats');
    if (resp.status === 401) {
      document.getElementById('login').hidden = false;
      sessionStorage.removeItem(TOKEN_KEY);
      throw new Error('an admin token is needed (admin_security.tokens)');
    }
    if (!resp.ok) throw new Error('/admin/stats answered ' + resp.status);
    render(await resp.json());
  } catch (err) {
    document.getElementById('status').textContent = 'cannot reach the gateway: ' + err.message;
  }
  setTimeout(poll, POLL_MS);
}

poll();
