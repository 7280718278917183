// The gallery in a real browser: Debian's chromium (headless) driven by
// playwright-core. Usage (run.sh): node gallery.test.mjs PLAYWRIGHT-CORE-INDEX.mjs
// with GALLERY_BASE (http://127.0.0.1:PORT) and GALLERY_ARTIFACTS (screenshots).
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const { chromium } = await import(pathToFileURL(process.argv[2]).href);
const BASE = process.env.GALLERY_BASE;
const ART = process.env.GALLERY_ARTIFACTS;
const HOST = new URL(BASE).host;
let n = 0, failed = 0;

function ok(cond, name, detail) {
  n++;
  if (cond) {
    console.log(`ok ${n} - ${name}`);
  } else {
    failed++;
    console.log(`not ok ${n} - ${name}${detail !== undefined ? ': ' + JSON.stringify(detail) : ''}`);
  }
}

async function shot(page, name) {
  const file = path.join(ART, name);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`# screenshot: ${file}`);
}

// every page: no dialog, no CSP violation, no page error
function watch(page, problems) {
  page.on('dialog', async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // the 404s this test asks for (and /favicon.ico) are expected; anything else, CSP reports included, is not
    if (m.type() === 'error' && !/status of 404/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
}

const noHScroll = (page) => page.evaluate(() =>
  document.documentElement.scrollWidth <= document.documentElement.clientWidth);

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const problems = [];
  // --- desktop, JavaScript on ---
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  const page = await ctx.newPage();
  watch(page, problems);
  let resp = await page.goto(`${BASE}/gallery/`);
  ok(resp.status() === 200, 'list page answers 200');
  const csp = resp.headers()['content-security-policy'] || '';
  ok(csp.includes("default-src 'none'") && csp.includes("script-src 'self'"), 'list page has the CSP', csp);
  const cards = await page.locator('li.card h2 a').allTextContents();
  ok(cards.includes('acme/tools') && cards.includes('acme/webapp'), 'both public repositories listed', cards);
  ok(await page.locator('li.card img.logo').count() === 2, 'both logos shown');
  const logoOk = await page.evaluate(() => [...document.querySelectorAll('img.logo')].every((i) => i.complete && i.naturalWidth > 0));
  ok(logoOk, 'logos load (PNG from /gallery/logo/)');
  await shot(page, 'list-desktop.png');

  // search as you type
  await page.locator('#q').pressSequentially('build tools');
  await page.waitForTimeout(100);
  const visible = await page.locator('li.card:visible h2 a').allTextContents();
  ok(visible.length === 1 && visible[0] === 'acme/tools', 'typing filters the list (JavaScript)', visible);
  await page.locator('#q').fill('');
  await page.locator('#q').pressSequentially('zzz-nothing');
  ok(await page.locator('#none').isVisible(), 'no match says so');
  // the form submits to the server too
  await page.locator('#q').fill('WEBAPP');
  await Promise.all([page.waitForURL(/\?q=WEBAPP/), page.locator('#q').press('Enter')]);
  const found = await page.locator('li.card h2 a').allTextContents();
  ok(found.length === 1 && found[0] === 'acme/webapp', 'search form (server-side, case-insensitive)', found);

  // repository page
  resp = await page.goto(`${BASE}/gallery/r/acme/tools`);
  ok(resp.status() === 200, 'repository page answers 200');
  const tags = await page.locator('table.tags td.tag').allTextContents();
  ok(tags.includes('1.0') && tags.includes('latest'), 'tags table lists the tags', tags);
  const plat = await page.locator('table.tags tr', { hasText: 'latest' }).locator('.chip').allTextContents();
  ok(plat.includes('linux/amd64'), 'platform from the image config', plat);
  const findings = await page.locator('table.findings td:first-child').allTextContents();
  ok(findings.includes('CVE-2099-1111') && findings.includes('CVE-2099-2222'), 'scan findings shown', findings);
  const sevText = await page.locator('ul.sev').innerText();
  ok(/CRITICAL: 2/.test(sevText) && /LOW: 1/.test(sevText) && /HIGH: 0/.test(sevText), 'severity counts', sevText);
  ok((await page.locator('#lifecycle pre').innerText()).includes('"rulePriority": 1'), 'lifecycle policy, pretty JSON');
  ok(await page.locator('#about table').count() === 1, 'Markdown table in the about text');
  const row = page.locator('table.tags tr', { hasText: 'latest' });
  const cmd = await row.locator('input.pullcmd').inputValue();
  ok(cmd === `docker pull ${HOST}/acme/tools:latest`, 'pull command exactly right', cmd);
  ok(await row.locator('input.pullcmd').getAttribute('readonly') !== null, 'pull command is read-only');
  await row.locator('button.copy').click();
  const copied = await row.locator('button.copy').getAttribute('data-copied');
  let clip = null;
  try { clip = await page.evaluate(() => navigator.clipboard.readText()); } catch (e) { clip = `(${e.message})`; }
  ok(copied === cmd && (clip === cmd || clip.startsWith('(')), 'copy button copies the pull command', { copied, clip });
  ok(clip === cmd, 'clipboard holds the pull command', clip);
  await shot(page, 'repository-desktop.png');

  // hostile catalog data
  resp = await page.goto(`${BASE}/gallery/r/acme/webapp`);
  ok(resp.status() === 200, 'webapp page answers 200');
  await page.waitForTimeout(300);
  const scripts = await page.evaluate(() => [...document.scripts].map((s) => s.getAttribute('src')));
  ok(scripts.length === 1 && scripts[0] === '/gallery/static/gallery.js', 'no script element from catalog data', scripts);
  ok(await page.locator('a[href^="javascript" i]').count() === 0, 'javascript: link not rendered as a link');
  ok(await page.locator('#about a', { hasText: 'click me' }).count() === 0 &&
     (await page.locator('#about').innerText()).includes('click me'), 'its text stays as text');
  ok(await page.locator('#about a[href="https://example.com/"]').count() === 1, 'the safe link is a link');
  ok((await page.locator('#about').innerText()).includes("<script>alert('xss')</script>"), 'script payload shown as text');
  ok(await page.locator('img[src="x"]').count() === 0, 'no img from catalog data');
  ok((await page.locator('.repohead .desc').innerText()).includes("<script>alert('desc')</script>"), 'description escaped');

  // private repositories: not there without a login
  resp = await page.goto(`${BASE}/gallery/p/anything`);
  ok(resp.status() === 404, 'private page without login: 404');
  resp = await page.goto(`${BASE}/gallery/no-such-page`);
  ok(resp.status() === 404 && (await page.locator('h1').innerText()) === 'Not found', '404 page');

  // --- phone ---
  const phone = await browser.newContext({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true,
    deviceScaleFactor: 2 });
  const pp = await phone.newPage();
  watch(pp, problems);
  await pp.goto(`${BASE}/gallery/`);
  ok(await noHScroll(pp), 'phone: list has no horizontal scroll');
  await shot(pp, 'list-phone.png');
  await pp.goto(`${BASE}/gallery/r/acme/tools`);
  ok(await noHScroll(pp), 'phone: repository page has no horizontal scroll');
  await shot(pp, 'repository-phone.png');
  await phone.close();

  // --- JavaScript off ---
  const nojs = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
  const np = await nojs.newPage();
  watch(np, problems);
  await np.goto(`${BASE}/gallery/`);
  ok((await np.locator('li.card h2 a').allTextContents()).length === 2, 'no JavaScript: list shown');
  await np.locator('#q').fill('tools');
  await Promise.all([np.waitForURL(/\?q=tools/), np.locator('#q').press('Enter')]);
  const njFound = await np.locator('li.card h2 a').allTextContents();
  ok(njFound.length === 1 && njFound[0] === 'acme/tools', 'no JavaScript: search form works', njFound);
  await np.locator('li.card h2 a').click();
  await np.waitForURL(/\/gallery\/r\/acme\/tools$/);
  ok((await np.locator('table.tags td.tag').allTextContents()).includes('latest'), 'no JavaScript: repository page shown');
  ok(await np.locator('input.pullcmd').first().isVisible(), 'no JavaScript: pull command visible');
  await nojs.close();
  await ctx.close();

  ok(problems.length === 0, 'no dialog, page error or console error (CSP violations included)', problems);
} finally {
  await browser.close();
}
console.log(`1..${n}`);
console.log(`${n - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
