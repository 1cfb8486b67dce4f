"""OAuth 2.0 as Google's authorization server answers it, for google-auth and google-auth-oauthlib:

* `GET /o/oauth2/v2/auth` (and `/o/oauth2/auth`): the consent screen, decided by the emulated
  user instead of a person (POST /_admin/consent, else the `login_hint` user, else the only
  user): a 302 to the registered redirect_uri with `code`, `state` and the granted `scope`, or
  with `error=access_denied`. A refresh token is issued only with `access_type=offline`, and
  only on the first consent of a user to a client unless `prompt=consent`.
* `POST /token`: `authorization_code` (single use, short-lived, redirect_uri must match, PKCE
  `S256`/`plain` checked) and `refresh_token`; client credentials in the form or HTTP Basic.
  An unknown or revoked refresh token answers 400 `invalid_grant`, as Google does.
* `POST /revoke`: revokes the grant of an access or refresh token (both stop working).
* `GET /oauth2/v3/userinfo`: who the Bearer token belongs to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from infra.emulators.google_calendar import errors
from infra.emulators.google_calendar.state import AuthorizationCode, EmulatorState

PKCE_VALUE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
TOKEN_FAULTS = ("invalid_grant", "500", "503", "backendError", "429", "tooManyRequests")
NO_STORE = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"}


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status,
                        headers=NO_STORE)


def _error_page(status: int, error: str, description: str) -> Response:
    """What Google shows in the browser instead of redirecting (bad client or redirect_uri)."""
    return Response(f"Error {status}: {error}\n{description}\n", status_code=status,
                    media_type="text/plain")


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (what OAuth clients send), first values."""
    pairs = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form


def pkce_challenge(verifier: str, method: str) -> str:
    if method == "plain":
        return verifier
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


class OAuthServer:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [
            Route("/o/oauth2/v2/auth", self.authorize, methods=["GET"]),
            Route("/o/oauth2/auth", self.authorize, methods=["GET"]),
            Route("/token", self.token, methods=["POST"]),
            Route("/revoke", self.revoke, methods=["POST"]),
            Route("/oauth2/v3/userinfo", self.userinfo, methods=["GET"]),
        ]

    def authenticate(self, request: Request) -> tuple[str, frozenset[str]]:
        """The user and scopes of the request's Bearer token, or 401 authError."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        record = self.state.access_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        grant = self.state.live_grant(record.grant_id) if record is not None else None
        if record is None or grant is None or record.expires_at <= self.state.now():
            raise errors.auth_error()
        return grant.user, record.scopes

    # --- the consent screen ----------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        query = request.query_params
        client = self.state.clients.get(query.get("client_id", ""))
        if client is None:
            return _error_page(401, "invalid_client", "The OAuth client was not found.")
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            return _error_page(400, "redirect_uri_mismatch",
                               f"redirect_uri {redirect_uri!r} is not registered for this client.")
        echo = {"state": query["state"]} if "state" in query else {}

        def refuse(error: str) -> Response:
            return RedirectResponse(_with_query(redirect_uri, {"error": error, **echo}), 302)

        if query.get("response_type") != "code":
            return refuse("unsupported_response_type")
        scopes = query.get("scope", "").split()
        if not scopes:
            return _error_page(400, "invalid_request", "Missing required parameter: scope")
        challenge = query.get("code_challenge")
        method = query.get("code_challenge_method") or ("plain" if challenge else None)
        if method not in (None, "S256", "plain") or (method and not challenge):
            return _error_page(400, "invalid_request", "Invalid code_challenge_method.")
        if challenge and not PKCE_VALUE.fullmatch(challenge):
            return _error_page(400, "invalid_request", "Invalid code_challenge.")

        consent = self.state.consents.popleft() if self.state.consents else None
        if consent is not None:
            email = consent.email
            if not consent.approve:
                return refuse("access_denied")
            granted = [s for s in scopes if consent.scopes is None or s in consent.scopes]
        else:
            hint = query.get("login_hint")
            users = list(self.state.users)
            email = hint if hint in self.state.users else (users[0] if len(users) == 1 else "")
            granted = scopes
        if email not in self.state.users:
            return _error_page(400, "no_user", "No emulated user to sign in as: POST "
                               "/_admin/consent or pass login_hint with a known user.")
        if not granted:
            return refuse("access_denied")
        code = AuthorizationCode(
            code=f"4/emu-{secrets.token_urlsafe(32)}", client_id=client.client_id,
            redirect_uri=redirect_uri, user=email, scopes=frozenset(granted),
            code_challenge=challenge, code_challenge_method=method,
            offline=query.get("access_type") == "offline",
            force_consent="consent" in query.get("prompt", "").split(),
            expires_at=self.state.now() + timedelta(seconds=self.state.config.code_ttl))
        self.state.codes[code.code] = code
        return RedirectResponse(_with_query(redirect_uri, {
            "code": code.code, "scope": " ".join(granted), **echo}), 302)

    # --- the token endpoint ----------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        form = await _form(request)
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(encoded).decode()
            except ValueError:
                decoded = ":"
            client_id, _, client_secret = decoded.partition(":")
        client = self.state.clients.get(client_id)
        if client is None or not hmac.compare_digest(client.client_secret, client_secret):
            return _oauth_error(401, "invalid_client", "Unauthorized")
        fault = self.state.faults.take("oauth.token", kinds=TOKEN_FAULTS)
        if fault is not None:
            if fault.kind == "invalid_grant":
                return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
            status = fault.api_error().code
            return _oauth_error(status, "internal_failure" if status >= 500 else "rate_limit",
                                "Backend Error" if status >= 500 else "Rate Limit Exceeded")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(form, client_id)
        if grant_type == "refresh_token":
            return self._refresh(form, client_id)
        return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _exchange_code(self, form: dict[str, str], client_id: str) -> Response:
        code = self.state.codes.get(form.get("code", ""))
        if (code is None or code.used or code.client_id != client_id
                or code.expires_at <= self.state.now()):
            return _oauth_error(400, "invalid_grant", "Malformed auth code.")
        code.used = True  # single use, whatever happens next
        if form.get("redirect_uri") != code.redirect_uri:
            return _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        if code.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            if not verifier:
                return _oauth_error(400, "invalid_grant", "Missing code verifier.")
            expected = pkce_challenge(verifier, code.code_challenge_method or "plain")
            if not PKCE_VALUE.fullmatch(verifier) or not hmac.compare_digest(
                    expected, code.code_challenge):
                return _oauth_error(400, "invalid_grant", "Invalid code verifier.")
        existing = next((g for g in self.state.grants.values()
                         if g.user == code.user and g.client_id == client_id and not g.revoked
                         and g.refresh_token), None)
        answer: dict = {}
        if existing is not None and not code.force_consent:
            grant = existing  # a returning user: no new refresh token (Google's behaviour)
            grant.scopes = grant.scopes | code.scopes
        else:
            grant = self.state.issue_grant(code.user, client_id, code.scopes, code.offline)
            if grant.refresh_token:
                answer["refresh_token"] = grant.refresh_token
        access = self.state.issue_access_token(grant, code.scopes)
        answer.update(access_token=access.token, expires_in=self.state.config.access_token_ttl,
                      token_type="Bearer", scope=" ".join(sorted(code.scopes)))
        return JSONResponse(answer, headers=NO_STORE)

    def _refresh(self, form: dict[str, str], client_id: str) -> Response:
        grant_id = self.state.refresh_tokens.get(form.get("refresh_token", ""))
        grant = self.state.live_grant(grant_id) if grant_id else None
        if grant is None or grant.client_id != client_id:
            return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        wanted = frozenset(form.get("scope", "").split()) or grant.scopes
        if not wanted <= grant.scopes:
            return _oauth_error(400, "invalid_scope", "Bad Request")
        access = self.state.issue_access_token(grant, wanted)
        return JSONResponse({"access_token": access.token,
                             "expires_in": self.state.config.access_token_ttl,
                             "token_type": "Bearer", "scope": " ".join(sorted(wanted))},
                            headers=NO_STORE)

    # --- revocation and user info ----------------------------------------------------------

    async def revoke(self, request: Request) -> Response:
        form = await _form(request)
        token = form.get("token") or request.query_params.get("token") or ""
        grant_id = self.state.refresh_tokens.get(token)
        if grant_id is None and token in self.state.access_tokens:
            grant_id = self.state.access_tokens[token].grant_id
        grant = self.state.live_grant(grant_id) if grant_id else None
        if grant is None:
            return _oauth_error(400, "invalid_token", "Token expired or revoked")
        self.state.revoke(grant.user, grant.client_id)
        return JSONResponse({})

    async def userinfo(self, request: Request) -> Response:
        try:
            email, _ = self.authenticate(request)
        except errors.ApiError as exc:
            return JSONResponse({"error": "invalid_request",
                                 "error_description": "Invalid Credentials"},
                                status_code=401, headers=exc.headers)
        user = self.state.users[email]
        subject = str(int(hashlib.sha256(email.encode()).hexdigest()[:15], 16))
        return JSONResponse({"sub": subject, "email": email, "email_verified": True,
                             "name": user.name})
