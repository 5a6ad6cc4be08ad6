// Drives the admin dashboard in headless Chromium against the real gateway and the sample backend,
// both on ephemeral loopback ports: empty state, live numbers and charts under traffic, the cache
// toggle (refused without the token, then BYPASS on the next request), clear, and "disconnected"
// and back across a gateway restart. Saves a screenshot. Prints ok/FAIL per check; exit 1 on any
// failure. Run by check.sh, which installs playwright-core and finds Chromium.
// Usage: node dashboard_check.mjs PERFGATE SAMPLE_BACKEND CHROMIUM OUT_DIR
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [perfgateBin, backendBin, chromiumBin, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: node dashboard_check.mjs PERFGATE SAMPLE_BACKEND CHROMIUM OUT_DIR');
  process.exit(2);
}
const TOKEN = 'dashboard-check-token';
const DEADLINE_MS = 120_000;
const POLL_MS = 2000;  // the page's poll interval

let failures = 0;
let passed = 0;
function check(condition, what, detail = '') {
  if (condition) {
    passed++;
    console.log(`ok   ${what}`);
  } else {
    failures++;
    console.log(`FAIL ${what}${detail ? ': ' + detail : ''}`);
  }
  return condition;
}

// ---- Processes -------------------------------------------------------------------------------

const children = new Set();
function killAll() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
process.on('exit', killAll);

// Starts `bin` and resolves with the first stdout line matching `ready` (its match) once printed.
function start(bin, args, ready, what) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${what} not ready within 20 s; stderr:\n${err}`)), 20_000);
    child.stdout.on('data', (data) => {
      out += data;
      const match = ready.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match, stderr: () => err });
      }
    });
    child.stderr.on('data', (data) => { err += data; });
    child.on('exit', (code, signal) => {
      children.delete(child);
      clearTimeout(timer);
      reject(new Error(`${what} exited (${signal || code}) before it was ready; stderr:\n${err}`));
    });
    child.on('error', (error) => reject(new Error(`${what}: ${error.message}`)));
  });
}

// SIGTERM, SIGKILL after 15 s; resolves with how it ended ("exit 0", "signal SIGKILL").
function stop(child) {
  const how = () => (child.signalCode ? `signal ${child.signalCode}` : `exit ${child.exitCode}`);
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(how());
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(how());
    });
    child.kill('SIGTERM');
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- HTTP ------------------------------------------------------------------------------------

async function get(port, target) {
  const response = await fetch(`http://127.0.0.1:${port}${target}`);
  await response.arrayBuffer();
  return response;
}

// `count` GETs spread over the targets, `concurrency` at a time; returns how many each target got.
async function traffic(port, targets, count, concurrency = 4) {
  const sent = new Map();
  let next = 0;
  async function lane() {
    while (next < count) {
      const target = targets[next++ % targets.length];
      const response = await get(port, target);
      if (response.status !== 200) throw new Error(`GET ${target}: ${response.status}`);
      sent.set(target, (sent.get(target) || 0) + 1);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane));
  return sent;
}

async function admin(port, target) {
  const response = await fetch(`http://127.0.0.1:${port}${target}`);
  return response.json();
}

// ---- The check -------------------------------------------------------------------------------

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'perfgate-dashboard-'));
  try {
    await run(work);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function run(work) {
  const backend = await start(backendBin, ['--listen', '127.0.0.1:0', '--threads', '1', '--latency', '1-6'],
                              /sample-backend ready: listen=\S+:(\d+)/, 'sample backend');
  const backendPort = Number(backend.match[1]);
  const config = path.join(work, 'perfgate.toml');
  fs.writeFileSync(config, `[server]
listen = "127.0.0.1:0"
workers = 1

[admin]
listen = "127.0.0.1:0"
token = "${TOKEN}"

[log]
level = "warn"
access_log = ""

[upstream.app]
url = "http://127.0.0.1:${backendPort}"

[[route]]
name = "api"
prefix = "/api/"
upstream = "app"

[[route]]
name = "site"
prefix = "/"
upstream = "app"
`);
  const ready = /perfgate ready: listen=\S+:(\d+) admin=\S+:(\d+)/;
  let gateway = await start(perfgateBin, ['--config', config], ready, 'perfgate');
  let publicPort = Number(gateway.match[1]);
  const adminPort = Number(gateway.match[2]);
  const origin = `http://127.0.0.1:${adminPort}`;

  // The files themselves, as a client sees them.
  const page_ = await fetch(`${origin}/`);
  const html = await page_.text();
  check(page_.status === 200 && /^text\/html/.test(page_.headers.get('content-type')), 'GET / is the HTML page',
        `${page_.status} ${page_.headers.get('content-type')}`);
  const csp = page_.headers.get('content-security-policy') || '';
  check(/default-src 'none'/.test(csp) && /connect-src 'self'/.test(csp) && !/unsafe-inline/.test(csp),
        'the page has a strict Content-Security-Policy', csp);
  check(!/https?:\/\//.test(html), 'the page names no other origin');
  for (const [file, type] of [['app.js', /^text\/javascript/], ['style.css', /^text\/css/]]) {
    const response = await fetch(`${origin}/dashboard/${file}`);
    const body = await response.text();
    check(response.status === 200 && type.test(response.headers.get('content-type')) && body.length > 100,
          `GET /dashboard/${file} (${response.headers.get('content-type')})`);
    check(!/https?:\/\/(?!127\.0\.0\.1)/.test(body.replace(/\/\/ .*$/gm, '')), `${file} fetches nothing elsewhere`);
  }
  const missing = await fetch(`${origin}/dashboard/nope.js`);
  check(missing.status === 404 && (await missing.json()).status === 404, 'an unknown dashboard file is a JSON 404');
  const post = await fetch(`${origin}/`, { method: 'POST' });
  check(post.status === 405 && post.headers.get('allow') === 'GET, HEAD', 'POST / is 405 with Allow');

  const browser = await chromium.launch({
    executablePath: chromiumBin,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1360, height: 1000 }, colorScheme: 'light' });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const problems = [];
    const elsewhere = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      // The browser logs each failed fetch (refused while the gateway restarts, 401 without the
      // token) as "Failed to load resource"; those are expected here. Anything else is not.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        problems.push(`console: ${message.text()}`);
      }
    });
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(origin + '/') && !url.startsWith('data:')) elsewhere.push(url);
    });

    await page.goto(`${origin}/`);
    await page.waitForSelector('#connection[data-state="live"]');
    check(true, 'the page connects (live)');
    // Empty state: two polls with no traffic.
    await page.waitForSelector('tr[data-route="api"]');
    await sleep(POLL_MS + 500);
    const empty = await page.evaluate(() => ({
      requests: document.getElementById('stat-requests').textContent,
      latencyPoints: document.getElementById('chart-latency').dataset.points,
      hitPoints: document.getElementById('chart-hit').dataset.points,
      apiRequests: document.querySelector('tr[data-route="api"] [data-field="requests"]').textContent,
      siteRow: !!document.querySelector('tr[data-route="site"]'),
      uptime: document.querySelector('#system [data-field="uptime"]').textContent,
    }));
    check(empty.requests === '0' && empty.apiRequests === '0' && empty.siteRow,
          'empty state: both routes listed with 0 requests', JSON.stringify(empty));
    check(empty.latencyPoints === '0' && empty.hitPoints === '0', 'empty state: no latency or hit-ratio points yet',
          JSON.stringify(empty));
    check(/\d+s/.test(empty.uptime), `the system panel shows the uptime (${empty.uptime})`);
    const before = await page.evaluate(() => document.getElementById('chart-rps').toDataURL());

    // Traffic over several polls: cacheable /api/small (hits after the first), items, pages.
    const targets = ['/api/small', '/api/small', '/api/small', '/api/items/1', '/api/items/2', '/page', '/'];
    const sent = new Map();
    for (let i = 0; i < 8; i++) {
      for (const [target, n] of await traffic(publicPort, targets, 60 + 40 * (i % 3))) {
        sent.set(target, (sent.get(target) || 0) + n);
      }
      await sleep(450);
    }
    const apiSent = [...sent].filter(([t]) => t.startsWith('/api/')).reduce((a, [, n]) => a + n, 0);
    const allSent = [...sent.values()].reduce((a, n) => a + n, 0);
    // The counters settle within a poll or two.
    const settled = await page.waitForFunction(([api, all]) => {
      const text = (selector) => (document.querySelector(selector) || {}).textContent || '';
      const number = (selector) => Number(text(selector).replace(/,/g, ''));
      return number('tr[data-route="api"] [data-field="requests"]') === api && number('#stat-requests') === all;
    }, [apiSent, allSent], { timeout: 8000 }).then(() => true, () => false);
    const shown = await page.evaluate(() => ({
      rps: document.getElementById('stat-rps').textContent,
      hit: document.getElementById('stat-hit').textContent,
      p99: document.getElementById('stat-p99').textContent,
      rpsPoints: Number(document.getElementById('chart-rps').dataset.points),
      hitPoints: Number(document.getElementById('chart-hit').dataset.points),
      latencyPoints: Number(document.getElementById('chart-latency').dataset.points),
      apiRequests: document.querySelector('tr[data-route="api"] [data-field="requests"]').textContent,
      apiHit: document.querySelector('tr[data-route="api"] [data-field="hit"]').textContent,
      apiP99: document.querySelector('tr[data-route="api"] [data-field="p99"]').textContent,
      total: document.getElementById('stat-requests').textContent,
    }));
    check(settled, `the route table and total count every request (api ${apiSent}, all ${allSent})`, JSON.stringify(shown));
    check(shown.rpsPoints >= 3 && shown.hitPoints >= 2 && shown.latencyPoints >= 2,
          'the charts drew the traffic (requests/s, hit ratio, latency points)', JSON.stringify(shown));
    check(/%$/.test(shown.apiHit) && parseFloat(shown.apiHit) > 0, `the api route shows its hit ratio (${shown.apiHit})`);
    check(/(µs|ms|s)$/.test(shown.apiP99), `the api route shows its p99 (${shown.apiP99})`);
    const after = await page.evaluate(() => document.getElementById('chart-rps').toDataURL());
    check(after !== before, 'the requests/s chart changed on screen');

    // A screenshot with data on the charts, taken while traffic flows so the "now" figures show.
    let flowing = true;
    const background = (async () => {
      while (flowing) {
        await traffic(publicPort, targets, 30, 2);
        await sleep(100);
      }
    })();
    const live = await page.waitForFunction(() => parseFloat(document.getElementById('stat-rps').textContent) > 0 &&
                                                  /µs|ms/.test(document.getElementById('stat-p99').textContent),
                                            null, { timeout: 3 * POLL_MS + 2000 }).then(() => true, () => false);
    check(live, 'under traffic the cards show requests/s and p99',
          await page.evaluate(() => document.querySelector('.cards').textContent.replace(/\s+/g, ' ')));
    fs.mkdirSync(outDir, { recursive: true });
    const shot = path.join(outDir, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    flowing = false;
    await background;
    check(fs.statSync(shot).size > 10_000, `screenshot saved: ${shot}`);

    // The cache toggle: refused without the token, shown as such.
    const toggle = 'tr[data-route="api"] button[data-action="toggle"]';
    check(await page.getAttribute(toggle, 'aria-checked') === 'true', 'the api cache shows on');
    await page.click(toggle);
    await page.waitForSelector('#notice[data-kind="error"]');
    const refused = await page.textContent('#notice');
    check(/token/.test(refused) && /401/.test(refused), `without the token the toggle is refused (${refused})`);
    let routes = await admin(adminPort, '/api/cache/routes');
    check(routes.routes.find((r) => r.name === 'api').enabled === true, 'the cache stays on after the refusal');

    // With the token: off, and the next request bypasses the cache.
    await page.fill('#token', TOKEN);
    await page.click('#token-form button[type="submit"]');
    check(await page.textContent('#token-state') === 'token set for this tab', 'the token is kept for the tab');
    await page.click(toggle);
    await page.waitForSelector(`${toggle}[aria-checked="false"]`);
    let response = await get(publicPort, '/api/small');
    check(response.headers.get('x-cache') === 'BYPASS', `after the toggle the next request is X-Cache: ${response.headers.get('x-cache')}`);
    routes = await admin(adminPort, '/api/cache/routes');
    const api = routes.routes.find((r) => r.name === 'api');
    check(api.enabled === false && api.overridden === true, 'the admin API agrees: api cache off (overridden)');

    // Back to the config: cached again (the earlier response is still fresh).
    await page.click('tr[data-route="api"] button[data-action="follow-config"]');
    await page.waitForSelector(`${toggle}[aria-checked="true"]`);
    check(await page.$('tr[data-route="api"] button[data-action="follow-config"]') === null,
          'following the config again removes the override');
    response = await get(publicPort, '/api/small');
    check(response.headers.get('x-cache') === 'HIT', `then the next request is X-Cache: ${response.headers.get('x-cache')}`);

    // Clear the route's cache (confirmed in a dialog): the next request is a miss.
    page.once('dialog', (dialog) => dialog.accept());
    await page.click('tr[data-route="api"] button[data-action="clear"]');
    await page.waitForFunction(() => /cache of api cleared \(\d+ removed\)/.test(document.getElementById('notice').textContent));
    const cleared = await page.textContent('#notice');
    check(/\((?:[1-9]\d*) removed\)/.test(cleared), `clear reports what it removed (${cleared})`);
    response = await get(publicPort, '/api/small');
    check(response.headers.get('x-cache') === 'MISS', `after the clear the next request is X-Cache: ${response.headers.get('x-cache')}`);

    // The gateway restarts: "disconnected", then live again on the same admin port.
    const ended = await stop(gateway.child);
    check(ended === 'exit 0', `the gateway stops cleanly on SIGTERM (${ended})`, gateway.stderr());
    const down = await page.waitForSelector('#connection[data-state="disconnected"]', { timeout: 3 * POLL_MS + 2000 })
      .then(() => true, () => false);
    check(down, 'with the gateway gone the page shows disconnected');
    check(await page.textContent('#connection') === 'disconnected', 'the badge reads "disconnected"');
    gateway = await start(perfgateBin, ['--config', config, '--admin', `127.0.0.1:${adminPort}`], ready, 'perfgate (restarted)');
    publicPort = Number(gateway.match[1]);
    const back = await page.waitForSelector('#connection[data-state="live"]', { timeout: 3 * POLL_MS + 2000 })
      .then(() => true, () => false);
    check(back, 'after the restart the page reconnects (live)');
    await traffic(publicPort, ['/api/small'], 5, 1);
    const fresh = await page.waitForFunction(() => document.getElementById('stat-requests').textContent === '5',
                                             null, { timeout: 3 * POLL_MS }).then(() => true, () => false);
    check(fresh, 'and shows the new process\'s counters (5 requests)',
          await page.textContent('#stat-requests'));
    check(await page.textContent('#token-state') === 'token set for this tab', 'the token survives the restart');

    check(problems.length === 0, 'no script errors or CSP violations in the page', problems.join('; '));
    check(elsewhere.length === 0, 'the page fetched nothing from another origin', elsewhere.join(', '));
  } finally {
    await browser.close();
    await stop(gateway.child);
    await stop(backend.child);
  }
}

const deadline = setTimeout(() => {
  console.log(`FAIL the check did not finish within ${DEADLINE_MS / 1000} s`);
  killAll();
  process.exit(1);
}, DEADLINE_MS);

main().then(() => {
  clearTimeout(deadline);
  console.log(`${passed} passed, ${failures} failed`);
  process.exit(failures === 0 ? 0 : 1);
}, (error) => {
  clearTimeout(deadline);
  console.log(`FAIL ${error.stack || error}`);
  killAll();
  process.exit(1);
});
