// Real-browser end-to-end test of the account-linking pages.
//
// Starts the demo server (`alexa-link-server --dev`) on loopback, drives
// Debian's chromium (through playwright-core, which never downloads a
// browser) with a phone-sized viewport through the login and consent pages,
// and redeems the code the way Alexa would. The Amazon redirect hosts are
// intercepted inside the browser, so nothing leaves the machine.
//
// Run: ./run.sh (or `node --test --test-reporter=spec linking.test.mjs`
// once `npm ci` has run and the server is built).
// Env: ALEXA_LINK_SERVER_BIN (server binary), CHROMIUM (browser binary),
//      BROWSER_ARTIFACTS (where screenshots go; default: the temp dir).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, SERVER_BIN, WAIT_MS, b64url, withTimeout } from './lib.mjs';

const ARTIFACTS = path.resolve(process.env.BROWSER_ARTIFACTS || os.tmpdir());

/** Upper bound of one test or hook, so the run can never hang. */
const TEST_MS = 60_000;

/** Hosts of the three regional Alexa redirect URIs (not reachable here). */
const AMAZON_HOSTS = ['pitangui.amazon.com', 'layla.amazon.com', 'alexa.amazon.co.jp'];

// An iPhone-12/13/14-sized screen; the UA is Chrome on Android since the
// engine really is Chromium.
const PHONE = {
  viewport: { width: 390, height: 844 },
  screen: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  userAgent:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 ' +
    '(KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36',
  locale: 'en-US',
};

const DEMO_PASSWORD = 'password';

// ---------------------------------------------------------------- helpers

/** A fresh PKCE pair and state for one authorization request. */
function newRequest() {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const state = b64url(randomBytes(12));
  return { verifier, challenge, state };
}

/**
 * Starts the demo server and resolves with what its banner says, once its
 * admin readiness endpoint answers.
 */
async function startServer() {
  if (!existsSync(SERVER_BIN)) {
    throw new Error(
      `server binary not found at ${SERVER_BIN}: build it with ` +
        '`cargo build -p alexa-link-server` or set ALEXA_LINK_SERVER_BIN',
    );
  }
  const child = spawn(SERVER_BIN, ['--dev', '--port', '0', '--admin-listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  // Always drain both pipes so the server never blocks on a full pipe; keep
  // the whole output in a file next to the screenshots, and the last of it
  // for error messages.
  const logFile = path.join(ARTIFACTS, 'alexa-link-server.log');
  const logStream = createWriteStream(logFile);
  const logs = [];
  const keep = (chunk) => {
    logStream.write(chunk);
    logs.push(chunk.toString());
    if (logs.length > 200) logs.shift();
  };
  child.stderr.on('data', keep);
  child.once('exit', () => logStream.end());
  const server = { child, logFile };

  let stdout = '';
  const banner = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      reject(new Error(`server exited early (code ${code}, signal ${signal}):\n${stdout}\n${logs.join('')}`)),
    );
    child.stdout.on('data', (chunk) => {
      keep(chunk);
      stdout += chunk.toString();
      const info = parseBanner(stdout);
      if (info) resolve(info);
    });
  });
  try {
    Object.assign(server, await withTimeout(banner, WAIT_MS, 'server banner'));
    await withTimeout(waitReady(server.readyUrl), WAIT_MS, `server readiness at ${server.readyUrl}`);
  } catch (e) {
    await stopServer(server);
    throw e;
  }
  return server;
}

/** What the test needs from the banner, once all of it has been printed. */
function parseBanner(text) {
  const lines = text.split('\n');
  const authorizeLine = lines.findIndex((l) => /Authorization URI:/.test(l));
  // The banner ends with a rule of '=' after the endpoints.
  const end = lines.findIndex((l, i) => i > authorizeLine && /^=+\s*$/.test(l.trim()));
  if (authorizeLine < 0 || end < 0) return null;
  const body = lines.slice(0, end).join('\n');
  const grab = (re) => body.match(re)?.[1];
  const authorizeUrl = grab(/Authorization URI:\s*(\S+)/);
  const tokenUrl = grab(/Access Token URI:\s*(\S+)/);
  const clientId = grab(/Client ID:\s*(\S+)/);
  const clientSecret = grab(/Client secret:\s*(\S+)/);
  const readyUrl = grab(/Admin:\s*(\S+\/readyz)/);
  const redirectUris = [...body.matchAll(/^\s+(https:\/\/\S+\/api\/skill\/link\/\S+)\s*$/gm)].map((m) => m[1]);
  const missing = Object.entries({ authorizeUrl, tokenUrl, clientId, clientSecret, readyUrl })
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length || redirectUris.length === 0) {
    throw new Error(`could not read ${missing.join(', ') || 'redirect URIs'} from the banner:\n${text}`);
  }
  const base = new URL(authorizeUrl);
  assert.equal(base.hostname, '127.0.0.1', 'the demo server must listen on loopback');
  return { authorizeUrl, tokenUrl, clientId, clientSecret, readyUrl, redirectUris, origin: base.origin };
}

async function waitReady(url) {
  for (;;) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM, then SIGKILL if the server has not stopped within 10 s. */
async function stopServer(server) {
  const { child } = server ?? {};
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  try {
    await withTimeout(exited, 10_000, 'server shutdown');
  } catch {
    child.kill('SIGKILL');
    await withTimeout(exited, 5_000, 'server kill').catch(() => {});
  }
}

// ------------------------------------------------------------------ suite

describe('account linking in a phone browser', { timeout: 5 * TEST_MS }, () => {
  let server;
  let browser;
  /** Contexts opened by tests: each test closes its own, after() any left. */
  const contexts = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServer();
    process.stdout.write(`# server log: ${server.logFile}\n`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: WAIT_MS * 2,
      // Playwright gives the browser its own fresh temporary profile
      // (user-data-dir) and deletes it on close.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // Belt and braces: the browser resolves no name but loopback, so
        // nothing can leave the machine even if interception missed it.
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      ],
    });
  }, { timeout: TEST_MS });

  after(async () => {
    // Each step on its own, so a failure in one still runs the others.
    for (const c of contexts) await c.close().catch(() => {});
    if (browser) await withTimeout(browser.close(), WAIT_MS, 'browser close').catch(() => {});
    await stopServer(server);
  }, { timeout: TEST_MS });

  // Kill the server even if the runner is interrupted.
  process.once('exit', () => server?.child?.kill('SIGKILL'));

  /**
   * A fresh browser context (own cookies) on a phone, with the Amazon
   * redirect hosts answered inside the browser and any other non-loopback
   * request refused and recorded.
   *
   * This uses the DevTools Fetch domain rather than `page.route`: Playwright
   * never hands redirect hops to route handlers ("the handler will only be
   * called for the first url if the response is a redirect"), and the
   * Amazon URL is only ever reached through the server's 302/303.
   */
  async function openPhone(t) {
    const context = await browser.newContext(PHONE);
    contexts.push(context);
    t.after(() => context.close().catch(() => {}));
    context.setDefaultTimeout(WAIT_MS);
    context.setDefaultNavigationTimeout(WAIT_MS);
    const page = await context.newPage();
    const env = { context, page, landed: [], strays: [], problems: [] };

    const cdp = await context.newCDPSession(page);
    cdp.on('Fetch.requestPaused', (e) => {
      interceptRequest(cdp, env, e).catch((err) => env.problems.push(`interception failed: ${err.message}`));
    });
    await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*', requestStage: 'Request' }] });

    page.on('console', (m) => {
      if (m.type() !== 'error' && m.type() !== 'warning') return;
      // Chromium logs a document's own 4xx status as "Failed to load
      // resource"; the tests assert those statuses themselves.
      const ownStatus =
        /^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text()) &&
        m.location().url === page.url();
      if (!ownStatus) env.problems.push(`console ${m.type()}: ${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => env.problems.push(`page error: ${e.message}`));
    return env;
  }

  async function interceptRequest(cdp, env, e) {
    const url = new URL(e.request.url);
    if (url.protocol === 'https:' && AMAZON_HOSTS.includes(url.hostname)) {
      if (e.resourceType !== 'Document') {
        // Only the navigation matters; the stand-in page's `data:` icon
        // keeps Chromium from asking for /favicon.ico, but answer anything
        // else quietly rather than with an error the console would log.
        await cdp.send('Fetch.fulfillRequest', { requestId: e.requestId, responseCode: 204 });
        return;
      }
      env.landed.push(e.request.url);
      const body =
        '<!doctype html><meta name="viewport" content="width=device-width">' +
        '<link rel="icon" href="data:,">' +
        '<title>Alexa</title><p>Linked (stand-in page).</p>';
      await cdp.send('Fetch.fulfillRequest', {
        requestId: e.requestId,
        responseCode: 200,
        responseHeaders: [{ name: 'Content-Type', value: 'text/html; charset=utf-8' }],
        body: Buffer.from(body).toString('base64'),
      });
    } else if (url.hostname === '127.0.0.1' || url.protocol === 'data:' || url.protocol === 'blob:') {
      await cdp.send('Fetch.continueRequest', { requestId: e.requestId });
    } else {
      env.strays.push(e.request.url);
      await cdp.send('Fetch.failRequest', { requestId: e.requestId, errorReason: 'BlockedByClient' });
    }
  }

  function authorizeUrl(pkce, redirectUri = server.redirectUris[0]) {
    const u = new URL(server.authorizeUrl);
    u.search = new URLSearchParams({
      response_type: 'code',
      client_id: server.clientId,
      redirect_uri: redirectUri,
      scope: 'profile',
      state: pkce.state,
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
    }).toString();
    return u.toString();
  }

  async function openLoginPage(page, pkce) {
    const response = await page.goto(authorizeUrl(pkce), { waitUntil: 'load' });
    assert.equal(response.status(), 200, 'the authorize URL shows the login page');
    await page.locator('#username').waitFor({ state: 'visible' });
    await assertPhoneFriendly(page, 'login page');
  }

  /** Submits the login form; resolves with the POST /oauth/login response. */
  async function signIn(page, username, password) {
    await page.locator('#username').fill(username);
    await page.locator('#password').fill(password);
    const posted = page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/oauth/login',
    );
    await page.getByRole('button', { name: 'Sign in' }).click();
    const response = await posted;
    await page.waitForLoadState('load');
    return response;
  }

  /** Clicks Allow or Deny; resolves with the URL the browser landed on. */
  async function decide(page, button) {
    const target = new RegExp(`^https://(${AMAZON_HOSTS.map((h) => h.replaceAll('.', '\\.')).join('|')})/`);
    await Promise.all([page.waitForURL(target), page.getByRole('button', { name: button, exact: true }).click()]);
    return new URL(page.url());
  }

  async function expectConsentPage(page) {
    await page.getByRole('heading', { name: /^Allow .+\?$/ }).waitFor({ state: 'visible' });
    const scopes = await page.locator('ul.scopes li').allTextContents();
    assert.deepEqual(scopes.map((s) => s.trim()), ['profile'], 'the consent page lists the requested scope');
    assert.equal(new URL(page.url()).pathname, '/oauth/authorize', 'login redirected back to /oauth/authorize');
    await assertPhoneFriendly(page, 'consent page');
  }

  /** Layout checks that matter on a phone. */
  async function assertPhoneFriendly(page, what) {
    const viewport = await page.locator('meta[name="viewport"]').getAttribute('content');
    assert.match(viewport ?? '', /width=device-width/, `${what}: viewport meta tag`);
    const m = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      bodyFont: parseFloat(getComputedStyle(document.body).fontSize),
      inputFonts: [...document.querySelectorAll('input:not([type=hidden])')].map((e) =>
        parseFloat(getComputedStyle(e).fontSize),
      ),
      buttons: [...document.querySelectorAll('button')].map((b) => {
        const r = b.getBoundingClientRect();
        return { text: b.textContent.trim(), height: r.height, left: r.left, right: r.right };
      }),
    }));
    assert.ok(m.scrollWidth <= m.innerWidth, `${what}: no horizontal overflow (${m.scrollWidth} > ${m.innerWidth})`);
    assert.ok(m.bodyFont >= 16, `${what}: body text is at least 16px`);
    for (const f of m.inputFonts) {
      // Below 16px, mobile Safari zooms the page when the field is focused.
      assert.ok(f >= 16, `${what}: input font-size ${f}px is at least 16px`);
    }
    for (const b of m.buttons) {
      assert.ok(b.height >= 44, `${what}: button "${b.text}" is ${b.height}px tall, a touch target needs 44px`);
      assert.ok(b.left >= 0 && b.right <= m.innerWidth, `${what}: button "${b.text}" fits the screen`);
    }
  }

  async function screenshot(page, name, t) {
    const file = path.join(ARTIFACTS, `alexa-link-${name}.png`);
    await page.screenshot({ path: file, fullPage: true, timeout: WAIT_MS });
    t.diagnostic(`screenshot: ${file}`);
  }

  async function redeem(code, verifier, redirectUri = server.redirectUris[0]) {
    const basic = Buffer.from(
      `${encodeURIComponent(server.clientId)}:${encodeURIComponent(server.clientSecret)}`,
    ).toString('base64');
    const response = await fetch(server.tokenUrl, {
      method: 'POST',
      headers: {
        authorization: `Basic ${basic}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        code_verifier: verifier,
      }),
      redirect: 'manual',
      signal: AbortSignal.timeout(WAIT_MS),
    });
    const text = await response.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', json, text };
  }

  function assertNoStrays(env) {
    assert.deepEqual(env.strays, [], 'the pages made no request outside loopback and the intercepted Amazon hosts');
    assert.deepEqual(env.problems, [], 'no console errors, CSP violations or script errors');
  }

  // ------------------------------------------------------------------ tests

  test('sign in, allow, and redeem the code for tokens', { timeout: TEST_MS }, async (t) => {
    const env = await openPhone(t);
    const { page } = env;
    const pkce = newRequest();

    await openLoginPage(page, pkce);
    await assert.doesNotReject(page.getByRole('heading', { name: 'Sign in' }).waitFor());
    await screenshot(page, 'login', t);
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'login-dark', t);
    await page.emulateMedia({ colorScheme: 'light' });

    const login = await signIn(page, 'user', DEMO_PASSWORD);
    assert.equal(login.status(), 303, 'a good login answers 303 See Other');
    await expectConsentPage(page);
    await screenshot(page, 'consent', t);

    const landed = await decide(page, 'Allow');
    const redirect = new URL(server.redirectUris[0]);
    assert.equal(landed.origin + landed.pathname, redirect.origin + redirect.pathname, 'back at the redirect URI');
    assert.equal(landed.searchParams.get('state'), pkce.state, 'state comes back unchanged');
    assert.equal(landed.searchParams.get('error'), null);
    const code = landed.searchParams.get('code');
    assert.match(code ?? '', /^alc_/, 'an authorization code');
    assert.deepEqual(env.landed, [page.url()], 'the browser went to the redirect URI once');

    const tokens = await redeem(code, pkce.verifier);
    assert.equal(tokens.status, 200, `token endpoint answered ${tokens.status}: ${tokens.text}`);
    assert.match(tokens.contentType, /^application\/json/);
    assert.match(tokens.json.access_token, /^ala_/);
    assert.match(tokens.json.refresh_token, /^alr_/);
    assert.equal(tokens.json.token_type, 'Bearer');
    assert.ok(Number.isInteger(tokens.json.expires_in) && tokens.json.expires_in > 0, 'expires_in');

    // A code is good once (RFC 6749 4.1.2).
    const again = await redeem(code, pkce.verifier);
    assert.equal(again.status, 400, `a replayed code is refused: ${again.text}`);
    assert.equal(again.json?.error, 'invalid_grant');

    assertNoStrays(env);
  });

  test('a wrong password shows an error and stays on the login page', { timeout: TEST_MS }, async (t) => {
    const env = await openPhone(t);
    const { page } = env;
    const pkce = newRequest();

    await openLoginPage(page, pkce);
    const bad = await signIn(page, 'admin', 'not-the-password');
    assert.equal(bad.status(), 401);
    const alert = page.getByRole('alert');
    await alert.waitFor({ state: 'visible' });
    assert.equal((await alert.textContent()).trim(), 'Incorrect username or password.');
    assert.equal(new URL(page.url()).origin, server.origin, 'still on the server');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await page.locator('#username').inputValue(), 'admin', 'username kept');
    assert.equal(await page.locator('#password').inputValue(), '', 'password not echoed back');
    assert.ok(!(await page.content()).includes('not-the-password'), 'the wrong password is not in the page');
    assert.ok(
      !(await env.context.cookies()).some((c) => c.name === 'alexa_link_session'),
      'no session after a failed login',
    );
    await assertPhoneFriendly(page, 'login page with error');
    await screenshot(page, 'login-error', t);

    const good = await signIn(page, 'admin', DEMO_PASSWORD);
    assert.equal(good.status(), 303);
    await expectConsentPage(page);
    assertNoStrays(env);
  });

  test('deny sends access_denied back with the state', { timeout: TEST_MS }, async (t) => {
    const env = await openPhone(t);
    const { page } = env;
    const pkce = newRequest();

    await openLoginPage(page, pkce);
    const login = await signIn(page, 'admin', DEMO_PASSWORD);
    assert.equal(login.status(), 303);
    await expectConsentPage(page);

    const landed = await decide(page, 'Deny');
    assert.equal(landed.searchParams.get('error'), 'access_denied');
    assert.equal(landed.searchParams.get('state'), pkce.state);
    assert.equal(landed.searchParams.get('code'), null, 'no code after Deny');
    assertNoStrays(env);
  });

  test('a login POST without the right CSRF nonce is refused', { timeout: TEST_MS }, async (t) => {
    const env = await openPhone(t);
    const { page, context } = env;
    const pkce = newRequest();

    await openLoginPage(page, pkce);
    const request = await page.locator('input[name="request"]').inputValue();
    const loginUrl = new URL('/oauth/login', server.origin).toString();

    // The browser's own cookies (including the CSRF cookie), but no nonce
    // in the form, then a forged one.
    for (const [label, extra] of [
      ['missing', {}],
      ['tampered', { csrf: b64url(randomBytes(16)) }],
    ]) {
      const r = await page.request.post(loginUrl, {
        form: { request, username: 'user', password: DEMO_PASSWORD, ...extra },
        maxRedirects: 0,
        timeout: WAIT_MS,
      });
      assert.equal(r.status(), 403, `${label} nonce: status`);
      assert.equal(r.headers()['location'], undefined, `${label} nonce: no redirect`);
      assert.match(await r.text(), /This page expired/, `${label} nonce: says why`);
    }

    // The same through the real form, with its nonce changed in the page.
    await page.locator('input[name="csrf"]').evaluate((e) => {
      e.value = 'forged-nonce';
    });
    const forged = await signIn(page, 'user', DEMO_PASSWORD);
    assert.equal(forged.status(), 403);
    assert.equal(forged.headers()['location'], undefined);
    assert.equal((await page.getByRole('alert').textContent()).trim(), 'This page expired. Please try again.');
    assert.equal(new URL(page.url()).pathname, '/oauth/login', 'no redirect after a refused login');
    assert.ok(
      !(await context.cookies()).some((c) => c.name === 'alexa_link_session'),
      'no session after refused logins',
    );

    // The refused page carries a good nonce again, so the user can go on.
    const retry = await signIn(page, 'user', DEMO_PASSWORD);
    assert.equal(retry.status(), 303);
    assert.ok(
      (await context.cookies()).some((c) => c.name === 'alexa_link_session'),
      'signed in after the retry',
    );
    // Consent page, or straight back with a code if an earlier test already
    // allowed for this user.
    const after = new URL(page.url());
    if (after.origin === server.origin) {
      await expectConsentPage(page);
    } else {
      assert.equal(after.searchParams.get('state'), pkce.state);
      assert.match(after.searchParams.get('code') ?? '', /^alc_/);
    }
    assertNoStrays(env);
  });

  test('a user who already allowed is not asked again', { timeout: TEST_MS }, async (t) => {
    const env = await openPhone(t);
    const { page } = env;

    // Make sure this user has consented (the first test does that too, but
    // this test must not depend on it).
    const first = newRequest();
    await openLoginPage(page, first);
    await signIn(page, 'user', DEMO_PASSWORD);
    if (new URL(page.url()).origin === server.origin) await decide(page, 'Allow');

    // Same browser (still signed in): straight back with a code.
    const pkce = newRequest();
    await page.goto(authorizeUrl(pkce, server.redirectUris[1]), { waitUntil: 'load' });
    const landed = new URL(page.url());
    assert.equal(landed.hostname, new URL(server.redirectUris[1]).hostname);
    assert.equal(landed.searchParams.get('state'), pkce.state);
    const code = landed.searchParams.get('code');
    assert.match(code ?? '', /^alc_/);
    const tokens = await redeem(code, pkce.verifier, server.redirectUris[1]);
    assert.equal(tokens.status, 200, tokens.text);
    assertNoStrays(env);
  });

  test('signing out on the linked-apps page ends the session', { timeout: TEST_MS }, async (t) => {
    const env = await openPhone(t);
    const { page, context } = env;
    const links = new URL('/oauth/links', server.origin).toString();
    const hasSession = async () => (await context.cookies()).some((c) => c.name === 'alexa_link_session');

    await page.goto(links, { waitUntil: 'load' });
    const login = await signIn(page, 'user', DEMO_PASSWORD);
    assert.equal(login.status(), 303);
    await page.getByRole('heading', { name: 'Linked apps' }).waitFor();
    assert.ok(await hasSession(), 'signed in');
    await assertPhoneFriendly(page, 'linked apps with sign out');

    const posted = page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/oauth/logout',
    );
    await page.getByRole('button', { name: 'Sign out' }).click();
    assert.equal((await posted).status(), 200);
    await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
    assert.ok(!(await hasSession()), 'the session cookie is gone');
    assert.ok(
      !(await context.cookies()).some((c) => c.name === 'alexa_link_csrf'),
      'and the CSRF cookie with it',
    );

    await page.goto(links, { waitUntil: 'load' });
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assertNoStrays(env);
  });
});
