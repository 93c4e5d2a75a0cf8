"""A loopback identity provider: OpenID metadata and signing keys for inbound tokens, a token endpoint for
outbound ones, so the bot's authentication runs for real without leaving the machine.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import jwt
from aiohttp import web
from azure.core.credentials_async import AsyncTokenCredential
from cryptography.hazmat.primitives.asymmetric import rsa
from microsoft_agents.hosting.core import (
    AccessTokenProviderBase,
    AgentAuthConfiguration,
    ConnectionManager,
    Connections,
)
from microsoft_agents.hosting.core.authorization.authentication_constants import AuthenticationConstants
from microsoft_agents.hosting.core.authorization.jwt import JwtTokenValidator
from microsoft_agents.hosting.core.authorization.jwt.jwt_token_validator import _JwkClientCacheEntry

from bot.testing.server import LoopbackServer

__all__ = [
    "BOT_FRAMEWORK_ISSUER",
    "LoopbackIdentityProvider",
    "LoopbackTokenProvider",
    "loopback_connections",
    "signing_keys_from",
]

BOT_FRAMEWORK_ISSUER = AuthenticationConstants.AGENTS_SDK_TOKEN_ISSUER
KEY_ID = "loopback-1"


class LoopbackIdentityProvider:
    """Mints tokens the way the Bot Framework and Entra do, and serves the keys to check them."""

    def __init__(self, client_id: str, client_secret: str) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._server: LoopbackServer | None = None
        self.issued: list[str] = []

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the identity provider is not running")
        return self._server.url

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/keys"

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/keys", self._keys)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        self._server = LoopbackServer(app)
        return await self._server.start()

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()

    def mint(
        self,
        *,
        audience: str | None = None,
        issuer: str = BOT_FRAMEWORK_ISSUER,
        service_url: str = "",
        lifetime: float = 600,
        issued_at: float | None = None,
        claims: dict[str, Any] | None = None,
        foreign_key: bool = False,
    ) -> str:
        """An inbound token as Teams' channel service would send it (`foreign_key` signs with a stranger's key)."""
        now = time.time() if issued_at is None else issued_at
        payload: dict[str, Any] = {
            "iss": issuer,
            "aud": self.client_id if audience is None else audience,
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now + lifetime),
            **({"serviceurl": service_url} if service_url else {}),
            **(claims or {}),
        }
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if foreign_key else self._key
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": KEY_ID})

    async def _metadata(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": BOT_FRAMEWORK_ISSUER,
                "jwks_uri": self.jwks_url,
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def _keys(self, _request: web.Request) -> web.Response:
        numbers = self._key.public_key().public_numbers()
        jwk = {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": KEY_ID,
            "n": _b64(numbers.n),
            "e": _b64(numbers.e),
        }
        return web.json_response({"keys": [jwk]})

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("client_id") != self.client_id or form.get("client_secret") != self._client_secret:
            return web.json_response({"error": "invalid_client"}, status=401)
        token = f"loopback-{uuid.uuid4().hex}"
        self.issued.append(token)
        return web.json_response({"access_token": token, "token_type": "Bearer", "expires_in": 3600})


class LoopbackTokenProvider(AccessTokenProviderBase):
    """The bot's outbound credential, fetched by client credentials from the loopback identity provider.

    Plugs into the SDK's `ConnectionManager(provider_factory=...)`, the SDK's extension point for token
    providers; it stands in for MSAL, which only talks to Entra ID over https.
    """

    def __init__(self, token_endpoint: str, configuration: AgentAuthConfiguration) -> None:
        self._endpoint = token_endpoint
        self._configuration = configuration

    @property
    def configuration(self) -> AgentAuthConfiguration:
        return self._configuration

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._configuration.CLIENT_ID or "",
            "client_secret": self._configuration.CLIENT_SECRET or "",
            "scope": " ".join(scopes),
        }
        async with aiohttp.ClientSession() as session, session.post(self._endpoint, data=form) as response:
            response.raise_for_status()
            token: str = (await response.json())["access_token"]
            return token

    def get_token_credential(self) -> AsyncTokenCredential:
        raise NotImplementedError("not used by the bot host")

    # User sign-in and agentic identities are not used by the bot host.
    async def acquire_token_on_behalf_of(self, scopes: list[str], user_assertion: str) -> str:
        raise NotImplementedError

    async def get_agentic_application_token(self, tenant_id: str, agent_app_instance_id: str) -> str | None:
        raise NotImplementedError

    async def get_agentic_instance_token(self, tenant_id: str, agent_app_instance_id: str) -> tuple[str, str]:
        raise NotImplementedError

    async def get_agentic_user_token(
        self, tenant_id: str, agent_app_instance_id: str, agentic_user_id: str, scopes: list[str]
    ) -> str | None:
        raise NotImplementedError


def loopback_connections(
    idp: LoopbackIdentityProvider, tenant_id: str
) -> Callable[[AgentAuthConfiguration], Connections]:
    """A `connections` factory for `create_app`: outbound tokens from `idp`'s token endpoint."""
    endpoint = f"{idp.url}/{tenant_id}/oauth2/v2.0/token"

    def build(configuration: AgentAuthConfiguration) -> Connections:
        return ConnectionManager(
            provider_factory=lambda config: LoopbackTokenProvider(endpoint, config),
            connections_configurations={"SERVICE_CONNECTION": configuration},
        )

    return build


@contextmanager
def signing_keys_from(jwks_url: str, *issuer_key_urls: str) -> Iterator[None]:
    """Make the SDK's token validator fetch signing keys from `jwks_url` (test equipment only).

    The SDK derives where keys come from from the token's issuer and has no setting for it: the Bot Framework
    issuer's keys come from login.botframework.com. It keeps one key client per key URL in a cache on the
    validator class; this places a client for the loopback keys under the Bot Framework URL (and any other
    URLs given) and restores the cache afterwards. Everything else in validation runs unchanged.
    """
    cache: dict[str, Any] = JwtTokenValidator._jwk_client_manager._cache
    urls = (AuthenticationConstants.PUBLIC_ABS_JWKS_URL, *issuer_key_urls)
    saved = {url: cache.get(url) for url in urls}
    entry = _JwkClientCacheEntry(jwt.PyJWKClient(jwks_url, cache_keys=False), threading.Lock())
    for url in urls:
        cache[url] = entry
    try:
        yield
    finally:
        for url, previous in saved.items():
            if previous is None:
                cache.pop(url, None)
            else:
                cache[url] = previous


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
