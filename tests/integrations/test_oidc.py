"""ID token validation, independent of any provider: tokens signed with a test RSA key."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.integrations.oidc import OidcError
from tests.factories_sso import CLIENT_ID, CLIENT_SECRET, ISSUER, REDIRECT_URI, FakeIdp, b64, rsa_key, tamper_payload


def reason_of(idp: FakeIdp, token: str, nonce: str = "n-1") -> str:
    with pytest.raises(OidcError) as exc:
        idp.client().verify_id_token(token, nonce=nonce)
    return exc.value.reason


def test_a_good_token_gives_issuer_subject_and_email() -> None:
    # Given a token the provider signed for us, with our nonce
    idp = FakeIdp()
    # When it is verified
    ident = idp.client().verify_id_token(idp.mint(), nonce="n-1")
    # Then the identity is (issuer from discovery, subject) with the email as information only
    assert (ident.issuer, ident.subject, ident.email, ident.email_verified) == (
        ISSUER, "user-123", "someone@example.com", True)


def test_a_tampered_token_is_rejected() -> None:
    idp = FakeIdp()
    forged = tamper_payload(idp.mint(), sub="admin-1")
    assert reason_of(idp, forged) == "bad_signature"


def test_a_token_signed_by_another_key_with_the_same_kid_is_rejected() -> None:
    idp = FakeIdp()
    assert reason_of(idp, idp.mint(kid="k1", key=rsa_key("attacker"))) == "bad_signature"


def test_unsigned_and_hmac_tokens_are_rejected() -> None:
    idp = FakeIdp()
    header = b64(b'{"alg":"none","kid":"k1"}')
    good = idp.mint()
    unsigned = f"{header}.{good.split('.')[1]}."
    assert reason_of(idp, unsigned) in ("bad_signature", "malformed_token")
    # HS256 with the client secret as the key: a classic algorithm-confusion forgery.
    from joserfc import jwt as jrfc
    from joserfc.jwk import OctKey
    hs = jrfc.encode({"alg": "HS256", "kid": "k1"}, idp.claims(), OctKey.import_key(CLIENT_SECRET * 2))
    assert reason_of(idp, hs) == "bad_signature"


def test_a_wrong_nonce_is_rejected() -> None:
    idp = FakeIdp()
    assert reason_of(idp, idp.mint(nonce="someone-elses")) == "wrong_nonce"
    assert reason_of(idp, idp.mint(nonce=None)) == "wrong_nonce"


def test_a_wrong_audience_is_rejected() -> None:
    idp = FakeIdp()
    assert reason_of(idp, idp.mint(aud="another-client")) == "wrong_audience"
    # Several audiences: the authorized party must be us.
    assert reason_of(idp, idp.mint(aud=[CLIENT_ID, "another-client"])) == "wrong_audience"
    assert reason_of(idp, idp.mint(aud=[CLIENT_ID, "another-client"], azp="another-client")) == "wrong_audience"
    ok = idp.client().verify_id_token(idp.mint(aud=[CLIENT_ID, "another-client"], azp=CLIENT_ID), nonce="n-1")
    assert ok.subject == "user-123"


def test_an_expired_token_is_rejected_but_small_clock_skew_is_tolerated() -> None:
    idp = FakeIdp()
    now = int(time.time())
    assert reason_of(idp, idp.mint(iat=now - 400, exp=now - 120)) == "expired"
    skewed = idp.client(leeway=60).verify_id_token(idp.mint(iat=now - 100, exp=now - 20), nonce="n-1")
    assert skewed.subject == "user-123"


def test_a_token_from_the_future_or_long_ago_is_rejected() -> None:
    idp = FakeIdp()
    now = int(time.time())
    assert reason_of(idp, idp.mint(iat=now + 3600, exp=now + 7200)) == "bad_iat"
    assert reason_of(idp, idp.mint(iat=now - 7200, exp=now + 3600)) == "bad_iat"


def test_a_wrong_issuer_is_rejected() -> None:
    idp = FakeIdp()
    assert reason_of(idp, idp.mint(iss="https://evil.test")) == "wrong_issuer"


def test_missing_subject_is_rejected() -> None:
    idp = FakeIdp()
    assert reason_of(idp, idp.mint(sub=None)) in ("bad_claims",)


def test_keys_are_cached_and_refetched_once_for_an_unknown_kid() -> None:
    # Given a client that has verified a token (keys cached)
    idp = FakeIdp(kids=("k1",))
    client = idp.client()
    client.verify_id_token(idp.mint(), nonce="n-1")
    client.verify_id_token(idp.mint(), nonce="n-1")
    assert idp.hits["/jwks"] == 1
    # When the provider rotates to a new key
    idp.kids = ["k1", "k2"]
    ident = client.verify_id_token(idp.mint(kid="k2"), nonce="n-1")
    # Then the client fetched the key set again, once, and accepted the token
    assert ident.subject == "user-123" and idp.hits["/jwks"] == 2
    # And a kid the provider never published fails, with one refetch however often it is sent
    for _ in range(3):
        assert reason_of_client(client, idp.mint(kid="k9")) == "bad_signature"
    assert idp.hits["/jwks"] == 3


def reason_of_client(client: object, token: str) -> str:
    with pytest.raises(OidcError) as exc:
        client.verify_id_token(token, nonce="n-1")  # type: ignore[attr-defined]
    return exc.value.reason


def test_authorization_request_uses_pkce_s256_state_and_nonce() -> None:
    import hashlib

    idp = FakeIdp()
    req = idp.client().authorization_request()
    q = {k: v[0] for k, v in parse_qs(urlsplit(req.url).query).items()}
    assert req.url.startswith(f"{ISSUER}/auth?")
    assert q["response_type"] == "code" and q["client_id"] == CLIENT_ID and q["redirect_uri"] == REDIRECT_URI
    assert q["state"] == req.state and q["nonce"] == req.nonce and "openid" in q["scope"].split()
    assert q["code_challenge_method"] == "S256"
    assert q["code_challenge"] == b64(hashlib.sha256(req.code_verifier.encode()).digest())
    assert len(req.code_verifier) >= 43 and req.state != req.nonce
    # Two requests never share secrets.
    assert idp.client().authorization_request().state != req.state


def test_code_exchange_sends_the_verifier_and_authenticates_the_client() -> None:
    idp = FakeIdp()
    idp.issue_code("c1", idp.mint())
    client = idp.client()
    ident = client.complete(code="c1", code_verifier="v" * 50, nonce="n-1")
    assert ident.subject == "user-123"
    sent = idp.token_requests[0]
    assert sent["code_verifier"] == "v" * 50 and sent["grant_type"] == "authorization_code"
    assert sent["redirect_uri"] == REDIRECT_URI and sent["authorization"].startswith("Basic ")
    # A replayed code is refused by the token endpoint and surfaces as an error
    with pytest.raises(OidcError) as exc:
        client.complete(code="c1", code_verifier="v" * 50, nonce="n-1")
    assert exc.value.reason == "token_rejected" and "invalid_grant" in exc.value.detail


def test_email_comes_from_userinfo_only_for_the_same_subject() -> None:
    import httpx

    from portal.integrations.oidc import OidcClient

    idp = FakeIdp()
    answers = {"sub": "user-123", "email": "from-userinfo@example.com"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            doc = idp.handler(request).json() | {"userinfo_endpoint": f"{ISSUER}/me"}
            return httpx.Response(200, json=doc)
        if request.url.path == "/me":
            assert request.headers["authorization"].startswith("Bearer at-c")
            return httpx.Response(200, json=answers)
        return idp.handler(request)

    client = OidcClient(idp.client().config, http=httpx.Client(transport=httpx.MockTransport(handler)))
    idp.issue_code("c1", idp.mint(email=None))
    assert client.complete(code="c1", code_verifier="v" * 50, nonce="n-1").email == "from-userinfo@example.com"
    # UserInfo about someone else is ignored
    answers["sub"] = "someone-else"
    idp.issue_code("c2", idp.mint(email=None))
    assert client.complete(code="c2", code_verifier="v" * 50, nonce="n-1").email == ""
