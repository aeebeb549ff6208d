// A real OpenID Provider for the upstream-OIDC tests: the npm package
// `oidc-provider` (OpenID Certified) on 127.0.0.1, with
// - dynamic client registration open, so each test registers a client with
//   its own server's redirect URI;
// - the package's development login pages (any username, any password:
//   the account id is the username) and consent granted automatically,
//   as for a first-party client;
// - claims: sub = the username, name = "Upstream <username>".
//
// Usage: node provider.mjs [PORT]   (0 or absent: any free port)
// Prints one line when ready: {"issuer":"http://127.0.0.1:PORT"}
//
// Env (the node suite, whose pods reach only the bridge address):
// OIDC_HOST binds that address instead of 127.0.0.1; OIDC_TLS_CERT and
// OIDC_TLS_KEY (PEM files) serve https, and the issuer is then
// https://OIDC_HOST:PORT.
import Provider from 'oidc-provider';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const requested = Number(process.argv[2] || 0);
const host = process.env.OIDC_HOST || '127.0.0.1';
const tls = process.env.OIDC_TLS_CERT
  ? { cert: fs.readFileSync(process.env.OIDC_TLS_CERT), key: fs.readFileSync(process.env.OIDC_TLS_KEY) }
  : null;

// Find the port first: the issuer URL must contain it.
const probe = http.createServer();
await new Promise((resolve) => probe.listen(requested, host, resolve));
const port = probe.address().port;
await new Promise((resolve) => probe.close(resolve));

const issuer = `${tls ? 'https' : 'http'}://${host}:${port}`;
const provider = new Provider(issuer, {
  features: {
    registration: { enabled: true },
    devInteractions: { enabled: true },
  },
  claims: { openid: ['sub'], profile: ['name'] },
  // Put the profile claims in the ID token too (the server reads only it).
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: `Upstream ${id}` };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile');
    await grant.save();
    return grant;
  },
  cookies: { keys: ['alexa-link-test-only-cookie-key'] },
  pkce: { required: () => true },
});
// No TLS-terminating proxy in front: the package serves as it is reached.
provider.proxy = false;

const server = (tls ? https.createServer(tls, provider.callback()) : http.createServer(provider.callback()))
  .listen(port, host, () => {
    console.log(JSON.stringify({ issuer }));
  });
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
