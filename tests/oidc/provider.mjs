// A real OpenID Connect provider (the certified `oidc-provider` package) for the portal's
// SSO tests. Loopback only; everything it needs comes from the environment:
//   OIDC_PORT, OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI,
//   OIDC_ACCOUNTS  JSON {"<sub>": {"email": "...", "name": "..."}}: the only accounts that exist.
// devInteractions gives plain login and consent screens; the login name typed there is the `sub`.
import Provider from 'oidc-provider';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

const port = Number(env('OIDC_PORT'));
const issuer = env('OIDC_ISSUER');
const accounts = JSON.parse(env('OIDC_ACCOUNTS'));

const configuration = {
  clients: [{
    client_id: env('OIDC_CLIENT_ID'),
    client_secret: env('OIDC_CLIENT_SECRET'),
    redirect_uris: env('OIDC_REDIRECT_URI').split(' '),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  // PKCE for every client, not only public ones.
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  cookies: { keys: ['portal-tests-only-cookie-key'] },
  async findAccount(ctx, id) {
    const acc = accounts[id];
    if (!acc) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: acc.email, email_verified: true, name: acc.name || '' };
      },
    };
  },
};

const provider = new Provider(issuer, configuration);
const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
