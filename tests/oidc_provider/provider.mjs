// A real OpenID Connect provider (panva's oidc-provider) for certmon's sign-in tests, on loopback only.
//
//   node provider.mjs CONFIG.json
//
// CONFIG.json (written by tests/auth/oidc_harness.py): {port, issuer, keys (private signing JWKs), clients
// (client metadata), accounts ({id: claims}), claims (scope -> claim names), scopes, acr_values, require_par}.
// The login page is a plain form (fields `login` = account id and `acr`); consent is granted at once for
// every requested scope, as for a first-party client. Prints "listening <issuer>" when ready.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = cfg.accounts;

const provider = new Provider(cfg.issuer, {
  clients: cfg.clients,
  jwks: { keys: cfg.keys },
  cookies: { keys: ['certmon-test-provider-cookie-key'] },
  pkce: { required: () => true },
  acrValues: cfg.acr_values,
  claims: cfg.claims,
  scopes: cfg.scopes,
  conformIdTokenClaims: false, // scope claims in the ID token, as HelseID, ID-porten and Entra put them
  features: {
    devInteractions: { enabled: false },
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: Boolean(cfg.require_par) },
    rpInitiatedLogout: { enabled: true },
  },
  ttl: { IdToken: 600, AccessToken: 600, AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 600 },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    if (!accounts[id]) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...accounts[id] }; } };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(ctx.oidc.params.scope);
    await grant.save();
    return grant;
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>error</title><p id="error">${out.error}: ${out.error_description || ''}</p>`;
  },
});

function page(uid, error) {
  return `<!doctype html><title>login</title>${error ? `<p id="error">${error}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<input name="login"><input name="acr" value=""><button type="submit">Sign in</button></form>`;
}

async function formBody(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return Object.fromEntries(new URLSearchParams(raw));
}

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = page(details.uid);
    return undefined;
  }
  const body = await formBody(ctx.req);
  if (!accounts[body.login]) {
    ctx.type = 'html';
    ctx.body = page(details.uid, 'unknown account');
    return undefined;
  }
  const login = { accountId: body.login };
  if (body.acr) login.acr = body.acr;
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, { login }, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(returnTo);
  return undefined;
});

provider.listen(cfg.port, '127.0.0.1', () => { console.log(`listening ${cfg.issuer}`); });
