"""OpenID Connect relying party: discovery, the authorization code flow with PKCE, and
ID token validation against the provider's published keys.

authlib supplies the protocol pieces (PKCE challenge, authorization URL, OIDC claim rules),
joserfc (authlib's JOSE engine) verifies signatures, and one httpx client with timeouts
talks to the provider. Nothing here knows about users or sessions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry, extract_compact

# Asymmetric algorithms only: "none" and HMAC with the client secret are never accepted.
ALLOWED_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
DEFAULT_LEEWAY = 60
# An ID token older than this is refused even if it has not expired: it belongs to another flow.
MAX_TOKEN_AGE = 600
_DISCOVERY_TTL = 3600.0
# Refetching the JWKS for one unknown kid happens at most this often (a forged kid must
# not turn us into a request amplifier against the provider).
_JWKS_MIN_REFRESH = 60.0


class OidcError(Exception):
    """Something about the provider's answer is wrong; `reason` is a short code for logs and audit."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclasses.dataclass(frozen=True, slots=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class AuthRequest:
    """What the browser is sent to, and what must be kept (privately) until it comes back."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclasses.dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    """The claims of an ID token whose signature, issuer, audience, nonce and times were checked."""

    issuer: str
    subject: str
    email: str = ""
    email_verified: bool = False
    name: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class OidcConfig:
    discovery_url: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scope: str = "openid email profile"
    leeway: int = DEFAULT_LEEWAY


def new_http_client() -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0), follow_redirects=False,
                        headers={"accept": "application/json"})


class OidcClient:
    """One configured provider. Thread-safe; discovery and keys are cached in memory."""

    def __init__(self, config: OidcConfig, *, http: httpx.Client | None = None) -> None:
        self.config = config
        self._http = http or new_http_client()
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0
        self._unknown_kids: dict[str, float] = {}

    def close(self) -> None:
        self._http.close()

    # -- provider documents -------------------------------------------------------------

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            resp = self._http.get(url)
        except httpx.HTTPError as exc:
            raise OidcError(f"{what}_unreachable", str(exc)) from exc
        if resp.status_code != 200:
            raise OidcError(f"{what}_failed", f"HTTP {resp.status_code}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise OidcError(f"{what}_failed", "not JSON") from exc
        if not isinstance(data, dict):
            raise OidcError(f"{what}_failed", "not a JSON object")
        return data

    def metadata(self) -> ProviderMetadata:
        with self._lock:
            if self._metadata is not None and time.monotonic() - self._metadata_at < _DISCOVERY_TTL:
                return self._metadata
        data = self._get_json(self.config.discovery_url, "discovery")
        fields = {}
        for name in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = data.get(name)
            if not isinstance(value, str) or not value:
                raise OidcError("discovery_failed", f"missing {name}")
            fields[name] = value
        userinfo = data.get("userinfo_endpoint")
        md = ProviderMetadata(**fields, userinfo_endpoint=userinfo if isinstance(userinfo, str) else "")
        with self._lock:
            self._metadata, self._metadata_at = md, time.monotonic()
        return md

    def _may_refetch_for(self, kid: str) -> bool:
        """Once per unknown kid per interval: a forged kid must not make us hammer the provider."""
        now = time.monotonic()
        with self._lock:
            last = self._unknown_kids.get(kid)
            if last is not None and now - last < _JWKS_MIN_REFRESH:
                return False
            if len(self._unknown_kids) > 1000:
                self._unknown_kids.clear()
            self._unknown_kids[kid] = now
            return True

    def _key_set(self, *, refresh: bool = False) -> KeySet:
        with self._lock:
            cached = self._keys
        if cached is not None and not refresh:
            return cached
        data = self._get_json(self.metadata().jwks_uri, "jwks")
        try:
            keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise OidcError("jwks_failed", "unreadable key set") from exc
        with self._lock:
            self._keys, self._keys_at = keys, time.monotonic()
        return keys

    # -- the flow ------------------------------------------------------------------------

    def authorization_request(self, *, force_login: bool = False) -> AuthRequest:
        """force_login asks the provider to authenticate the person again (prompt=login), so an
        existing provider session cannot complete the request without them."""
        md = self.metadata()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        url = add_params_to_uri(md.authorization_endpoint, [
            ("response_type", "code"),
            ("client_id", self.config.client_id),
            ("redirect_uri", self.config.redirect_uri),
            ("scope", self.config.scope),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", create_s256_code_challenge(verifier)),
            ("code_challenge_method", "S256"),
            *([("prompt", "login")] if force_login else []),
        ])
        return AuthRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)

    def exchange_code(self, *, code: str, code_verifier: str) -> dict[str, Any]:
        """Trade the authorization code for tokens (client_secret_basic, with the PKCE verifier)."""
        md = self.metadata()
        try:
            resp = self._http.post(
                md.token_endpoint,
                data={"grant_type": "authorization_code", "code": code,
                      "redirect_uri": self.config.redirect_uri, "code_verifier": code_verifier},
                auth=(self.config.client_id, self.config.client_secret),
            )
        except httpx.HTTPError as exc:
            raise OidcError("token_unreachable", str(exc)) from exc
        if resp.status_code != 200:
            err = ""
            with contextlib.suppress(ValueError):
                err = str(resp.json().get("error", ""))[:64]
            # invalid_grant is what a replayed or stolen code gets.
            raise OidcError("token_rejected", err or f"HTTP {resp.status_code}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise OidcError("token_rejected", "not JSON") from exc
        if not isinstance(data, dict) or not isinstance(data.get("id_token"), str):
            raise OidcError("token_rejected", "no id_token")
        return data

    def verify_id_token(self, id_token: str, *, nonce: str, access_token: str | None = None,
                        now: float | None = None) -> VerifiedIdentity:
        md = self.metadata()
        registry = JWSRegistry(algorithms=list(ALLOWED_ALGS))
        try:
            kid = extract_compact(id_token.encode()).headers().get("kid")
        except (JoseError, ValueError, TypeError) as exc:
            raise OidcError("malformed_token", type(exc).__name__) from exc
        keys = self._key_set()
        if isinstance(kid, str) and kid not in {k.kid for k in keys.keys} and self._may_refetch_for(kid):
            # The provider may have rotated its keys since we cached them.
            keys = self._key_set(refresh=True)
        try:
            token = jwt.decode(id_token, keys, registry=registry)
        except JoseError as exc:
            raise OidcError("bad_signature", type(exc).__name__) from exc
        except (ValueError, TypeError) as exc:
            raise OidcError("malformed_token", type(exc).__name__) from exc

        claims = dict(token.claims)
        # Check the audience ourselves as well: it must name us, and when it names several
        # parties the authorized party must be us.
        aud = claims.get("aud")
        auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if self.config.client_id not in auds:
            raise OidcError("wrong_audience")
        if len(auds) > 1 and claims.get("azp") != self.config.client_id:
            raise OidcError("wrong_audience", "azp")
        if not nonce or claims.get("nonce") != nonce:
            raise OidcError("wrong_nonce")

        checker = CodeIDToken(
            claims, token.header,
            {"iss": {"essential": True, "value": md.issuer},
             "aud": {"essential": True, "value": self.config.client_id},
             "exp": {"essential": True}, "iat": {"essential": True},
             "sub": {"essential": True}, "nonce": {"essential": True, "value": nonce}},
            {"nonce": nonce, "client_id": self.config.client_id, "access_token": access_token},
        )
        current = int(now if now is not None else time.time())
        try:
            checker.validate(now=current, leeway=self.config.leeway)
        except JoseError as exc:
            field = getattr(exc, "claim", "") or ""
            reason = {"iss": "wrong_issuer", "aud": "wrong_audience", "azp": "wrong_audience",
                      "nonce": "wrong_nonce", "exp": "expired", "iat": "bad_iat"}.get(field, "bad_claims")
            if exc.__class__.__name__ == "ExpiredTokenError":
                reason = "expired"
            raise OidcError(reason, str(exc)) from exc
        iat = claims.get("iat")
        if not isinstance(iat, (int, float)) or iat < current - MAX_TOKEN_AGE - self.config.leeway:
            raise OidcError("bad_iat", "issued too long ago")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 255:
            raise OidcError("bad_claims", "sub")
        email = claims.get("email")
        name = claims.get("name")
        return VerifiedIdentity(
            issuer=md.issuer, subject=sub,
            email=email[:320] if isinstance(email, str) else "",
            email_verified=claims.get("email_verified") is True,
            name=name[:200] if isinstance(name, str) else "",
        )

    def userinfo_email(self, *, access_token: str, subject: str) -> str:
        """The email from the UserInfo endpoint, for display only; "" when unavailable. Its
        answer counts only if it is about the same subject as the ID token (OIDC Core 5.3.2)."""
        endpoint = self.metadata().userinfo_endpoint
        if not endpoint:
            return ""
        try:
            resp = self._http.get(endpoint, headers={"authorization": f"Bearer {access_token}"})
            data = resp.json() if resp.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return ""
        if not isinstance(data, dict) or data.get("sub") != subject or not isinstance(data.get("email"), str):
            return ""
        return str(data["email"])[:320]

    def complete(self, *, code: str, code_verifier: str, nonce: str) -> VerifiedIdentity:
        tokens = self.exchange_code(code=code, code_verifier=code_verifier)
        at = tokens.get("access_token")
        access_token = at if isinstance(at, str) else None
        ident = self.verify_id_token(tokens["id_token"], nonce=nonce, access_token=access_token)
        if not ident.email and access_token:
            # Many providers put the email only in UserInfo. It labels the link; it never decides who signs in.
            ident = dataclasses.replace(ident, email=self.userinfo_email(access_token=access_token,
                                                                         subject=ident.subject))
        return ident
