"""Run the real OpenID provider (npm `oidc-provider`, see package.json and provider.mjs)
on a free loopback port for the duration of a test module or session."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
CLIENT_ID = "fernhill-portal"
CLIENT_SECRET = "loopback-only-test-secret-0123456789"
# The account that exists at the provider; devInteractions takes the typed login as its `sub`.
ACCOUNT_SUB = "fern-sub-001"
ACCOUNT_EMAIL = "alice.sso@idp.example"


def ensure_node_modules() -> None:
    """`npm install` the pinned provider once per checkout (what `make test` relies on)."""
    if (HERE / "node_modules" / "oidc-provider" / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed for the SSO integration tests (Node.js 20+)")
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True,
                   timeout=300)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass(frozen=True)
class RunningProvider:
    issuer: str
    discovery_url: str
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET


@contextlib.contextmanager
def run_provider(*, redirect_uris: list[str], accounts: dict[str, dict[str, str]] | None = None,
                 port: int | None = None) -> Iterator[RunningProvider]:
    ensure_node_modules()
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is needed for the SSO integration tests")
    port = port or free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(HERE)),
        "OIDC_PORT": str(port), "OIDC_ISSUER": issuer, "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET, "OIDC_REDIRECT_URI": " ".join(redirect_uris),
        "OIDC_ACCOUNTS": json.dumps(accounts or {ACCOUNT_SUB: {"email": ACCOUNT_EMAIL, "name": "Alice at IdP"}}),
    }
    log = (HERE / f".provider-{port}.log").open("w")
    proc = subprocess.Popen([node, str(HERE / "provider.mjs")], cwd=HERE, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    discovery = f"{issuer}/.well-known/openid-configuration"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"oidc-provider exited: {(HERE / log.name).read_text()[-2000:]}")
            try:
                if httpx.get(discovery, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("oidc-provider did not answer discovery within 30 s")
            time.sleep(0.2)
        yield RunningProvider(issuer=issuer, discovery_url=discovery)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()
        Path(log.name).unlink(missing_ok=True)


@contextlib.contextmanager
def portal_sso_env(provider: RunningProvider, *, public_url: str, display_name: str = "Fernhill ID") -> Iterator[None]:
    """Point the portal's settings at a provider, and put everything back afterwards."""
    from portal.settings import reset_settings_cache

    values = {"OIDC_DISCOVERY_URL": provider.discovery_url, "OIDC_CLIENT_ID": provider.client_id,
              "OIDC_CLIENT_SECRET": provider.client_secret, "OIDC_DISPLAY_NAME": display_name,
              "PORTAL_PUBLIC_URL": public_url}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    reset_settings_cache()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reset_settings_cache()
