"""A fake OpenID provider for unit tests: a test RSA key (authlib.jose) that signs ID tokens,
and an httpx MockTransport that serves discovery, the JWKS and the token endpoint in process.
No network: the real provider (oidc-provider on loopback) is for the integration tests."""

from __future__ import annotations

import base64
import functools
import json
import time
import warnings
from typing import Any
from urllib.parse import parse_qs

import httpx
from sqlmodel import Session

from portal.integrations.oidc import OidcClient, OidcConfig
from portal.models import SsoIdentity, User

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.jose import JsonWebKey, jwt

ISSUER = "https://idp.test"
CLIENT_ID = "portal-test"
CLIENT_SECRET = "portal-test-secret"
REDIRECT_URI = "http://portal.test/api/auth/sso/callback"
DISCOVERY = f"{ISSUER}/.well-known/openid-configuration"


@functools.cache
def rsa_key(kid: str = "k1") -> Any:
    # 2048-bit generation is slow; one key per kid per run is enough.
    return JsonWebKey.generate_key("RSA", 2048, is_private=True, options={"kid": kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeIdp:
    """Serves the provider documents and signs ID tokens; counts requests per path."""

    def __init__(self, *, issuer: str = ISSUER, kids: tuple[str, ...] = ("k1",)) -> None:
        self.issuer = issuer
        self.kids = list(kids)
        self.codes: dict[str, dict[str, Any]] = {}  # code -> token response (single use)
        self.hits: dict[str, int] = {}
        self.token_requests: list[dict[str, Any]] = []

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {"iss": self.issuer, "sub": "user-123", "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                "nonce": "n-1", "email": "someone@example.com", "email_verified": True}
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def mint(self, *, kid: str = "k1", key: Any = None, alg: str = "RS256", **overrides: Any) -> str:
        header = {"alg": alg, "kid": kid}
        token = jwt.encode(header, self.claims(**overrides), key if key is not None else rsa_key(kid))
        return token.decode() if isinstance(token, bytes) else str(token)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [rsa_key(k).as_dict(is_private=False) | {"use": "sig", "alg": "RS256"} for k in self.kids]}

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.hits[path] = self.hits.get(path, 0) + 1
        if path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={
                "issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/auth",
                "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                "code_challenge_methods_supported": ["S256"],
            })
        if path == "/jwks":
            return httpx.Response(200, json=self.jwks())
        if path == "/token":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            self.token_requests.append(form | {"authorization": request.headers.get("authorization", "")})
            answer = self.codes.pop(form.get("code", ""), None)  # a code works once
            if answer is None:
                return httpx.Response(400, json={"error": "invalid_grant"})
            return httpx.Response(200, json=answer)
        return httpx.Response(404)

    def issue_code(self, code: str, id_token: str) -> None:
        self.codes[code] = {"access_token": "at-" + code, "token_type": "Bearer", "expires_in": 300,
                            "id_token": id_token}

    def client(self, *, leeway: int = 60) -> OidcClient:
        cfg = OidcConfig(discovery_url=DISCOVERY, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                         redirect_uri=REDIRECT_URI, leeway=leeway)
        return OidcClient(cfg, http=httpx.Client(transport=httpx.MockTransport(self.handler)))


def tamper_payload(token: str, **changes: Any) -> str:
    """Change claims but keep the original signature."""
    header, payload, sig = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(changes)
    return ".".join([header, b64(json.dumps(data).encode()), sig])


def link(db: Session, user: User, *, issuer: str = ISSUER, subject: str = "user-123", email: str = "") -> SsoIdentity:
    assert user.id is not None
    ident = SsoIdentity(user_id=user.id, issuer=issuer, subject=subject, email=email)
    db.add(ident)
    db.commit()
    return ident
