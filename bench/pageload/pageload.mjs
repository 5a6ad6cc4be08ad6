// Page load in a real browser: loads the sample site (/site/ of perfgate-sample-backend: an HTML
// page, 40 assets, one API call) in headless Chromium, directly from the backend and through
// perfgate with a cold and with a warm cache, and reports the medians of navigation timing and
// the bytes transferred. Started by bench/pageload/run.sh, which starts the servers and installs
// playwright-core; run that, not this.
//
// Per round (--loads rounds), in an order shuffled per round (seeded), one measured load each of:
//   direct          the backend alone (it has no cache; every load is a cold one)
//   perfgate-cold   perfgate's cache cleared first (POST /api/cache/clear on its admin API)
//   perfgate-warm   perfgate's cache filled first by an unmeasured load of the page
// Every load, measured or not, runs in a fresh browser context: its HTTP cache, cookies and
// connections are new, so the browser's own cache is always cold. Each load is checked: every
// asset and the API answered 200, every image decoded, the page's script rendered the API's items,
// no script error; a load that fails a check fails the run.
//
// Usage: node pageload.mjs --chromium BIN --direct URL --perfgate URL --admin URL --loads N
//                          --out DIR [--seed N] [--timeout-ms MS] [--network SPEC]
// --network: none (default: loopback as it is), cable, dsl, 4g, 3gfast (WebPageTest's profiles)
// or RTT_MS,DOWN_KBIT,UP_KBIT: Chromium's network emulation (DevTools protocol
// Network.emulateNetworkConditions: the RTT as the least time from a request to its response,
// the throughput shared by the page's requests) on the measured loads.
// (--direct is the backend, whose /__stats counts the requests it answered.)
// Writes DIR/loads.csv (every load), DIR/report.json, DIR/report.txt and DIR/report.md; reads
// DIR/meta.txt (key=value lines from run.sh) into the report when present. Exit 1 on a failed
// check or load, 2 on bad arguments.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

// ---- Arguments ---------------------------------------------------------------------------------

function parseArgs(argv) {
  const args = { loads: 20, seed: 1, timeoutMs: 30_000, network: 'none' };
  const names = { '--chromium': 'chromium', '--direct': 'direct', '--perfgate': 'perfgate', '--admin': 'admin',
                  '--loads': 'loads', '--out': 'out', '--seed': 'seed', '--timeout-ms': 'timeoutMs',
                  '--network': 'network' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) usage(`bad argument '${argv[i]}'`);
    args[key] = argv[i + 1];
  }
  for (const key of ['chromium', 'direct', 'perfgate', 'admin', 'out']) {
    if (!args[key]) usage(`--${key} is missing`);
  }
  for (const key of ['loads', 'seed', 'timeoutMs']) {
    args[key] = Number(args[key]);
    if (!Number.isInteger(args[key]) || args[key] < (key === 'seed' ? 0 : 1)) usage(`${key} wants a positive integer`);
  }
  args.conditions = networkConditions(args.network);
  return args;
}

// WebPageTest's connectivity profiles (RTT ms, down and up kbit/s).
const NETWORKS = { cable: [28, 5000, 1000], dsl: [50, 1500, 384], '4g': [170, 9000, 9000], '3gfast': [150, 1600, 768] };
function networkConditions(spec) {
  if (spec === 'none') return null;
  const values = NETWORKS[spec] || spec.split(',').map(Number);
  if (values.length !== 3 || !values.every((v) => Number.isInteger(v) && v >= 0) || values[1] === 0 || values[2] === 0) {
    usage(`--network wants none, ${Object.keys(NETWORKS).join(', ')} or RTT_MS,DOWN_KBIT,UP_KBIT, got '${spec}'`);
  }
  const [rtt, down, up] = values;
  return { text: `${spec === values.join(',') ? '' : `${spec}: `}RTT ${rtt} ms, ${down / 1000} Mbit/s down, ${up / 1000} Mbit/s up ` +
                 '(Chromium network emulation)',
           latency: rtt, downloadThroughput: (down * 1000) / 8, uploadThroughput: (up * 1000) / 8 };
}

function usage(message) {
  console.error(`pageload.mjs: ${message}\nusage: node pageload.mjs --chromium BIN --direct URL --perfgate URL ` +
                '--admin URL --loads N --out DIR [--seed N] [--timeout-ms MS]');
  process.exit(2);
}

const args = parseArgs(process.argv.slice(2));
const SITE = '/site/';
const MODES = ['direct', 'perfgate-cold', 'perfgate-warm'];
const MODE_TEXT = {
  'direct': 'the backend alone (no cache)',
  'perfgate-cold': "through perfgate, its cache cleared before the load",
  'perfgate-warm': "through perfgate, its cache filled by a load just before",
};

// ---- Helpers -----------------------------------------------------------------------------------

// A small seeded generator (mulberry32): the same --seed gives the same order of the loads.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(args.seed);
function shuffled(list) {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

async function fetchJson(url, options = {}) {
  const response = await fetch(url, { ...options, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${options.method || 'GET'} ${url} answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

// Requests the backend has answered so far (its /__stats does not count itself).
async function backendRequests() {
  return (await fetchJson(`${args.direct}/__stats`)).requests;
}

async function clearPerfgateCache() {
  const answer = await fetchJson(`${args.admin}/api/cache/clear`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}',
  });
  return answer.removed;
}

// ---- One load ----------------------------------------------------------------------------------

// Loads the site once in a fresh context; returns its measurements and the problems it found.
// `measured`: the network emulation of --network applies.
async function load(browser, base, measured = false) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, serviceWorkers: 'block' });
  const problems = [];
  let xcacheHits = 0;
  let responses = 0;
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(args.timeoutMs);
    if (measured && args.conditions) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      const { latency, downloadThroughput, uploadThroughput } = args.conditions;
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency, downloadThroughput, uploadThroughput });
    }
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`failed: ${request.url()} (${request.failure()?.errorText})`));
    page.on('response', (response) => {
      responses++;
      if (response.status() !== 200) problems.push(`${response.url()} answered ${response.status()}`);
      if ((response.headers()['x-cache'] || '').toUpperCase() === 'HIT') xcacheHits++;
    });
    const before = await backendRequests();
    await page.goto(base + SITE, { waitUntil: 'load', timeout: args.timeoutMs });
    // The load event does not wait for the page's fetch; the script marks "app-ready" once it has
    // rendered the API's answer (or failed to).
    await page.waitForFunction(() => document.documentElement.dataset.appReady === '1' &&
      performance.getEntriesByType('navigation')[0].loadEventEnd > 0, null, { timeout: args.timeoutMs });
    const m = await page.evaluate(async () => {
      const nav = performance.getEntriesByType('navigation')[0];
      const resources = performance.getEntriesByType('resource');
      const ready = performance.getEntriesByName('app-ready')[0];
      const images = [...document.images];
      let broken = 0;
      for (const img of images) {
        try {
          await img.decode();
          if (img.naturalWidth === 0) broken++;
        } catch {
          broken++;
        }
      }
      const sum = (key) => resources.reduce((total, r) => total + (r[key] || 0), 0);
      return {
        protocol: nav.nextHopProtocol,
        ttfb_ms: nav.responseStart - nav.requestStart,
        dcl_ms: nav.domContentLoadedEventStart,
        load_ms: nav.loadEventStart,
        app_ready_ms: ready ? ready.startTime : null,
        document_transfer_bytes: nav.transferSize,
        document_encoded_bytes: nav.encodedBodySize,
        document_decoded_bytes: nav.decodedBodySize,
        resources: resources.length,
        resources_transfer_bytes: sum('transferSize'),
        resources_encoded_bytes: sum('encodedBodySize'),
        resources_decoded_bytes: sum('decodedBodySize'),
        // transferSize 0 with a body: served from the browser's cache, which must be cold here.
        browser_cache_hits: resources.filter((r) => r.transferSize === 0 && r.decodedBodySize > 0).length,
        not_200: resources.filter((r) => r.responseStatus && r.responseStatus !== 200).map((r) => `${r.name} ${r.responseStatus}`),
        expected_assets: Number(document.querySelector('meta[name="perfgate-site-assets"]')?.content || -1),
        images: images.length,
        broken_images: broken,
        items: Number(document.documentElement.dataset.items || 0),
        app_error: document.documentElement.dataset.appError || '',
      };
    });
    const after = await backendRequests();
    m.transfer_bytes = m.document_transfer_bytes + m.resources_transfer_bytes;
    m.requests = responses;
    m.x_cache_hits = xcacheHits;
    m.backend_requests = after - before;
    // 40 assets and the API call.
    if (m.resources !== m.expected_assets + 1) problems.push(`${m.resources} resources loaded, ${m.expected_assets} assets + 1 API call expected`);
    if (m.broken_images > 0) problems.push(`${m.broken_images} of ${m.images} images did not decode`);
    if (m.items !== 20) problems.push(`the page rendered ${m.items} items from /api/items, 20 expected`);
    if (m.app_error) problems.push(`the page's script: ${m.app_error}`);
    if (m.browser_cache_hits > 0) problems.push(`${m.browser_cache_hits} resources came from the browser's cache (a fresh context should have none)`);
    if (m.not_200.length) problems.push(`not 200: ${m.not_200.join(', ')}`);
    if (m.protocol !== 'http/1.1') problems.push(`the page came over ${m.protocol}, not http/1.1`);
    return { m, problems };
  } finally {
    await context.close();
  }
}

// ---- Main --------------------------------------------------------------------------------------

const meta = {};
const metaFile = path.join(args.out, 'meta.txt');
if (fs.existsSync(metaFile)) {
  for (const line of fs.readFileSync(metaFile, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) meta[line.slice(0, eq)] = line.slice(eq + 1);
  }
}

const browser = await chromium.launch({
  executablePath: args.chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
const samples = [];
let failed = 0;
const started = new Date();
try {
  const base = { direct: args.direct, 'perfgate-cold': args.perfgate, 'perfgate-warm': args.perfgate };
  // One unmeasured load per target: the browser's first page (process start-up, code caches) and
  // the backend's first /site/ (it generates the site on first use) are not measured.
  for (const url of [args.direct, args.perfgate]) {
    const { problems } = await load(browser, url);
    if (problems.length) throw new Error(`the warm-up load of ${url}${SITE} failed: ${problems.join('; ')}`);
  }
  for (let round = 1; round <= args.loads; round++) {
    const order = shuffled(MODES);
    for (let position = 0; position < order.length; position++) {
      const mode = order[position];
      let removed = '';
      if (mode === 'perfgate-cold') removed = await clearPerfgateCache();
      if (mode === 'perfgate-warm') {
        const { problems } = await load(browser, args.perfgate);  // fills perfgate's cache
        if (problems.length) throw new Error(`the load that warms perfgate failed: ${problems.join('; ')}`);
      }
      const { m, problems } = await load(browser, base[mode], true);
      samples.push({ round, position: position + 1, mode, cache_entries_removed: removed, ...m, problems });
      if (problems.length) {
        failed++;
        console.error(`FAIL round ${round} ${mode}: ${problems.join('; ')}`);
      }
      console.error(`== round ${round}/${args.loads} ${mode}: ttfb ${m.ttfb_ms.toFixed(1)} ms, ` +
                    `DCL ${m.dcl_ms.toFixed(1)} ms, load ${m.load_ms.toFixed(1)} ms, ` +
                    `${(m.transfer_bytes / 1024).toFixed(1)} KiB, backend requests ${m.backend_requests}`);
    }
  }
} finally {
  meta.chromium = meta.chromium || `${browser.version()}`;
  await browser.close();
}

// ---- Report ------------------------------------------------------------------------------------

const csvColumns = ['round', 'position', 'mode', 'protocol', 'ttfb_ms', 'dcl_ms', 'load_ms', 'app_ready_ms',
  'transfer_bytes', 'document_transfer_bytes', 'resources_transfer_bytes', 'resources_encoded_bytes',
  'resources_decoded_bytes', 'resources', 'requests', 'backend_requests', 'x_cache_hits', 'browser_cache_hits',
  'broken_images', 'cache_entries_removed', 'problems'];
const csvField = (v) => {
  const s = Array.isArray(v) ? v.join('; ') : typeof v === 'number' ? String(Math.round(v * 1000) / 1000) : String(v ?? '');
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};
fs.writeFileSync(path.join(args.out, 'loads.csv'),
  [csvColumns.join(','), ...samples.map((s) => csvColumns.map((c) => csvField(s[c])).join(','))].join('\n') + '\n');

const summary = {};
for (const mode of MODES) {
  const rows = samples.filter((s) => s.mode === mode);
  const med = (key) => median(rows.map((r) => r[key]));
  summary[mode] = {
    description: MODE_TEXT[mode],
    loads: rows.length,
    failed_loads: rows.filter((r) => r.problems.length).length,
    median: {
      ttfb_ms: med('ttfb_ms'), dcl_ms: med('dcl_ms'), load_ms: med('load_ms'), app_ready_ms: med('app_ready_ms'),
      transfer_bytes: med('transfer_bytes'), document_transfer_bytes: med('document_transfer_bytes'),
      resources_decoded_bytes: med('resources_decoded_bytes'), requests: med('requests'),
      backend_requests: med('backend_requests'), x_cache_hits: med('x_cache_hits'),
    },
    min_load_ms: rows.length ? Math.min(...rows.map((r) => r.load_ms)) : null,
    max_load_ms: rows.length ? Math.max(...rows.map((r) => r.load_ms)) : null,
    max_backend_requests: rows.length ? Math.max(...rows.map((r) => r.backend_requests)) : null,
  };
}
const pct = (a, b) => (a == null || b == null || b === 0 ? null : (a / b - 1) * 100);
const direct = summary.direct.median;
const versus = {};
for (const mode of ['perfgate-cold', 'perfgate-warm']) {
  const m = summary[mode].median;
  versus[mode] = {
    ttfb_pct: pct(m.ttfb_ms, direct.ttfb_ms), dcl_pct: pct(m.dcl_ms, direct.dcl_ms),
    load_pct: pct(m.load_ms, direct.load_ms), app_ready_pct: pct(m.app_ready_ms, direct.app_ready_ms),
    transfer_pct: pct(m.transfer_bytes, direct.transfer_bytes),
  };
}
const finished = new Date();
const report = {
  started: started.toISOString(), finished: finished.toISOString(), loads_per_mode: args.loads, seed: args.seed,
  site: `${SITE} of perfgate-sample-backend: an HTML page, ${samples[0]?.expected_assets ?? '?'} assets, 1 API call (/api/items)`,
  protocol: 'HTTP/1.1 over plain TCP on 127.0.0.1 (perfgate has no TLS or HTTP/2 yet)',
  network: args.conditions
    ? `${args.conditions.text}: the RTT is a floor per request, not added to the server's time ` +
      '(a backend delay below it does not show), and Chromium holds back the body, not the head: TTFB stays the loopback figure'
    : 'loopback as it is (no network emulation)',
  definitions: {
    ttfb_ms: 'navigation timing responseStart - requestStart of the document',
    dcl_ms: 'domContentLoadedEventStart, from the start of the navigation',
    load_ms: 'loadEventStart, from the start of the navigation',
    app_ready_ms: "the page's performance mark app-ready: /api/items fetched and rendered",
    transfer_bytes: 'transferSize of the document (navigation timing) + of every resource (resource timing): headers and bodies as sent, compressed where they were',
    backend_requests: "requests the backend answered during the load (its /__stats)",
    x_cache_hits: 'responses that carried X-Cache: HIT (perfgate)',
  },
  meta, summary, perfgate_vs_direct_pct: versus, failed_loads: failed, samples,
};
fs.writeFileSync(path.join(args.out, 'report.json'), JSON.stringify(report, null, 2) + '\n');

const fmt = (v, digits = 1) => (v == null ? '-' : v.toFixed(digits));
const kib = (v) => (v == null ? '-' : (v / 1024).toFixed(1));
const signed = (v) => (v == null ? '-' : `${v >= 0 ? '+' : ''}${v.toFixed(1)}%`);
const header = ['target', 'loads', 'TTFB ms', 'DOMContentLoaded ms', 'load ms', 'app ready ms', 'transferred KiB',
  'requests', 'backend requests/load', 'X-Cache HIT/load', 'failed'];
const rows = MODES.map((mode) => {
  const s = summary[mode];
  const m = s.median;
  return [mode, String(s.loads), fmt(m.ttfb_ms, 2), fmt(m.dcl_ms), fmt(m.load_ms), fmt(m.app_ready_ms),
    kib(m.transfer_bytes), fmt(m.requests, 0), fmt(m.backend_requests, 0), fmt(m.x_cache_hits, 0),
    String(s.failed_loads)];
});
const versusRows = ['perfgate-cold', 'perfgate-warm'].map((mode) => {
  const v = versus[mode];
  return `${mode} against direct: TTFB ${signed(v.ttfb_pct)}, DOMContentLoaded ${signed(v.dcl_pct)}, ` +
         `load ${signed(v.load_pct)}, app ready ${signed(v.app_ready_pct)}, transferred ${signed(v.transfer_pct)}`;
});
const head = [
  `perfgate page load in a browser, ${report.started} - ${report.finished}`,
  `command: ${meta.command || 'node pageload.mjs'}`,
  `page: ${report.site}`,
  `browser: headless ${meta.chromium}${meta.playwright ? `, playwright-core ${meta.playwright}` : ''}; ` +
    'a fresh context (cold browser cache, new connections) for every load; viewport 1280x900',
  `protocol: ${report.protocol}; Chromium opens up to 6 connections to the host`,
  `network: ${report.network}`,
  ...(meta.placement ? [`CPU placement: ${meta.placement}`] : []),
  ...(meta.backend ? [`backend: ${meta.backend}`] : []),
  ...(meta.perfgate ? [`perfgate: ${meta.perfgate}`] : []),
  ...(meta.load_average_before ? [`load average before: ${meta.load_average_before}`] : []),
  `loads: ${args.loads} per target, in rounds with the order shuffled per round (seed ${args.seed}), ` +
    'after one unmeasured load of each; figures are medians',
  ...MODES.map((mode) => `  ${mode.padEnd(14)} ${MODE_TEXT[mode]}`),
  'TTFB: responseStart - requestStart of the document; DOMContentLoaded and load: the events\' start from the ' +
    'start of the navigation; app ready: the page\'s script has fetched /api/items and rendered it; ' +
    'transferred: transferSize of the document and every resource (headers + bodies as sent)',
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
const text = [...head, '', line(header), ...rows.map(line), '', ...versusRows,
  ...(failed ? ['', `FAILED: ${failed} load(s) failed a check (loads.csv, column problems)`] : [])].join('\n') + '\n';
fs.writeFileSync(path.join(args.out, 'report.txt'), text);
const md = [...head.map((h) => (h.startsWith('  ') ? `- \`${h.trim().split(/\s+/)[0]}\`: ${MODE_TEXT[h.trim().split(/\s+/)[0]]}` : `${h}  `)), '',
  `| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`,
  ...rows.map((r) => `| ${r.join(' | ')} |`), '', ...versusRows.map((v) => `- ${v}`),
  ...(failed ? ['', `**FAILED**: ${failed} load(s) failed a check`] : [])].join('\n') + '\n';
fs.writeFileSync(path.join(args.out, 'report.md'), md);
process.stdout.write(text);
process.exit(failed ? 1 : 0);
