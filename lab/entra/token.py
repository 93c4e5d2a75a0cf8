"""An Entra-like token endpoint: OpenID discovery, signing keys and client-credentials tokens.

msal talks to it unmodified given `authority=f"{base_url}/{tenant}"` and `instance_discovery=False`
(instance discovery would otherwise ask login.microsoftonline.com about the unknown host). Access tokens
are RS256 JWTs shaped like Entra's app-only v1 tokens; Graph and EWS verify them with `verify_access_token`.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from lab.faults import reset_connection, stall

if TYPE_CHECKING:
    from lab.context import LabContext

__all__ = [
    "EWS_RESOURCE",
    "GRAPH_RESOURCE",
    "TOKEN_LIFETIME",
    "TokenError",
    "build_app",
    "issue_access_token",
    "issuer_for",
    "jwks",
    "verify_access_token",
]

GRAPH_RESOURCE = "https://graph.microsoft.com"
EWS_RESOURCE = "https://outlook.office365.com"
# The application permissions the lab's app registration holds, per resource, as tokens carry them in `roles`.
_ROLES: Mapping[str, tuple[str, ...]] = {
    GRAPH_RESOURCE: ("Calendars.Read", "MailboxSettings.Read", "User.Read.All"),
    EWS_RESOURCE: ("full_access_as_app",),
}
TOKEN_LIFETIME = datetime.timedelta(seconds=3599)
_CLOCK_SKEW = datetime.timedelta(minutes=5)


class TokenError(Exception):
    """A bearer token the resource must refuse; `reason` reads like the service's own diagnostics."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def issuer_for(tenant_id: str) -> str:
    """The `iss` of an app-only access token, as Entra's v1 tokens carry it."""
    return f"https://sts.windows.net/{tenant_id}/"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key_id(key: rsa.RSAPublicKey) -> str:
    numbers = key.public_numbers()
    return _b64url(hashlib.sha256(numbers.n.to_bytes(256, "big")).digest()[:20])


def jwks(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The JSON Web Key Set that publishes the token-signing key."""
    public = key.public_key()
    numbers = public.public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    kid = _key_id(public)
    return {
        "keys": [
            {
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": kid,
                "x5t": kid,
                "n": _b64url(n),
                "e": _b64url(e),
            }
        ]
    }


def issue_access_token(
    key: rsa.RSAPrivateKey,
    *,
    tenant_id: str,
    client_id: str,
    resource: str,
    now: datetime.datetime | None = None,
    lifetime: datetime.timedelta = TOKEN_LIFETIME,
) -> str:
    """An RS256 app-only access token for `resource`, valid for `lifetime` from `now`."""
    issued = now or datetime.datetime.now(datetime.UTC)
    # The service principal's object id: stable per app so repeated runs read the same.
    principal = str(uuid.uuid5(uuid.NAMESPACE_URL, f"lab-app:{client_id}"))
    claims = {
        "aud": resource,
        "iss": issuer_for(tenant_id),
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int((issued + lifetime).timestamp()),
        "appid": client_id,
        "appidacr": "1",
        "idp": issuer_for(tenant_id),
        "idtyp": "app",
        "oid": principal,
        "sub": principal,
        "roles": list(_ROLES.get(resource, ())),
        "tid": tenant_id,
        "uti": _b64url(uuid.uuid4().bytes),
        "ver": "1.0",
    }
    kid = _key_id(key.public_key())
    header = {"typ": "JWT", "alg": "RS256", "kid": kid, "x5t": kid}
    signing_input = f"{_b64url(_json(header))}.{_b64url(_json(claims))}".encode("ascii")
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode('ascii')}.{_b64url(signature)}"


def verify_access_token(
    key: rsa.RSAPrivateKey,
    token: str,
    *,
    audiences: tuple[str, ...],
    tenant_id: str,
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """The token's claims if it is ours, for one of `audiences`, for the tenant and in date; else TokenError."""
    if not token:
        raise TokenError("Access token is empty.")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("IDX14100: JWT is not well formed.")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        signature = _b64url_decode(parts[2])
    except ValueError as error:
        raise TokenError("IDX14100: JWT is not well formed.") from error
    if header.get("alg") != "RS256" or header.get("kid") != _key_id(key.public_key()):
        raise TokenError("Access token validation failure. Invalid signature.")
    try:
        key.public_key().verify(
            signature, f"{parts[0]}.{parts[1]}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature as error:
        raise TokenError("Access token validation failure. Invalid signature.") from error
    if claims.get("aud") not in audiences:
        raise TokenError("Access token validation failure. Invalid audience.")
    if claims.get("iss") != issuer_for(tenant_id) or claims.get("tid") != tenant_id:
        raise TokenError("Access token validation failure. Invalid issuer.")
    moment = (now or datetime.datetime.now(datetime.UTC)).timestamp()
    if not (claims.get("nbf", 0) - _CLOCK_SKEW.total_seconds() <= moment < claims.get("exp", 0)):
        raise TokenError("Lifetime validation failed, the token is expired.")
    return dict(claims)


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


# ---------------------------------------------------------------------------------------------- the app


def _aad_error(
    status: int, error: str, code: int, description: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """An error in the shape Entra ID answers the token endpoint with."""
    now = datetime.datetime.now(datetime.UTC)
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    return web.json_response(body, status=status, headers=headers)


class _TokenEndpoint:
    def __init__(self, ctx: LabContext) -> None:
        self._ctx = ctx

    def _tenant_known(self, tenant: str) -> bool:
        online = self._ctx.scenario.exchange_online
        return tenant.lower() in {self._ctx.credentials.tenant_id.lower(), online.tenant.lower()}

    def _unknown_tenant(self, tenant: str) -> web.Response:
        return _aad_error(
            400,
            "invalid_tenant",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
        )

    async def _fault(self, request: web.Request, operation: str) -> web.StreamResponse | None:
        spec = await self._ctx.faults.take("token", operation)
        if spec is None or spec.kind == "latency":
            return None
        if spec.kind == "timeout":
            await stall(request)
            return web.Response(status=504)
        if spec.kind == "reset":
            return reset_connection(request)
        if spec.kind == "throttle":
            seconds = max(1, round(spec.back_off_ms / 1000))
            return _aad_error(
                429,
                "temporarily_unavailable",
                50196,
                "The server is temporarily unavailable because of too many requests.",
                {"Retry-After": str(seconds)},
            )
        return _aad_error(401, "invalid_client", 7000215, "Invalid client secret provided.")

    async def openid_configuration(self, request: web.Request) -> web.StreamResponse:
        tenant = request.match_info["tenant"]
        if (fault := await self._fault(request, "openid-configuration")) is not None:
            return fault
        if not self._tenant_known(tenant):
            return self._unknown_tenant(tenant)
        base = f"{request.scheme}://{request.host}/{tenant}"
        tid = self._ctx.credentials.tenant_id
        return web.json_response(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{request.scheme}://{request.host}/{tid}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{request.scheme}://{request.host}/{tid}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "tenant_region_scope": "EU",
            }
        )

    async def keys(self, request: web.Request) -> web.StreamResponse:
        if (fault := await self._fault(request, "keys")) is not None:
            return fault
        return web.json_response(jwks(self._ctx.tls.token_signing_key()))

    async def token(self, request: web.Request) -> web.StreamResponse:
        tenant = request.match_info["tenant"]
        form = await request.post()
        if (fault := await self._fault(request, "token")) is not None:
            return fault
        if not self._tenant_known(tenant):
            return self._unknown_tenant(tenant)
        if form.get("grant_type") != "client_credentials":
            return _aad_error(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        client_id, secret = _client_credentials(request, form)
        creds = self._ctx.credentials
        if client_id != creds.client_id:
            return _aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
            )
        if not hmac.compare_digest(secret.encode(), creds.client_secret.encode()):
            return _aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                f"secret value, not the client secret ID, for a secret added to app '{client_id}'.",
            )
        scope = str(form.get("scope", ""))
        resource = _resource_of(scope)
        if resource is None:
            return _aad_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows must have a scope "
                "value with /.default suffixed to the resource identifier (application ID URI).",
            )
        if resource not in _ROLES:
            return _aad_error(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant named {tenant}.",
            )
        token = issue_access_token(
            self._ctx.tls.token_signing_key(),
            tenant_id=creds.tenant_id,
            client_id=client_id,
            resource=resource,
        )
        seconds = int(TOKEN_LIFETIME.total_seconds())
        return web.json_response(
            {"token_type": "Bearer", "expires_in": seconds, "ext_expires_in": seconds, "access_token": token}
        )


def _client_credentials(request: web.Request, form: Mapping[str, Any]) -> tuple[str, str]:
    """client_secret_post or client_secret_basic, as Entra accepts both."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except ValueError:
            return "", ""
        return user, password
    return str(form.get("client_id", "")), str(form.get("client_secret", ""))


def _resource_of(scope: str) -> str | None:
    """`https://graph.microsoft.com/.default` -> `https://graph.microsoft.com`; other forms -> None."""
    scopes = [s for s in scope.split() if s not in ("openid", "profile", "offline_access")]
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        return None
    return scopes[0].removesuffix("/.default")


def build_app(ctx: LabContext) -> web.Application:
    """The token endpoint for `ctx`'s tenant and app registration."""
    endpoint = _TokenEndpoint(ctx)
    app = web.Application()
    app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", endpoint.openid_configuration)
    app.router.add_get("/{tenant}/discovery/v2.0/keys", endpoint.keys)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", endpoint.token)
    return app
