// What the browser tests share: where the binaries are, the time bound of a
// single wait, and small helpers.

import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** This folder: relative binary paths resolve against it. */
export const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The server binary (env ALEXA_LINK_SERVER_BIN). */
export const SERVER_BIN = path.resolve(
  HERE,
  process.env.ALEXA_LINK_SERVER_BIN || '../../target/debug/alexa-link-server',
);
/** The browser binary (env CHROMIUM). */
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
/** Upper bound of any single wait (page load, click, server start). */
export const WAIT_MS = 15_000;

/** base64url without padding, as PKCE and `state` use it. */
export const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** A loopback port free at the moment of asking. */
export async function freePort() {
  const s = http.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
