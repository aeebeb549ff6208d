// One login per identity backend in headless Chromium (phone viewport):
// static (a users file hashed with the server's `hash-password`), ldap (the
// slapd that scripts/test starts) and oidc (the oidc-provider it starts,
// whose login page the user fills in). Each links a client whose redirect
// URI is a loopback page this test serves, then redeems the code.
//
// The ldap and oidc cases skip, saying so, when ALEXA_LINK_LDAP_URL or
// ALEXA_LINK_OIDC_ISSUER is unset. Env: ALEXA_LINK_SERVER_BIN, CHROMIUM.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, SERVER_BIN, WAIT_MS, b64url, freePort } from './lib.mjs';

const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  locale: 'en-US',
};
const CLIENT_ID = 'browser-test';
const CLIENT_SECRET = 'browser-test-secret-0123456789';

/** A loopback page standing in for the client's redirect URI. */
async function startRedirectTarget() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><link rel="icon" href="data:,"><title>client</title><p>linked</p>');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, uri: `http://127.0.0.1:${server.address().port}/cb` };
}

/**
 * Writes a config with `identity` and starts the server binary on it, on
 * `port` (default: a free one).
 */
async function startServer(dir, identity, redirectUri, port = null) {
  port ??= await freePort();
  const admin = await freePort();
  writeFileSync(path.join(dir, 'session.key'), randomBytes(48));
  writeFileSync(path.join(dir, 'client.secret'), CLIENT_SECRET);
  const config = {
    server: {
      listen: `127.0.0.1:${port}`,
      adminListen: `127.0.0.1:${admin}`,
      publicUrl: `http://127.0.0.1:${port}`,
      sessionKeyFile: path.join(dir, 'session.key'),
    },
    clients: [{
      clientId: CLIENT_ID,
      clientSecretFile: path.join(dir, 'client.secret'),
      displayName: 'Browser test skill',
      redirectUris: [redirectUri],
      scopes: ['profile'],
    }],
    identity,
    store: { embedded: { path: path.join(dir, 'store.redb') } },
  };
  // JSON is YAML.
  writeFileSync(path.join(dir, 'config.yaml'), JSON.stringify(config, null, 2));
  const child = spawn(SERVER_BIN, ['--config', path.join(dir, 'config.yaml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let logs = '';
  child.stderr.on('data', (c) => { logs += c; });
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${logs}`);
    try {
      const r = await fetch(`http://127.0.0.1:${admin}/readyz`);
      if (r.ok) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`server not ready: ${logs}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, base: `http://127.0.0.1:${port}`, port, logs: () => logs };
}

async function stopServer(s) {
  if (!s || s.child.exitCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  s.child.kill('SIGKILL');
}

describe('one login per identity backend in headless Chromium', { timeout: 180_000 }, () => {
  let browser;
  let target;
  const cleanups = [];

  before(async () => {
    target = await startRedirectTarget();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
    });
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    if (browser) await browser.close().catch(() => {});
    target?.server.close();
  });

  /**
   * Opens the authorization URL on a phone, lets `signIn` do the backend's
   * login, allows on the consent page, and redeems the code.
   */
  async function linkWith(server, signIn) {
    const context = await browser.newContext(PHONE);
    cleanups.push(() => context.close());
    context.setDefaultTimeout(WAIT_MS);
    const page = await context.newPage();
    const verifier = b64url(randomBytes(32));
    const state = b64url(randomBytes(12));
    const url = new URL('/oauth/authorize', server.base);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: CLIENT_ID,
      redirect_uri: target.uri,
      scope: 'profile',
      state,
      code_challenge: b64url(createHash('sha256').update(verifier).digest()),
      code_challenge_method: 'S256',
    });
    await page.goto(url.href);
    await signIn(page);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.href.startsWith(target.uri));
    const back = new URL(page.url());
    assert.equal(back.searchParams.get('state'), state);
    const code = back.searchParams.get('code');
    assert.ok(code, 'a code reached the client');
    const token = await fetch(new URL('/oauth/token', server.base), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code, redirect_uri: target.uri, code_verifier: verifier,
      }),
    });
    assert.equal(token.status, 200, await token.clone().text());
    return page;
  }

  async function fillLoginPage(page, username, password) {
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function serverFor(identity) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'alexa-link-backend-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    return { dir, start: async (id, port = null) => {
      const s = await startServer(dir, id ?? identity, target.uri, port);
      cleanups.push(() => stopServer(s));
      return s;
    } };
  }

  test('static: a users file hashed with `hash-password`', async () => {
    const { dir, start } = await serverFor();
    const hashed = spawnSync(SERVER_BIN, ['hash-password'], { input: 'static-pw' });
    assert.equal(hashed.status, 0, String(hashed.stderr));
    const hash = String(hashed.stdout).trim();
    assert.match(hash, /^\$argon2id\$/);
    writeFileSync(path.join(dir, 'users.yaml'),
      JSON.stringify({ users: [{ username: 'sam', passwordHash: hash, displayName: 'Sam Static' }] }));
    const server = await start({ static: { usersFile: path.join(dir, 'users.yaml') } });
    const page = await linkWith(server, async (p) => {
      await fillLoginPage(p, 'sam', 'wrong');
      await p.getByRole('alert').waitFor();
      assert.match(await p.getByRole('alert').innerText(), /Incorrect username or password/);
      await fillLoginPage(p, 'sam', 'static-pw');
      await p.getByText('Sam Static').waitFor();
    });
    await page.close();
  });

  test('ldap: a directory user', async (t) => {
    if (!process.env.ALEXA_LINK_LDAP_URL) {
      t.skip('ALEXA_LINK_LDAP_URL is unset (scripts/test starts slapd)');
      return;
    }
    const { dir, start } = await serverFor();
    writeFileSync(path.join(dir, 'bind-password'), 'service-account-pw\n');
    const server = await start({
      ldap: {
        url: process.env.ALEXA_LINK_LDAP_URL,
        bindDn: 'cn=alexa-link,ou=services,dc=example,dc=com',
        bindPasswordFile: path.join(dir, 'bind-password'),
        baseDn: 'ou=people,dc=example,dc=com',
      },
    });
    await linkWith(server, async (p) => {
      await fillLoginPage(p, 'ann', 'ann-ldap-pw');
      await p.getByText('Ann Example').waitFor();
    });
  });

  test('oidc: sign-in at the upstream OpenID Provider', async (t) => {
    const issuer = process.env.ALEXA_LINK_OIDC_ISSUER;
    if (!issuer) {
      t.skip('ALEXA_LINK_OIDC_ISSUER is unset (scripts/test starts oidc-provider)');
      return;
    }
    const { dir, start } = await serverFor();
    // The callback URL contains the port: pick it, register, then start.
    const port = await freePort();
    const reg = await fetch(`${issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: [`http://127.0.0.1:${port}/oauth/callback`],
        token_endpoint_auth_method: 'client_secret_basic',
      }),
    });
    assert.equal(reg.status, 201);
    const client = await reg.json();
    writeFileSync(path.join(dir, 'oidc-secret'), client.client_secret);
    const identity = {
      oidc: { issuerUrl: issuer, clientId: client.client_id, clientSecretFile: path.join(dir, 'oidc-secret') },
    };
    const server = await start(identity, port);
    await linkWith(server, async (p) => {
      await p.waitForURL((u) => u.href.startsWith(issuer));
      await p.locator('input[name=login]').fill('olivia');
      await p.locator('input[name=password]').fill('any');
      await p.locator('button[type=submit]').click();
      await p.getByText('Upstream olivia').waitFor();
    });
  });
});
