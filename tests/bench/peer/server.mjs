// The benchmark's peer: panva's oidc-provider (a certified OpenID Provider)
// configured like our bench client, so tests/bench/compare.sh can drive both
// with the same requests.
//
// One confidential client (client_secret_basic) with client_credentials and
// refresh_token (authorization_code too: refresh tokens come from a grant),
// opaque access tokens (no resource indicators, so no JWTs), refresh tokens
// that do not rotate (like our non-rotating bench client) unless PEER_CHAINS
// asks for rotating chains (then it rotates, like ours), introspection on,
// and an unbounded in-memory adapter (MapAdapter below). The provider's
// default in-memory adapter is a 1000-item LRU: 50 rotating refresh chains
// (each rotation stores a refresh token and an access token) outgrow it
// within a second, and the peer would then answer invalid_grant quickly,
// inflating its rate. MapAdapter keeps every item until it expires, like a
// real store (ours keeps them on disk), so every refresh of the peer
// succeeds at any concurrency.
//
// A user's grant and refresh token are seeded through the provider's own
// models (what its authorization_code grant would have stored) instead of a
// browser flow. Then it checks its own token endpoint answers 200 for each
// scenario and prints, one per line:
//
//     PID <pid>
//     TOKEN_URL <url>
//     INTROSPECT_URL <url>
//     BASIC <base64 client credentials>
//     REFRESH_TOKEN <a refresh token of the seeded grant>
//     ACCESS_TOKEN <an access token of that grant, for introspection>
//     REFRESH_TOKENS_FILE <file: PEER_CHAINS refresh tokens, one per line>
//     READY
//
// Listens on 127.0.0.1 (PORT, default a free port); stops on SIGTERM or when
// stdin closes.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import Provider from 'oidc-provider';

const CLIENT_ID = 'bench-client';
const CLIENT_SECRET = 'bench-client-secret-0123456789';
const ACCOUNT = 'user-ann';
const SCOPE = 'offline_access profile';
const CHAINS = Number(process.env.PEER_CHAINS || 0);

// oidc-provider's adapter interface over one process-wide Map: items expire
// after their expiresIn (seconds), nothing is evicted before that. Grant ids
// index the tokens of a grant for revokeByGrantId; session uids and user
// codes index their items like the provider's own memory adapter.
const items = new Map();
const grants = new Map();
const now = () => Date.now();
const get = (key) => {
  const item = items.get(key);
  if (item === undefined) return undefined;
  if (item.expiresAt <= now()) {
    items.delete(key);
    return undefined;
  }
  return item.value;
};
const put = (key, value, expiresIn) => {
  const expiresAt = typeof expiresIn === 'number' ? now() + expiresIn * 1000 : Infinity;
  items.set(key, { value, expiresAt });
};
class MapAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    put(key, payload, expiresIn);
    if (payload.grantId) {
      let members = grants.get(payload.grantId);
      if (members === undefined) grants.set(payload.grantId, (members = new Set()));
      members.add(key);
    }
    if (this.model === 'Session' && payload.uid) put(`sessionUid:${payload.uid}`, id, expiresIn);
    if (payload.userCode) put(`userCode:${payload.userCode}`, id, expiresIn);
  }

  async find(id) {
    return get(this.key(id));
  }

  async findByUid(uid) {
    const id = get(`sessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = get(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const payload = get(this.key(id));
    if (payload) payload.consumed = Math.floor(now() / 1000);
  }

  async destroy(id) {
    const key = this.key(id);
    const payload = get(key);
    items.delete(key);
    if (payload?.grantId) grants.get(payload.grantId)?.delete(key);
  }

  async revokeByGrantId(grantId) {
    for (const key of grants.get(grantId) ?? []) items.delete(key);
    grants.delete(grantId);
  }
}

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(process.env.PORT || 0), '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(base, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: ['https://app.example.com/callback'],
    scope: 'openid offline_access profile',
  }],
  scopes: ['openid', 'offline_access', 'profile'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // Like ours: a client sees only its own tokens.
    introspection: {
      enabled: true,
      allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId,
    },
    revocation: { enabled: true },
  },
  adapter: MapAdapter,
  rotateRefreshToken: CHAINS > 0,
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  // The same lifetimes as our bench clients.
  ttl: {
    AccessToken: 3600,
    ClientCredentials: 3600,
    RefreshToken: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
    Session: 3600,
    Interaction: 600,
    AuthorizationCode: 60,
    IdToken: 3600,
  },
});
server.on('request', provider.callback());

// What the authorization_code grant would have stored for a linked user.
const client = await provider.Client.find(CLIENT_ID);
const seed = async () => {
  const grant = new provider.Grant({ accountId: ACCOUNT, clientId: CLIENT_ID });
  grant.addOIDCScope(SCOPE);
  const grantId = await grant.save();
  const refresh = new provider.RefreshToken({
    client,
    accountId: ACCOUNT,
    grantId,
    scope: SCOPE,
    gty: 'authorization_code',
  });
  return refresh.save();
};
const refreshToken = await seed();
const chains = [];
for (let i = 0; i < CHAINS; i += 1) chains.push(await seed());

const basic = Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64');
const post = async (path, form) => {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(form),
  });
  const body = await response.json();
  if (response.status !== 200) {
    throw new Error(`${path} ${form.grant_type ?? ''}: ${response.status} ${JSON.stringify(body)}`);
  }
  return body;
};

// Each scenario answers 200 before anyone measures it.
const refreshed = await post('/token', { grant_type: 'refresh_token', refresh_token: refreshToken });
if ((CHAINS === 0) !== (refreshed.refresh_token === refreshToken) || refreshed.id_token) {
  throw new Error(`unexpected refresh response: ${JSON.stringify(refreshed)}`);
}
await post('/token', { grant_type: 'client_credentials', scope: 'profile' });
const introspected = await post('/token/introspection', { token: refreshed.access_token });
if (introspected.active !== true) {
  throw new Error(`introspection: ${JSON.stringify(introspected)}`);
}

console.log(`PID ${process.pid}`);
console.log(`TOKEN_URL ${base}/token`);
console.log(`INTROSPECT_URL ${base}/token/introspection`);
console.log(`BASIC ${basic}`);
console.log(`REFRESH_TOKEN ${refreshed.refresh_token}`);
console.log(`ACCESS_TOKEN ${refreshed.access_token}`);
if (CHAINS > 0) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'peer-')), 'refresh-tokens');
  fs.writeFileSync(file, `${chains.join('\n')}\n`);
  console.log(`REFRESH_TOKENS_FILE ${file}`);
}
console.log('READY');

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
