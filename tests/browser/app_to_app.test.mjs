// Real-browser end-to-end test of App-to-App linking's web variant.
//
// Starts server/examples/app_to_app_demo.rs (the server with App-to-App
// configured against the in-repo LWA and Alexa stand-ins, all on loopback),
// then drives Debian's chromium through: sign in, the "Link with Alexa"
// page, Login with Amazon's consent (the stand-in consents at once), the
// callback that enables the skill at the Alexa stand-in, the linked-apps
// page that now lists the skill, and unlinking it there.
//
// Run: ./run.sh (it builds the example), or
// `node --test --test-reporter=spec app_to_app.test.mjs` with
// A2A_DEMO_BIN pointing at a built example.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, HERE, WAIT_MS, withTimeout } from './lib.mjs';

const DEMO_BIN = path.resolve(
  HERE,
  process.env.A2A_DEMO_BIN || '../../target/debug/examples/app_to_app_demo',
);
const ARTIFACTS = path.resolve(process.env.BROWSER_ARTIFACTS || os.tmpdir());
const TEST_MS = 60_000;

const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  locale: 'en-US',
};

/** Starts the demo; resolves with what it printed once it says READY. */
async function startDemo() {
  if (!existsSync(DEMO_BIN)) {
    throw new Error(
      `demo not found at ${DEMO_BIN}: build it with ` +
        '`cargo build -p alexa-link-server --features test-support --example app_to_app_demo`',
    );
  }
  // stdin stays open: the demo serves until it closes.
  const child = spawn(DEMO_BIN, [], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let out = '';
  let err = '';
  child.stderr.on('data', (c) => {
    err = (err + c.toString()).slice(-20_000);
  });
  const ready = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`demo exited early (${code}):\n${out}\n${err}`)));
    child.stdout.on('data', (c) => {
      out += c.toString();
      if (/^READY$/m.test(out)) {
        const grab = (k) => out.match(new RegExp(`^${k} (.+)$`, 'm'))?.[1];
        const [user, password] = grab('USER').split(' ');
        resolve({ baseUrl: grab('BASE_URL'), linkPage: grab('LINK_PAGE'), user, password });
      }
    });
  });
  const info = await withTimeout(ready, WAIT_MS * 2, 'demo READY');
  return { child, ...info };
}

async function stopDemo(demo) {
  const child = demo?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin.end();
  try {
    await withTimeout(exited, 10_000, 'demo shutdown');
  } catch {
    child.kill('SIGKILL');
  }
}

describe('App-to-App linking from a website, in a phone browser', { timeout: 3 * TEST_MS }, () => {
  let demo;
  let browser;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    demo = await startDemo();
    assert.equal(new URL(demo.baseUrl).hostname, '127.0.0.1', 'the demo listens on loopback');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: WAIT_MS * 2,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // Nothing but loopback resolves: the stand-ins are all on 127.0.0.1.
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      ],
    });
  }, { timeout: TEST_MS });

  after(async () => {
    if (browser) await withTimeout(browser.close(), WAIT_MS, 'browser close').catch(() => {});
    await stopDemo(demo);
  }, { timeout: TEST_MS });

  process.once('exit', () => demo?.child?.kill('SIGKILL'));

  test('a signed-in user links the skill with one tap and can unlink it', { timeout: TEST_MS }, async (t) => {
    const context = await browser.newContext(PHONE);
    t.after(() => context.close().catch(() => {}));
    context.setDefaultTimeout(WAIT_MS);
    const page = await context.newPage();
    // Every request, redirect hops included.
    const requested = [];
    page.on('request', (r) => requested.push(r.url()));
    try {
      // Not signed in: the link page asks for a sign-in first.
      await page.goto(demo.linkPage);
      await page.getByLabel('Username').fill(demo.user);
      await page.getByLabel('Password').fill(demo.password);
      await Promise.all([page.waitForURL(/\/oauth\/links/), page.getByRole('button', { name: /sign in/i }).click()]);

      await page.goto(demo.linkPage);
      await page.getByRole('heading', { name: /Link .* with Alexa/ }).waitFor();
      await Promise.all([
        page.waitForURL(/\/oauth\/app-to-app\/callback\?/),
        page.getByRole('button', { name: 'Link with Alexa' }).click(),
      ]);
      await page.getByRole('heading', { name: 'Linked with Alexa' }).waitFor();
      const lwa = requested.find((u) => new URL(u).pathname === '/ap/oa');
      assert.ok(lwa, `went through Login with Amazon: ${requested.join(' -> ')}`);
      const asked = new URL(lwa).searchParams;
      assert.equal(asked.get('scope'), 'alexa::skills:account_linking');
      assert.equal(asked.get('redirect_uri'), `${demo.baseUrl}/oauth/app-to-app/callback`);
      await page.screenshot({ path: path.join(ARTIFACTS, 'app-to-app-linked.png') });

      // Reloading the callback is a replay of the single-use state.
      const replay = await page.reload();
      assert.equal(replay.status(), 400);
      await page.getByText(/expired or was already used/).waitFor();

      // The skill's Alexa client is now among the user's linked apps.
      await page.goto(`${demo.baseUrl}/oauth/links`);
      const unlink = page.getByRole('button', { name: 'Unlink Alexa test skill' });
      await unlink.waitFor();
      await Promise.all([page.waitForURL(/unlinked=1/), unlink.click()]);
      await page.getByText('The app was unlinked.').waitFor();
      assert.equal(await page.getByRole('button', { name: 'Unlink Alexa test skill' }).count(), 0);
    } catch (e) {
      await page.screenshot({ path: path.join(ARTIFACTS, 'app-to-app-failure.png') }).catch(() => {});
      throw e;
    }
  });
});
