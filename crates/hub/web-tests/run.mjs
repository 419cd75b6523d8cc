// The hub's dashboard and annual report in Debian's headless Chromium,
// driven by playwright-core: log in, filter, see a chart, take screenshots,
// print the report to PDF, and run axe-core on both pages.
//
// usage: node run.mjs BASE_URL ACCOUNT PASSWORD SCREENSHOT_DIR
// Prints one line per check; exits non-zero on the first failure.
import { chromium } from 'playwright-core';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';

const [base, account, password, shots] = process.argv.slice(2);
if (!shots) {
  console.error('usage: node run.mjs BASE_URL ACCOUNT PASSWORD SCREENSHOT_DIR');
  process.exit(2);
}
const require = createRequire(import.meta.url);
const axeSource = readFileSync(join(dirname(require.resolve('axe-core')), 'axe.min.js'), 'utf8');
const profile = mkdtempSync(join(tmpdir(), 'dps-hub-chromium-'));

function check(cond, what) {
  if (!cond) throw new Error(`FAILED: ${what}`);
  console.log(`ok: ${what}`);
}

async function axe(page, what) {
  // The hub's CSP forbids every script; the test context bypasses it to
  // inject axe-core (the pages themselves never run a script).
  await page.addScriptTag({ content: axeSource });
  const r = await page.evaluate(async () => await window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  for (const v of r.violations) {
    console.log(`axe ${what}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map(n => n.target.join(' ')).join(', ')}`);
  }
  check(r.violations.length === 0, `axe-core: 0 violations on the ${what} (${r.passes.length} rules passed)`);
}

const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  bypassCSP: true,
  viewport: { width: 1280, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let code = 0;
try {
  const page = browser.pages()[0] ?? await browser.newPage();
  const resp = await page.goto(`${base}/dashboard?lang=en`);
  check(page.url().startsWith(`${base}/login`), 'the dashboard sends a stranger to the login form');
  check(resp.headers()['content-security-policy']?.includes("default-src 'none'"), 'pages carry the strict CSP');
  await page.fill('#name', account);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(/\/dashboard/), page.click('button[type=submit]')]);
  check(await page.locator('h1').innerText() === 'Visits dashboard', 'logged in: the dashboard');
  const chart = page.locator('svg.chart').first();
  check(await chart.isVisible(), 'a chart is visible');
  const box = await chart.boundingBox();
  check(box && box.width > 300 && box.height > 100, `the chart has a readable size (${Math.round(box?.width)}×${Math.round(box?.height)})`);
  const bars = await page.locator('svg.chart rect.bar').count();
  check(bars > 10, `the charts draw bars (${bars})`);
  const before = await page.locator('p.total strong').innerText();
  await page.selectOption('#f-outcome', 'done');
  await Promise.all([page.waitForURL(/outcome=done/), page.click('form.filters button')]);
  const after = await page.locator('p.total strong').innerText();
  check(page.url().includes('outcome=done') && Number(after) < Number(before),
    `the filter is in the URL and narrows the total (${before} → ${after})`);
  await page.click('nav.langs a[lang=nl]');
  check(page.url().includes('outcome=done') && page.url().includes('lang=nl'), 'the language switch keeps the filters');
  check((await page.locator('h1').innerText()) === 'Dashboard van de bezoeken', 'the dashboard in Dutch');
  for (const f of ['#f-age_band', '#f-language', '#f-channel']) {
    check(await page.locator(f).isVisible(), `the ${f.slice(3)} filter is there`);
  }
  await page.goto(`${base}/dashboard?lang=en`);
  await page.screenshot({ path: join(shots, 'hub-dashboard.png'), fullPage: false });
  console.log(`screenshot: ${join(shots, 'hub-dashboard.png')}`);
  await axe(page, 'dashboard');
  // The data tables behind the charts, opened as a reader would.
  const summaries = page.locator('details > summary');
  const n = await summaries.count();
  for (let i = 0; i < n; i++) await summaries.nth(i).click();
  const open = await page.locator('details[open] table').count();
  check(n >= 8 && open === n, `the ${n} data tables open`);
  await axe(page, 'dashboard with its data tables open');
  for (const [lang, title] of [['fr', 'Tableau de bord des visites'], ['nl', 'Dashboard van de bezoeken']]) {
    await page.goto(`${base}/dashboard?lang=${lang}`);
    check((await page.locator('h1').innerText()) === title, `the dashboard in ${lang}`);
    await axe(page, `${lang} dashboard`);
  }
  await page.goto(`${base}/dashboard?lang=en`);

  const link = page.locator('ul.reports a').first();
  const href = await link.getAttribute('href');
  await page.goto(`${base}${href.replaceAll('&amp;', '&')}`);
  check((await page.locator('h1').innerText()).startsWith('Annual report'), 'the annual report page opens');
  await page.screenshot({ path: join(shots, 'hub-report.png'), fullPage: true });
  console.log(`screenshot: ${join(shots, 'hub-report.png')}`);
  await axe(page, 'annual report');
  const pdf = await page.pdf({ format: 'A4', printBackground: true });
  check(pdf.length > 1000 && pdf.subarray(0, 5).toString() === '%PDF-', `the report prints to PDF (${pdf.length} bytes)`);
} catch (e) {
  console.error(String(e.stack || e));
  code = 1;
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
