// The login and consent pages in every language Alexa speaks, and the
// skill's branding, in headless Chromium on a 360 px wide phone.
//
// One server (the release config path, not --dev) with two clients: `plain`
// (the built-in look) and `branded` (its own name, logo, color and style
// sheet over the server's branding), and a server-wide template override
// directory that replaces the error page. For every locale: the login page
// (a fresh browser context, Accept-Language set), then the consent page (a
// signed-in context); each asserted on its translated title, `<html lang>`
// and `dir` (rtl for Arabic), no horizontal overflow, and kept as a
// screenshot under BROWSER_ARTIFACTS/i18n/.
//
// Env: ALEXA_LINK_SERVER_BIN, CHROMIUM, BROWSER_ARTIFACTS (see run.sh);
// SCREENSHOTS_DIR: also write the README's screenshots there.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, SERVER_BIN, WAIT_MS, b64url, freePort } from './lib.mjs';

const ARTIFACTS = path.join(path.resolve(process.env.BROWSER_ARTIFACTS || os.tmpdir()), 'i18n');
const SCREENSHOTS = process.env.SCREENSHOTS_DIR ? path.resolve(process.env.SCREENSHOTS_DIR) : null;

// The smallest phone the pages must fit: 360 x 740 CSS pixels.
const PHONE = {
  viewport: { width: 360, height: 740 },
  deviceScaleFactor: 1,
  isMobile: true,
  hasTouch: true,
};

const PASSWORD = 'i18n-test-pw';
const SECRET = 'i18n-test-secret-0123456789';
const BRAND_COLOR = '#c2410c';

// Every locale, with the login and consent page titles the translators
// wrote (server/locales/*/main.ftl): a page in English where German was
// asked for fails here, not in a user's hand.
const LOCALES = [
  ['en-US', 'Sign in', 'Allow access'],
  ['en-GB', 'Sign in', 'Allow access'],
  ['en-IN', 'Sign in', 'Allow access'],
  ['en-CA', 'Sign in', 'Allow access'],
  ['en-AU', 'Sign in', 'Allow access'],
  ['de-DE', 'Anmelden', 'Zugriff erlauben'],
  ['fr-FR', 'Connexion', 'Autoriser l’accès'],
  ['fr-CA', 'Connexion', 'Autoriser l’accès'],
  ['es-ES', 'Iniciar sesión', 'Permitir acceso'],
  ['es-MX', 'Iniciar sesión', 'Permitir acceso'],
  ['es-US', 'Iniciar sesión', 'Permitir acceso'],
  ['it-IT', 'Accedi', 'Consenti l’accesso'],
  ['ja-JP', 'サインイン', 'アクセスの許可'],
  ['pt-BR', 'Entrar', 'Permitir acesso'],
  ['hi-IN', 'साइन इन करें', 'ऐक्सेस की अनुमति दें'],
  ['ar-SA', 'تسجيل الدخول', 'السماح بالوصول'],
];
// One screenshot per language group for the README.
const README_SHOTS = { 'en-US': 'en', 'de-DE': 'de', 'fr-FR': 'fr', 'es-ES': 'es', 'it-IT': 'it',
  'ja-JP': 'ja', 'pt-BR': 'pt-BR', 'hi-IN': 'hi', 'ar-SA': 'ar' };

/** Writes the branded config and starts the server on it. */
async function startServer(dir, redirectUri) {
  const [port, admin] = [await freePort(), await freePort()];
  const file = (name, data) => { writeFileSync(path.join(dir, name), data); return path.join(dir, name); };
  const hashed = spawnSync(SERVER_BIN, ['hash-password'], { input: PASSWORD });
  assert.equal(hashed.status, 0, String(hashed.stderr));
  mkdirSync(path.join(dir, 'templates'));
  // A template override: the error page, with the context it documents.
  file('templates/error.html', `{% extends "layout.html" %}
{% block title %}{{ t("error-page-title") }}{% endblock %}
{% block content %}<h1 id="custom-error">{{ title }}</h1><p>{{ message }}</p>
<p id="custom-context">{{ lang }}|{{ dir }}</p>{% endblock %}`);
  const client = (id, extra = {}) => ({
    clientId: id, clientSecretFile: file(`${id}.secret`, SECRET), displayName: id === 'plain' ? 'Smart Lights' : 'Acme Lights',
    redirectUris: [redirectUri], scopes: ['profile'], ...extra,
  });
  const config = {
    server: {
      listen: `127.0.0.1:${port}`, adminListen: `127.0.0.1:${admin}`, publicUrl: `http://127.0.0.1:${port}`,
      sessionKeyFile: file('session.key', randomBytes(48)),
    },
    branding: {
      privacyUrl: 'https://example.com/privacy',
      templatesDir: path.join(dir, 'templates'),
    },
    clients: [
      client('plain'),
      client('branded', { branding: {
        productName: 'Acme Home',
        logo: file('logo.svg', '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="32">' +
          `<rect width="96" height="32" rx="6" fill="${BRAND_COLOR}"/></svg>`),
        primaryColor: BRAND_COLOR,
        extraCssFile: file('extra.css', 'h1 { letter-spacing: 1px; }'),
        supportUrl: 'https://example.com/help',
      } }),
    ],
    identity: { static: { users: [{ username: 'ana', passwordHash: String(hashed.stdout).trim(), displayName: 'Ana' }] } },
    store: { embedded: { path: path.join(dir, 'store.redb') } },
  };
  const child = spawn(SERVER_BIN, ['--config', file('config.yaml', JSON.stringify(config, null, 2))], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let logs = '';
  child.stderr.on('data', (c) => { logs += c; });
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${logs}`);
    try {
      if ((await fetch(`http://127.0.0.1:${admin}/readyz`)).ok) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`server not ready: ${logs}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, base: `http://127.0.0.1:${port}` };
}

describe('every language and the branding, on a 360 px phone', { timeout: 180_000 }, () => {
  let browser;
  let server;
  let target;
  let dir;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
    dir = mkdtempSync(path.join(os.tmpdir(), 'alexa-link-i18n-'));
    // The client's redirect URI: a loopback page (nothing leaves the machine).
    target = http.createServer((req, res) => { res.writeHead(200); res.end('linked'); });
    await new Promise((r) => target.listen(0, '127.0.0.1', r));
    server = await startServer(dir, `http://127.0.0.1:${target.address().port}/cb`);
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
    });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (server && server.child.exitCode === null) server.child.kill('SIGTERM');
    target?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function authorizeUrl(clientId, extra = {}) {
    const url = new URL('/oauth/authorize', server.base);
    url.search = new URLSearchParams({
      response_type: 'code', client_id: clientId, redirect_uri: `http://127.0.0.1:${target.address().port}/cb`,
      scope: 'profile', state: b64url(randomBytes(9)),
      code_challenge: b64url(createHash('sha256').update(b64url(randomBytes(32))).digest()),
      code_challenge_method: 'S256', ...extra,
    });
    return url.href;
  }

  async function newPage() {
    const context = await browser.newContext(PHONE);
    context.setDefaultTimeout(WAIT_MS);
    return { context, page: await context.newPage() };
  }

  async function signIn(page) {
    await page.locator('#username').fill('ana');
    await page.locator('#password').fill(PASSWORD);
    await Promise.all([page.waitForNavigation(), page.locator('button[type=submit]').click()]);
  }

  /** Title, lang, dir and width: what a user in `tag` would notice. */
  async function assertPage(page, tag, title, what) {
    const m = await page.evaluate(() => ({
      title: document.title,
      h1: document.querySelector('h1')?.textContent ?? '',
      lang: document.documentElement.lang,
      dir: document.documentElement.dir,
      computedDir: getComputedStyle(document.body).direction,
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
      // The heading starts at the reading side: right in Arabic.
      align: (() => {
        const h = document.querySelector('h1');
        const r = h.getBoundingClientRect();
        const range = document.createRange();
        range.selectNodeContents(h);
        const t = range.getBoundingClientRect();
        return { gapLeft: t.left - r.left, gapRight: r.right - t.right };
      })(),
    }));
    const rtl = tag.startsWith('ar');
    assert.equal(m.title, title, `${tag} ${what}: translated title`);
    assert.equal(m.lang, tag, `${tag} ${what}: <html lang>`);
    assert.equal(m.dir, rtl ? 'rtl' : 'ltr', `${tag} ${what}: <html dir>`);
    assert.equal(m.computedDir, rtl ? 'rtl' : 'ltr', `${tag} ${what}: layout direction`);
    assert.ok(m.scrollWidth <= m.clientWidth, `${tag} ${what}: overflows 360 px (${m.scrollWidth} > ${m.clientWidth})`);
    assert.equal(m.clientWidth, 360, 'the phone viewport');
    if (rtl) assert.ok(m.align.gapRight < m.align.gapLeft, `${tag} ${what}: text starts on the right`);
    const name = `${what}-${tag}.png`;
    await page.screenshot({ path: path.join(ARTIFACTS, name) });
    if (SCREENSHOTS && what === 'login' && README_SHOTS[tag]) {
      copyFileSync(path.join(ARTIFACTS, name), path.join(SCREENSHOTS, `login-${README_SHOTS[tag]}.png`));
    }
  }

  test('login and consent in every language, from Accept-Language', async () => {
    const anonymous = await newPage();
    const signedIn = await newPage();
    try {
      await signedIn.page.goto(authorizeUrl('plain'));
      await signIn(signedIn.page);
      for (const [tag, loginTitle, consentTitle] of LOCALES) {
        for (const { page } of [anonymous, signedIn]) {
          await page.setExtraHTTPHeaders({ 'Accept-Language': `${tag},en;q=0.5` });
        }
        const r = await anonymous.page.goto(authorizeUrl('plain'));
        assert.equal(r.status(), 200);
        await assertPage(anonymous.page, tag, loginTitle, 'login');
        await signedIn.page.goto(authorizeUrl('plain'));
        await assertPage(signedIn.page, tag, consentTitle, 'consent');
        // The consent buttons are translated too (not just the title).
        const allow = await signedIn.page.locator('button[value=allow]').textContent();
        if (!tag.startsWith('en')) assert.notEqual(allow.trim(), 'Allow', `${tag}: the Allow button`);
      }
    } finally {
      await anonymous.context.close();
      await signedIn.context.close();
    }
  });

  test('ui_locales beats Accept-Language and holds through the login', async () => {
    const { context, page } = await newPage();
    try {
      await page.setExtraHTTPHeaders({ 'Accept-Language': 'de-DE' });
      await page.goto(authorizeUrl('plain', { ui_locales: 'ja-JP de' }));
      await assertPage(page, 'ja-JP', 'サインイン', 'login-ui_locales');
      await signIn(page);
      await assertPage(page, 'ja-JP', 'アクセスの許可', 'consent-ui_locales');
      // A wrong password is reported in the chosen language too.
      await context.clearCookies();
      await page.goto(authorizeUrl('plain', { ui_locales: 'ar' }));
      await page.locator('#username').fill('ana');
      await page.locator('#password').fill('wrong');
      await Promise.all([page.waitForNavigation(), page.locator('button[type=submit]').click()]);
      assert.equal((await page.getByRole('alert').textContent()).trim(), 'اسم المستخدم أو كلمة المرور غير صحيحة.');
    } finally {
      await context.close();
    }
  });

  test('a client\'s branding: name, logo, color, style sheet and links', async () => {
    const { context, page } = await newPage();
    const failed = [];
    page.on('requestfailed', (r) => failed.push(r.url()));
    page.on('console', (m) => { if (m.type() === 'error') failed.push(m.text()); });
    try {
      await page.goto(authorizeUrl('branded'));
      assert.equal(await page.title(), 'Sign in · Acme Home');
      assert.equal((await page.locator('header.brand .product').textContent()).trim(), 'Acme Home');
      const logo = await page.locator('header.brand img.logo').evaluate((img) => ({
        loaded: img.complete && img.naturalWidth > 0, src: img.src.slice(0, 26),
      }));
      assert.deepEqual(logo, { loaded: true, src: 'data:image/svg+xml;base64,' }, 'the logo is inline and loads');
      const styles = await page.evaluate(() => ({
        button: getComputedStyle(document.querySelector('button[type=submit]')).backgroundColor,
        h1: getComputedStyle(document.querySelector('h1')).letterSpacing,
      }));
      assert.equal(styles.button, 'rgb(194, 65, 12)', 'the primary color on the button');
      assert.equal(styles.h1, '1px', 'the extra style sheet, served from this origin under the CSP');
      const links = await page.locator('footer a').evaluateAll((as) => as.map((a) => a.href));
      assert.deepEqual(links, ['https://example.com/help', 'https://example.com/privacy'], 'support (client), privacy (server)');
      assert.deepEqual(failed, [], 'nothing blocked by the CSP or failed to load');
      await page.screenshot({ path: path.join(ARTIFACTS, 'login-branded.png') });
      if (SCREENSHOTS) copyFileSync(path.join(ARTIFACTS, 'login-branded.png'), path.join(SCREENSHOTS, 'login-branded.png'));
      // The plain client keeps the built-in look.
      await page.goto(authorizeUrl('plain'));
      assert.equal(await page.title(), 'Sign in');
      assert.equal(await page.locator('header.brand').count(), 0);
      const button = await page.locator('button[type=submit]').evaluate((b) => getComputedStyle(b).backgroundColor);
      assert.equal(button, 'rgb(10, 102, 194)');
    } finally {
      await context.close();
    }
  });

  test('the template override directory replaces the error page', async () => {
    const { context, page } = await newPage();
    try {
      await page.setExtraHTTPHeaders({ 'Accept-Language': 'fr-FR' });
      const r = await page.goto(authorizeUrl('nobody'));
      assert.equal(r.status(), 400);
      assert.equal((await page.locator('#custom-error').textContent()).trim(), 'Cette demande d’association n’est pas valide');
      assert.equal((await page.locator('#custom-context').textContent()).trim(), 'fr-FR|ltr');
    } finally {
      await context.close();
    }
  });
});
