// A real OpenID provider (the `oidc-provider` package) for Allmende's single sign-on tests.
//
// Started by tests/support/oidc_provider.py on a free loopback port:
//   node provider.js <port> <redirect-uri>[,<redirect-uri>…]
// It prints "listening <issuer>" once it accepts connections.
//
// One confidential client ("allmende", secret "allmende-test-secret") with PKCE required. There is no
// login form: an interaction logs in the account the test chose (POST /_test/state) and grants every
// requested scope, so a sign-in needs no clicks at the provider. The ID token carries the scope's claims
// itself (conformIdTokenClaims: false), as Keycloak's does.
//
// For the bad-input tests the provider misbehaves on request (POST /_test/state {"mode": …}):
//   wrong-nonce, other-audience, expired, foreign-key: the token endpoint answers with an ID token whose
//     nonce / audience / expiry is wrong, or that is signed by a key the JWKS does not publish; the other
//     modes are signed with the provider's own key, so only the named claim is wrong;
//   discovery-500, token-500, jwks-500: that endpoint fails with a server error.
import { createServer } from 'node:http';
import { generateKeyPair, exportJWK, SignJWT, decodeJwt, decodeProtectedHeader, importJWK } from 'jose';
import Provider from 'oidc-provider';

const [port, redirects] = process.argv.slice(2);
if (!port || !redirects) {
  console.error('usage: node provider.js <port> <redirect-uri>[,<redirect-uri>…]');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const CLIENT_ID = 'allmende';

async function signingKey(kid) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
}

const ownKey = await signingKey('test-key');
const foreignKey = await signingKey('test-key'); // same kid, other key: its signature must not verify

const DEFAULT_ACCOUNTS = {
  anna: { email: 'anna@land.example', email_verified: true, name: 'Anna Amt', ags: '01002000' },
};
const state = { accounts: { ...DEFAULT_ACCOUNTS }, login: 'anna', mode: null };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: 'allmende-test-secret',
      redirect_uris: redirects.split(','),
      response_types: ['code'],
      grant_types: ['authorization_code'],
    },
  ],
  pkce: { required: () => true },
  jwks: { keys: [ownKey] },
  cookies: { keys: ['allmende-test-cookie-key'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], ags: ['ags'] },
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const claims = state.accounts[sub];
    if (!claims) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...claims }) };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    // A first-party client: everything it asks for is granted without a consent screen.
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
    await grant.save();
    return grant;
  },
  ttl: { IdToken: 600, AccessToken: 600, AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 600 },
});

function json(ctx, status, body) {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = body;
}

async function tampered(idToken, mode) {
  const claims = decodeJwt(idToken);
  const header = decodeProtectedHeader(idToken);
  const now = Math.floor(Date.now() / 1000);
  if (mode === 'wrong-nonce') claims.nonce = 'not-the-nonce-you-sent';
  if (mode === 'other-audience') claims.aud = 'another-client';
  if (mode === 'expired') Object.assign(claims, { iat: now - 7200, exp: now - 3600 });
  const key = await importJWK(mode === 'foreign-key' ? foreignKey : ownKey, 'RS256');
  return new SignJWT(claims).setProtectedHeader({ alg: header.alg, kid: header.kid }).sign(key);
}

const TAMPER = new Set(['wrong-nonce', 'other-audience', 'expired', 'foreign-key']);
const FAILING = { 'discovery-500': '/.well-known/openid-configuration', 'token-500': '/token', 'jwks-500': '/jwks' };

provider.use(async (ctx, next) => {
  // The test's controls.
  if (ctx.path === '/_test/state' && ctx.method === 'POST') {
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    const body = JSON.parse(Buffer.concat(chunks).toString() || '{}');
    if (body.reset) Object.assign(state, { accounts: { ...DEFAULT_ACCOUNTS }, login: 'anna', mode: null });
    if (body.accounts) Object.assign(state.accounts, body.accounts);
    if ('login' in body) state.login = body.login;
    if ('mode' in body) state.mode = body.mode;
    return json(ctx, 200, state);
  }
  if (state.mode && FAILING[state.mode] === ctx.path) {
    return json(ctx, 500, { error: 'server_error', error_description: 'the test switched this endpoint off' });
  }
  // The interaction: log in the chosen account at once.
  if (ctx.path.startsWith('/interaction/')) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const result = details.prompt.name === 'login' ? { login: { accountId: state.login } } : {};
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.status = 303;
    return ctx.redirect(returnTo);
  }
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && TAMPER.has(state.mode) && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: await tampered(ctx.body.id_token, state.mode) };
  }
});

const server = createServer(provider.callback());
server.listen(Number(port), '127.0.0.1', () => console.log(`listening ${issuer}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
