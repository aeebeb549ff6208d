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
import Provider from 'oidc-provider';
import http from 'node:http';

const requested = Number(process.argv[2] || 0);

// Find the port first: the issuer URL must contain it.
const probe = http.createServer();
await new Promise((resolve) => probe.listen(requested, '127.0.0.1', resolve));
const port = probe.address().port;
await new Promise((resolve) => probe.close(resolve));

const issuer = `http://127.0.0.1:${port}`;
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
// Loopback http issuer: tell the package not to insist on https.
provider.proxy = false;

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({ issuer }));
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
