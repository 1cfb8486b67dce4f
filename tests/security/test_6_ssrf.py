"""SSRF probes on every user-supplied URL there is: calendar-sync's CalDAV connect URL
(POST /connections/caldav; Google's endpoints are the operator's, and EWS and video
extensions do not exist yet). With the default policy every loopback, private, link-local,
metadata, IPv6, IPv4-mapped, decimal or octal spelling and every name resolving to one is
refused with the documented 400 url_refused, and the target listening there is never
reached; with loopback opened by the operator (as in the integration stack), a redirect to
an address that stays closed is refused too. The control shows the target is reachable
when the policy lets it through, so the probes can fail."""

from __future__ import annotations

import uuid

import pytest
from security_support import FIGURES
from security_support.stack import SecurityStack
from security_support.targets import serving
from support import wait_for
from support.calendar_sync import SyncAccount, sync_call

PRIVATE = ["http://10.0.0.1/dav/", "http://172.16.0.1/dav/", "http://192.168.1.1/dav/",
           "http://100.64.0.1/dav/", "http://[fc00::1]/dav/", "http://[fd12:3456::1]/dav/"]
METADATA = ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/dav/",
            "http://[::ffff:169.254.169.254]/latest/meta-data/"]


def loopback_forms(port: int) -> list[str]:
    return [f"http://{host}:{port}/dav/" for host in (
        "127.0.0.1", "127.1", "127.0.0.2", "2130706433", "0177.0.0.1", "0x7f.0.0.1",
        "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "0.0.0.0", "localhost", "localhost.",
        "LOCALHOST")]


async def connect(stack: SecurityStack, acc: SyncAccount, url: str):
    body = {"url": url, "username": "probe", "password": f"probe-pw-{uuid.uuid4().hex}"}

    async def attempt():
        answer = await sync_call(stack, "POST", "/connections/caldav", acc.token(), json=body)
        return None if answer.status_code == 403 else answer  # the host not known yet

    return await wait_for(attempt, "calendar-sync to know the host", timeout=40)


def refused(answer) -> bool:
    return answer.status_code == 400 and answer.json()["error"]["code"] == "url_refused"


@pytest.fixture(scope="module")
def prober(stack: SecurityStack) -> SyncAccount:
    return SyncAccount(stack)


async def test_every_internal_address_is_refused_and_never_reached(
        stack: SecurityStack, prober: SyncAccount) -> None:
    with serving() as target:
        probes = [*loopback_forms(target.port), *PRIVATE, *METADATA]
        answers = {url: await connect(stack, prober, url) for url in probes}
        hits = target.hits
    let_through = {url: (a.status_code, a.text[:150]) for url, a in answers.items() if not refused(a)}
    FIGURES.add("ssrf", probes=len(probes), refused=len(probes) - len(let_through),
                target_hits=hits)
    assert not let_through, f"not refused as url_refused: {let_through}"
    assert hits == 0, f"the loopback target was reached {hits} times"


async def test_a_redirect_to_a_closed_address_is_refused(
        stack: SecurityStack, prober: SyncAccount) -> None:
    """Loopback opened (the operator's setting) so the first hop is allowed; link-local,
    metadata and 0.0.0.0 (which reaches the local host) stay closed on every hop."""
    with serving() as target, stack.private_urls_allowed():
        # The control: with loopback open the target is reached, so the probes could fail.
        control = await connect(stack, prober, f"http://127.0.0.1:{target.port}/dav/")
        reached = target.hits
        assert reached >= 1, (control.status_code, control.text)
        closed = [f"http://0.0.0.0:{target.port}/dav/", "http://169.254.169.254/latest/meta-data/",
                  f"http://[::ffff:0.0.0.0]:{target.port}/dav/"]
        answers = {}
        for location in closed:
            with serving(location) as redirector:
                answers[location] = (await connect(
                    stack, prober, f"http://127.0.0.1:{redirector.port}/dav/"), redirector.hits)
            direct = await connect(stack, prober, location)
            assert refused(direct), (location, direct.status_code, direct.text)
        hits = target.hits - reached
    let_through = {loc: (a.status_code, a.text[:150]) for loc, (a, _) in answers.items()
                   if not refused(a)}
    FIGURES.add("ssrf", probes=2 * len(closed), refused=2 * len(closed) - len(let_through),
                redirects_followed_to_closed=hits)
    assert all(redirector_hits >= 1 for _, redirector_hits in answers.values()), answers
    assert not let_through, f"a redirect to a closed address was not refused: {let_through}"
    assert hits == 0, f"the target behind 0.0.0.0 was reached {hits} times through a redirect"
