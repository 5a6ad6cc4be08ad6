// The perfgate admin dashboard. Polls the admin API of the origin that served it every 2 s and
// keeps the last 5 minutes of samples in memory; charts are drawn on canvases by LineChart below.
// Reading needs no token; cache toggles and clears send the one entered in the page, kept in
// sessionStorage (so for this tab only, until it closes).
'use strict';

const POLL_MS = 2000;
const WINDOW_MS = 5 * 60 * 1000;
const FETCH_TIMEOUT_MS = 4000;
const TOKEN_KEY = 'perfgate.admin-token';
const FROM_CACHE = ['hit', 'stale', 'revalidated'];  // as the gateway's hit_ratio counts them

// ---- Helpers -------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (name === 'className') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function fmtNumber(v, digits = 0) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}
function fmtRate(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return fmtNumber(v, v < 10 ? 2 : v < 100 ? 1 : 0);
}
function fmtRatio(v) {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : (v * 100).toFixed(1) + ' %';
}
function fmtMs(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  if (v < 1) return (v * 1000).toFixed(0) + ' µs';
  if (v < 100) return v.toFixed(v < 10 ? 2 : 1) + ' ms';
  if (v < 10000) return v.toFixed(0) + ' ms';
  return (v / 1000).toFixed(1) + ' s';
}
function fmtBytes(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + ' ' + units[i];
}
function fmtDuration(seconds) {
  if (!Number.isFinite(seconds)) return '–';
  let s = Math.floor(seconds);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m ${s}s`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}
function fmtClock(ms) {
  return new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
}
function sum(values) {
  let total = 0;
  for (const v of values) total += Number(v) || 0;
  return total;
}

// Requests answered from the cache, and all that went through it (bypasses left out).
function cacheCounts(cache) {
  if (!cache) return { fromCache: 0, served: 0 };
  let served = 0;
  for (const [outcome, n] of Object.entries(cache)) {
    if (outcome !== 'hit_ratio' && outcome !== 'bypass') served += Number(n) || 0;
  }
  return { fromCache: sum(FROM_CACHE.map((o) => cache[o])), served };
}

// ---- Latency between two polls ---------------------------------------------------------------

// The q-quantile (ms) of the requests recorded between two answers of /api/monitoring/latency
// (`prev`: Map lower_ns -> count of the earlier one): the midpoint of the bucket holding the
// ceil(q * n)-th smallest, as the gateway computes its own quantiles. null when none came in.
function intervalQuantile(prev, buckets, q) {
  const delta = [];
  let total = 0;
  for (const [lower, upper, count] of buckets) {
    const n = count - (prev.get(lower) || 0);
    if (n > 0) {
      delta.push([lower, upper, n]);
      total += n;
    }
  }
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const [lower, upper, n] of delta) {
    seen += n;
    if (seen >= rank) return (lower + upper) / 2 / 1e6;
  }
  return null;
}

// ---- Charts ----------------------------------------------------------------------------------

// A time-series line chart over the last WINDOW_MS: y from 0 to a rounded maximum, lines broken
// where samples are missing (disconnected, restarted, no traffic).
class LineChart {
  constructor(canvas, series, format, options = {}) {
    this.canvas = canvas;
    this.series = series;  // [{key, label, color: CSS variable name}]
    this.format = format;
    this.fixedMax = options.max;
    this.emptyText = options.emptyText || 'no data yet';
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  static niceMax(v) {
    if (!(v > 0)) return 1;
    const magnitude = Math.pow(10, Math.floor(Math.log10(v)));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (step * magnitude >= v) return step * magnitude;
    }
    return 10 * magnitude;
  }

  draw(samples = this.samples || [], now = this.now || Date.now(), emptyText) {
    this.samples = samples;
    this.now = now;
    if (emptyText !== undefined) this.emptyText = emptyText;
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (width === 0 || height === 0) return;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const style = getComputedStyle(document.documentElement);
    const color = (name) => style.getPropertyValue(name).trim() || '#888';
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = '11px system-ui, sans-serif';

    // The last 5 minutes; while the page has seen less, what it has (at least a minute).
    const first = samples.length ? samples[0].t : now;
    const span = Math.min(WINDOW_MS, Math.max(60_000, now - first));
    const start = now - span;
    const visible = samples.filter((s) => s.t >= start);
    let points = 0;
    let max = 0;
    for (const s of visible) {
      for (const series of this.series) {
        const v = s[series.key];
        if (v !== null && v !== undefined && Number.isFinite(v)) {
          max = Math.max(max, v);
          if (series === this.series[0]) points++;
        }
      }
    }
    const top = this.fixedMax !== undefined ? this.fixedMax : LineChart.niceMax(max);
    const pad = { left: 56, right: 10, top: 18, bottom: 20 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const x = (t) => pad.left + ((t - start) / span) * plotW;
    const y = (v) => pad.top + plotH - (v / top) * plotH;

    // Grid and axes.
    ctx.strokeStyle = color('--grid');
    ctx.fillStyle = color('--muted');
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const v = (top * i) / 4;
      const py = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.left, py);
      ctx.lineTo(width - pad.right, py);
      ctx.stroke();
      ctx.fillText(this.format(v), pad.left - 6, py);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const step = [10_000, 15_000, 30_000, 60_000].find((ms) => span / ms <= 6) || 60_000;
    for (let ago = Math.floor(span / step) * step; ago >= 0; ago -= step) {
      const seconds = ago / 1000;
      const label = ago === 0 ? 'now' : seconds < 60 ? `-${seconds} s`
        : seconds % 60 === 0 ? `-${seconds / 60} min` : `-${(seconds / 60).toFixed(1)} min`;
      const px = x(now - ago);
      ctx.fillText(label, Math.min(px, width - pad.right - 14), height - pad.bottom + 5);
    }

    // Legend.
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    let lx = pad.left;
    for (const series of this.series) {
      ctx.fillStyle = color(series.color);
      ctx.fillRect(lx, 4, 10, 3);
      ctx.fillStyle = color('--fg');
      ctx.fillText(series.label, lx + 14, 0);
      lx += 24 + ctx.measureText(series.label).width;
    }

    // Lines: a gap wherever two samples are more than 2.5 poll intervals apart or a value is missing.
    ctx.lineWidth = 1.75;
    ctx.lineJoin = 'round';
    for (const series of this.series) {
      ctx.strokeStyle = color(series.color);
      ctx.fillStyle = color(series.color);
      ctx.beginPath();
      let last = null;
      let lone = null;
      for (const s of visible) {
        const v = s[series.key];
        if (v === null || v === undefined || !Number.isFinite(v)) { last = null; continue; }
        const px = x(s.t);
        const py = y(Math.min(v, top));
        if (last && s.t - last.t <= 2.5 * POLL_MS) {
          ctx.lineTo(px, py);
          lone = null;
        } else {
          if (lone) ctx.fillRect(lone[0] - 1.5, lone[1] - 1.5, 3, 3);
          ctx.moveTo(px, py);
          lone = [px, py];
        }
        last = s;
      }
      ctx.stroke();
      if (lone) ctx.fillRect(lone[0] - 1.5, lone[1] - 1.5, 3, 3);
    }

    if (points === 0) {
      ctx.fillStyle = color('--muted');
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.font = '13px system-ui, sans-serif';
      ctx.fillText(this.emptyText, pad.left + plotW / 2, pad.top + plotH / 2);
    }
    // For scripts (and tests) reading the page: how many samples are drawn, and the latest one.
    const latest = [...visible].reverse().find((s) => Number.isFinite(s[this.series[0].key]));
    canvas.dataset.points = String(points);
    canvas.dataset.latest = latest ? String(latest[this.series[0].key]) : '';
  }
}

// ---- State -----------------------------------------------------------------------------------

const state = {
  samples: [],        // {t, rps, hit, p50, p99}
  prev: null,         // the previous poll's raw figures, for rates
  lastOk: 0,          // when the last answer came (ms)
  busy: false,        // an action is in flight
  timer: 0,
  polling: null,      // the poll in flight
  pollAgain: false,
};

const charts = {
  rps: new LineChart($('chart-rps'), [{ key: 'rps', label: 'requests/s', color: '--accent' }], fmtRate,
                     { emptyText: 'no traffic yet' }),
  hit: new LineChart($('chart-hit'), [{ key: 'hit', label: 'hit ratio', color: '--good' }],
                     (v) => (v * 100).toFixed(0) + ' %', { max: 1, emptyText: 'no cacheable traffic yet' }),
  latency: new LineChart($('chart-latency'), [{ key: 'p50', label: 'p50', color: '--accent' },
                                              { key: 'p99', label: 'p99', color: '--accent2' }],
                         fmtMs, { emptyText: 'no traffic yet' }),
};

function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

// ---- Talking to the admin API ----------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const controller = new AbortController();
  const timeout = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  const headers = Object.assign({}, options.headers);
  const bearer = token();
  if (bearer) headers.Authorization = 'Bearer ' + bearer;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  try {
    const response = await fetch(path, {
      method: options.method || 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: 'no-store',
      signal: controller.signal,
    });
    const text = await response.text();
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try {
        const error = JSON.parse(text);
        if (error && error.error) message = `${error.error} (${response.status})`;
      } catch { /* not JSON: keep the status line */ }
      throw new ApiError(response.status, message);
    }
    return JSON.parse(text);
  } finally {
    clearTimeout(timeout);
  }
}

function notice(message, kind = 'info') {
  const box = $('notice');
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = !message;
}

function setConnection(connected, detail) {
  const badge = $('connection');
  badge.dataset.state = connected ? 'live' : 'disconnected';
  document.body.dataset.connection = badge.dataset.state;
  badge.textContent = connected ? 'live' : 'disconnected';
  badge.title = connected ? '' : `${detail || 'no answer'}; retrying every ${POLL_MS / 1000} s`;
  $('updated').textContent = state.lastOk
    ? (connected ? 'updated ' : 'last update ') + fmtClock(state.lastOk) + (connected ? '' : ' · retrying')
    : connected ? '' : 'retrying';
}

// One poll at a time: a poll asked for while one runs (after an action) follows it at once.
async function poll() {
  if (state.polling) {
    state.pollAgain = true;
    return state.polling;
  }
  clearTimeout(state.timer);
  const started = Date.now();
  state.polling = pollOnce();
  await state.polling;
  state.polling = null;
  if (state.pollAgain) {
    state.pollAgain = false;
    return poll();
  }
  state.timer = setTimeout(poll, Math.max(0, POLL_MS - (Date.now() - started)));
}

async function pollOnce() {
  let answers;
  try {
    answers = await Promise.all([
      api('/api/monitoring/metrics'), api('/api/cache/stats'), api('/api/monitoring/system'),
      api('/api/cache/routes'), api('/api/monitoring/latency'),
    ]);
  } catch (error) {
    const reason = error instanceof ApiError ? error.message : 'the admin listener does not answer';
    setConnection(false, reason);
    state.prev = null;  // rates restart from the next answer
    return;
  }
  state.lastOk = Date.now();
  setConnection(true);
  const [metrics, cache, system, routes, latency] = answers;
  try {
    update(state.lastOk, metrics, cache, system, routes.routes || [], latency);
  } catch (error) {
    console.error('dashboard: cannot show the answers:', error);
    notice(`cannot show the answers: ${error.message}`, 'error');
  }
}

// ---- Rendering -------------------------------------------------------------------------------

function update(now, metrics, cache, system, routes, latency) {
  const global = metrics.global || {};
  const raw = {
    t: now,
    uptime: Number(metrics.uptime_seconds) || 0,
    requests: Number(global.requests) || 0,
    cache: cacheCounts(global.cache),
    buckets: latency.buckets || [],
    latencyCounts: new Map((latency.buckets || []).map(([lower, , count]) => [lower, count])),
    routes: Object.fromEntries(Object.entries(metrics.routes || {}).map(([n, r]) => [n, Number(r.requests) || 0])),
    cpu: system.cpu ? (Number(system.cpu.user_seconds) || 0) + (Number(system.cpu.system_seconds) || 0) : null,
  };
  // A restarted gateway starts its counters again: no rate across that.
  const prev = state.prev && raw.uptime >= state.prev.uptime && raw.requests >= state.prev.requests ? state.prev : null;
  const elapsed = prev ? Math.max(raw.uptime - prev.uptime, 0.001) : 0;
  const sample = { t: now, rps: null, hit: null, p50: null, p99: null };
  const routeRates = {};
  let cpuShare = null;
  if (prev) {
    sample.rps = (raw.requests - prev.requests) / elapsed;
    const served = raw.cache.served - prev.cache.served;
    if (served > 0) sample.hit = (raw.cache.fromCache - prev.cache.fromCache) / served;
    if (latency.timing) {
      sample.p50 = intervalQuantile(prev.latencyCounts, raw.buckets, 0.5);
      sample.p99 = intervalQuantile(prev.latencyCounts, raw.buckets, 0.99);
    }
    for (const [name, n] of Object.entries(raw.routes)) {
      if (prev.routes[name] !== undefined) routeRates[name] = (n - prev.routes[name]) / elapsed;
    }
    if (raw.cpu !== null && prev.cpu !== null) cpuShare = (raw.cpu - prev.cpu) / elapsed;
  }
  state.prev = raw;
  state.samples.push(sample);
  while (state.samples.length && state.samples[0].t < now - WINDOW_MS) state.samples.shift();

  const timingOff = latency.timing === false;
  charts.rps.draw(state.samples, now);
  charts.hit.draw(state.samples, now);
  charts.latency.draw(state.samples, now, timingOff ? 'timing is off ([metrics] enabled = false)' : 'no traffic yet');

  $('version').textContent = system.version ? 'v' + system.version : '';
  $('stat-rps').textContent = fmtRate(sample.rps);
  $('stat-hit').textContent = fmtRatio(sample.hit);
  $('stat-p50').textContent = fmtMs(sample.p50);
  $('stat-p99').textContent = fmtMs(sample.p99);
  $('stat-requests').textContent = fmtNumber(raw.requests);
  const errors = sum(Object.values(global.errors || {}));
  const status5xx = Number((global.status || {})['5xx']) || 0;
  $('stat-errors').textContent = fmtNumber(errors + status5xx);
  $('stat-errors').title = `${fmtNumber(status5xx)} 5xx responses, ${fmtNumber(errors)} gateway errors`;

  renderRoutes(metrics, routes, routeRates);
  renderSystem(system, cpuShare);
  renderCache(cache);
  renderUpstreams(metrics.upstreams || {});
  renderExtra({ metrics, cache, system });
}

// Configured routes in config order (from /api/cache/routes), with their cache switches.
function renderRoutes(metrics, routes, rates) {
  const tbody = $('routes').tBodies[0];
  const names = routes.map((r) => r.name);
  for (const name of Object.keys(metrics.routes || {})) if (!names.includes(name)) names.push(name);
  if (names.length === 0) {
    tbody.replaceChildren(el('tr', { className: 'empty' }, el('td', { colspan: 11 }, 'no routes configured')));
    return;
  }
  const rows = [];
  for (const name of names) {
    const m = (metrics.routes || {})[name] || {};
    const sw = routes.find((r) => r.name === name);
    const latency = m.latency_ms && m.latency_ms.total;
    const hasLatency = latency && latency.count > 0;
    const served = cacheCounts(m.cache).served;
    const cells = [
      el('th', { scope: 'row' }, name),
      el('td', {}, m.upstream || ''),
      el('td', { className: 'num', 'data-field': 'requests' }, fmtNumber(m.requests || 0)),
      el('td', { className: 'num', 'data-field': 'rps' }, fmtRate(rates[name])),
      el('td', { className: 'num', 'data-field': 'hit' }, served > 0 ? fmtRatio(m.cache.hit_ratio) : '–'),
      el('td', { className: 'num' }, hasLatency ? fmtMs(latency.p50) : '–'),
      el('td', { className: 'num', 'data-field': 'p99' }, hasLatency ? fmtMs(latency.p99) : '–'),
      el('td', { className: 'num' }, fmtNumber(Number((m.status || {})['5xx']) || 0)),
      el('td', { className: 'num', 'data-field': 'errors' }, fmtNumber(sum(Object.values(m.errors || {})))),
    ];
    const cacheCell = el('td', {});
    const actions = el('div', { className: 'actions' });
    if (sw) {
      cacheCell.append(el('button', {
        type: 'button', role: 'switch', 'aria-checked': String(!!sw.enabled), 'data-action': 'toggle',
        'aria-label': `cache for route ${name}`, title: sw.enabled ? 'click to turn caching off' : 'click to turn caching on',
        onclick: () => action(`cache for ${name} turned ${sw.enabled ? 'off' : 'on'}`,
                              `/api/cache/routes/${encodeURIComponent(name)}`, 'PUT', { enabled: !sw.enabled }),
      }, sw.enabled ? 'on' : 'off'));
      if (sw.overridden) {
        cacheCell.append(el('button', {
          type: 'button', className: 'override', 'data-action': 'follow-config',
          title: `the config says ${sw.configured ? 'on' : 'off'}; click to follow it again`,
          onclick: () => action(`cache for ${name} follows the config again`,
                                `/api/cache/routes/${encodeURIComponent(name)}`, 'PUT', { enabled: null }),
        }, 'overridden · reset'));
      }
      actions.append(el('button', {
        type: 'button', 'data-action': 'clear', title: `remove every cached response of route ${name}`,
        onclick: () => {
          if (window.confirm(`Remove every cached response of route "${name}"?`)) {
            action(`cache of ${name} cleared`, '/api/cache/clear', 'POST', { route: name }, (r) => ` (${r.removed} removed)`);
          }
        },
      }, 'clear'));
    }
    rows.push(el('tr', { 'data-route': name }, ...cells, cacheCell, el('td', {}, actions)));
  }
  tbody.replaceChildren(...rows);
}

function definitionList(target, entries) {
  const nodes = [];
  for (const [term, value, field] of entries) {
    nodes.push(el('dt', {}, term), el('dd', field ? { 'data-field': field } : {}, value));
  }
  $(target).replaceChildren(...nodes);
}

function renderSystem(s, cpuShare) {
  const connections = s.connections || {};
  const memory = s.memory || {};
  definitionList('system', [
    ['Uptime', fmtDuration(Number(s.uptime_seconds)), 'uptime'],
    ['Version', s.version || '–'],
    ['PID', s.pid ?? '–'],
    ['Workers', s.workers ?? '–'],
    ['Connections', `${fmtNumber(connections.client)} client · ${fmtNumber(connections.backend)} backend`, 'connections'],
    ['RSS', fmtBytes(memory.rss_bytes), 'rss'],
    ['Virtual', fmtBytes(memory.virtual_bytes)],
    ['CPU', cpuShare === null ? '–' : (cpuShare * 100).toFixed(1) + ' % of a core'],
    ['Threads', s.threads ?? '–'],
    ['Open files', s.open_fds === null || s.open_fds === undefined ? '–' : `${s.open_fds} of ${s.max_fds ?? '?'}`],
    ['Load', Array.isArray(s.load_average) ? s.load_average.map((v) => Number(v).toFixed(2)).join(' ') : '–'],
  ]);
}

function renderCache(c) {
  const compression = c.compression || {};
  const encoded = Object.entries(compression.codings || {}).filter(([, v]) => v.compressed > 0);
  const background = compression.background;
  definitionList('cache', [
    ['Entries', fmtNumber(c.entries), 'entries'],
    ['Size', `${fmtBytes(c.bytes)} of ${fmtBytes(c.max_bytes)}` +
             (c.max_bytes > 0 ? ` (${((100 * c.bytes) / c.max_bytes).toFixed(1)} %)` : '')],
    ['Inserts', fmtNumber(c.inserts)],
    ['Evictions', fmtNumber(c.evictions)],
    // Per coding: bodies encoded, identity bytes in → encoded bytes out (and the share kept).
    ['Compression', compression.codings === undefined ? '–' : encoded.length === 0 ? 'nothing yet'
      : encoded.map(([name, v]) => `${name}: ${fmtNumber(v.compressed)} bodies, ${fmtBytes(v.bytes_in)} → ` +
          `${fmtBytes(v.bytes_out)}` + (v.bytes_in > 0 ? ` (${((100 * v.bytes_out) / v.bytes_in).toFixed(1)} %)` : ''))
        .join(' · ')],
    ['Recoded', compression.recoded === undefined ? '–' : `${fmtNumber(compression.recoded)} variants made from stored ones`],
    ['Background', background === undefined ? 'off'
      : `${fmtNumber(background.stored)} made, ${fmtNumber(background.queued)} queued, ` +
        `${fmtNumber(background.dropped)} dropped`],
  ]);
}

function renderUpstreams(upstreams) {
  const entries = Object.entries(upstreams).map(([name, u]) => {
    const errors = sum(Object.values(u.errors || {}));
    return [name, `${fmtNumber(u.requests)} requests · ${fmtNumber(errors)} errors`];
  });
  definitionList('upstreams', entries.length ? entries : [['–', 'none configured']]);
}

// Whatever the endpoints report beyond the fields above (an L2 cache's state, say), flattened.
const KNOWN = {
  metrics: ['uptime_seconds', 'timing', 'global', 'routes', 'unrouted', 'upstreams'],
  cache: ['entries', 'bytes', 'max_bytes', 'evictions', 'inserts', 'replaced', 'routes', 'compression'],
  system: ['version', 'pid', 'uptime_seconds', 'cpu', 'memory', 'open_fds', 'max_fds', 'threads', 'workers',
           'connections', 'cache', 'load_average'],
};
function flatten(prefix, value, out) {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(prefix ? `${prefix}.${k}` : k, v, out);
  } else {
    out.push([prefix, Array.isArray(value) ? value.join(', ') : value === null ? '–' : String(value)]);
  }
}
function renderExtra(sources) {
  const entries = [];
  for (const [source, body] of Object.entries(sources)) {
    for (const [key, value] of Object.entries(body || {})) {
      if (KNOWN[source].includes(key)) continue;
      const rows = [];
      flatten('', value, rows);
      const title = key.length <= 3 ? key.toUpperCase() : key;
      if (rows.length === 1 && rows[0][0] === '') entries.push([title, rows[0][1]]);
      else for (const [k, v] of rows) entries.push([`${title} ${k}`, v]);
    }
  }
  $('extra-panel').hidden = entries.length === 0;
  if (entries.length) definitionList('extra', entries);
}

// ---- Actions ---------------------------------------------------------------------------------

async function action(done, path, method, body, describe) {
  if (state.busy) return;
  state.busy = true;
  for (const button of document.querySelectorAll('#routes button')) button.disabled = true;
  try {
    const result = await api(path, { method, body });
    notice(done + (describe ? describe(result) : ''));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      notice(`${error.message}: enter the admin token above (the [admin] token of the config)`, 'error');
      $('token').focus();
    } else {
      notice(`could not do that: ${error.message}`, 'error');
    }
  } finally {
    state.busy = false;
    await poll();
  }
}

function showTokenState() {
  $('token-state').textContent = token() ? 'token set for this tab' : 'no token';
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = $('token').value.trim();
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
  } catch {
    notice('this browser keeps no session storage: the token cannot be kept', 'error');
  }
  $('token').value = '';
  showTokenState();
  if (value) notice('token kept for this tab');
});
$('token-forget').addEventListener('click', () => {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* nothing kept */ }
  showTokenState();
  notice('token forgotten');
});

showTokenState();
for (const chart of Object.values(charts)) chart.draw([], Date.now());
poll();
