"""Every operation behind the gateway's token, on every service, refuses every kind of bad
token with 401 (missing, expired, not yet valid, another key, RSA instead of the expected
EC key, alg none, HS256 signed with the public key, tampered payload, wrong audience or
issuer, garbage). Extends tests/integration/test_skeleton_3_auth.py (six GETs, five kinds)
to every operation of the five OpenAPI documents; the tokens: support/tokens.py."""

from __future__ import annotations

import re

import httpx
import pytest
from security_support import FIGURES, auth, openapi, operations
from security_support.stack import SecurityStack
from support import tokens
from support.skeleton import Account

SERVICES = ("records", "meetings", "calendar-sync", "notifications", "booking-pages")
CODES = {"missing_token", "invalid_token", "token_expired"}


@pytest.mark.parametrize("service", SERVICES)
def test_every_bad_token_gets_401_on_every_operation(stack: SecurityStack, account: Account,
                                                     service: str) -> None:
    protected = [op for op in operations(openapi(stack.url(service))) if op.requires_token]
    assert protected, f"{service} documents no operation behind a token"
    bad = tokens.bad_tokens(stack, account.id, account.host["id"])
    accepted = []
    sent = 0
    with httpx.Client(base_url=stack.url(service), timeout=15) as client:
        for name, make in bad.items():
            token = make()
            headers = auth(token) if token else {}
            for op in protected:
                path = re.sub(r"\{[^}]+\}", "sec_probe_1", op.path)
                params = {name: "sec_probe_1" for name in op.required_query()}
                body = {} if op.method in ("post", "patch", "put") else None
                response = client.request(op.method.upper(), path, params=params, json=body,
                                          headers=headers)
                sent += 1
                if (response.status_code != 401
                        or response.json()["error"]["code"] not in CODES
                        or not response.headers.get("www-authenticate", "").lower().startswith("bearer")):
                    accepted.append((name, op.method, op.path, response.status_code,
                                     response.text[:200]))
        # The control: the same requests with a genuine token get past the door.
        good = tokens.signed(stack, tokens.claims(account.id, account.host["id"]))
        control = client.get(re.sub(r"\{[^}]+\}", "sec_probe_1", protected[0].path),
                             params={n: "sec_probe_1" for n in protected[0].required_query()},
                             headers=auth(good))
    FIGURES.add("jwt tampering", services=1, operations=len(protected), requests=sent,
                refused=sent - len(accepted), accepted=len(accepted))
    FIGURES.add(f"jwt tampering {service}", token_kinds=len(bad), operations=len(protected),
                requests=sent)
    assert not accepted, f"{service} did not answer 401: {accepted[:10]}"
    assert control.status_code != 401, control.text
