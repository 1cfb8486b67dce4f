"""The owner's side: pages, slugs unique across domains, account settings, links, robots.txt
and prefill links."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from booking_pages_support import user_upserted

PAGE = {"slug": "olga-intro", "title": "Intro call with Olga", "time_zone": "Europe/Rome",
        "durations": [30, 60], "minimum_notice_minutes": 0}


async def _create(client: httpx.AsyncClient, mint: Any, user: str = "u1", **fields: Any
                  ) -> httpx.Response:
    return await client.post("/pages", headers=mint(user), json={**PAGE, **fields})


async def test_an_owner_creates_a_page_without_a_calendar_and_reads_it_back(
        client: httpx.AsyncClient, mint: Any) -> None:
    created = await _create(client, mint)
    assert created.status_code == 201, created.text
    page = created.json()
    assert page["owner_user_id"] == "u1" and page["weekly"]["mon"] == [
        {"start": "09:00", "end": "17:00"}] and page["weekly"]["sat"] == []
    assert page["url"] == "http://127.0.0.1:8105/meetings/olga-intro"
    again = await client.get(f"/pages/{page['page_id']}", headers=mint("u2"))
    assert again.json()["title"] == "Intro call with Olga"
    foreign = await client.get(f"/pages/{page['page_id']}", headers=mint("u1", "acc_other"))
    assert foreign.status_code == 404


async def test_of_two_creates_racing_for_one_slug_exactly_one_wins(
        client: httpx.AsyncClient, mint: Any) -> None:
    answers = await asyncio.gather(*[_create(client, mint, f"u{i}", title=f"Page {i}")
                                     for i in range(6)])
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409, 409, 409]
    refused = next(a for a in answers if a.status_code == 409).json()["error"]
    assert refused["code"] == "slug_taken"
    other_account = await _create(client, lambda u: mint(u, "acc_other"))
    assert other_account.status_code == 409  # one slug across every domain and account


async def test_a_changed_or_deleted_page_frees_its_slug(client: httpx.AsyncClient,
                                                        mint: Any) -> None:
    page = (await _create(client, mint)).json()
    moved = await client.patch(f"/pages/{page['page_id']}", headers=mint("u1"),
                               json={"slug": "olga-demo"})
    assert moved.status_code == 200 and moved.json()["version"] == 1
    assert (await _create(client, mint, "u2")).status_code == 201  # olga-intro is free
    gone = await client.delete(f"/pages/{page['page_id']}", headers=mint("u1"))
    assert gone.status_code == 204
    assert (await _create(client, mint, "u3", slug="olga-demo")).status_code == 201


async def test_only_the_owner_or_an_admin_changes_a_page(client: httpx.AsyncClient,
                                                         mint: Any) -> None:
    page = (await _create(client, mint)).json()
    refused = await client.patch(f"/pages/{page['page_id']}", headers=mint("u2"),
                                 json={"title": "Mine now"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_page_owner"
    admin = await client.patch(f"/pages/{page['page_id']}", headers=mint("u2", roles=("admin",)),
                               json={"title": "Fixed by an admin"})
    assert admin.status_code == 200 and admin.json()["title"] == "Fixed by an admin"


async def test_settings_no_visitor_could_book_with_are_refused_with_a_code(
        client: httpx.AsyncClient, mint: Any) -> None:
    cases = [
        ({"time_zone": "Mars/Olympus"}, "time_zone_unknown"),
        ({"durations": [7]}, "duration_invalid"),
        ({"weekly": {"mon": [{"start": "12:00", "end": "10:00"}]}}, "hours_invalid"),
        ({"weekly": {"funday": []}}, "weekly_invalid"),
        ({"form_fields": [{"key": "email", "label": "Email again"}]}, "form_fields_invalid"),
        ({"form_fields": [{"key": "size", "label": "Size", "kind": "select"}]},
         "form_fields_invalid"),
        ({"slot_interval_minutes": 7}, "interval_invalid"),
    ]
    for fields, code in cases:
        refused = await _create(client, mint, **fields)
        assert refused.status_code == 422, (fields, refused.text)
        assert refused.json()["error"]["code"] == code, (fields, refused.json())
    assert (await _create(client, mint)).status_code == 201  # no slug was kept by a refusal


async def test_account_settings_are_for_admins_and_a_domain_belongs_to_one_account(
        client: httpx.AsyncClient, mint: Any) -> None:
    page = (await _create(client, mint)).json()
    refused = await client.patch("/account/booking-settings", headers=mint("u1"),
                                 json={"pages_enabled": False})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_required"
    admin = mint("u9", roles=("admin",))
    changed = await client.patch("/account/booking-settings", headers=admin, json={
        "custom_domain": "meet.acme.example", "default_page_id": page["page_id"],
        "hide_custom_domain_from_search": True})
    assert changed.status_code == 200, changed.text
    assert changed.json()["default_page_url"] == "https://meet.acme.example/meetings/olga-intro"
    links = (await client.get(f"/pages/{page['page_id']}/links", headers=mint("u1"))).json()
    assert links["url"] == "https://meet.acme.example/meetings/olga-intro"
    assert 'src="https://meet.acme.example/meetings/olga-intro?embed=1"' in links["iframe"]
    taken = await client.patch("/account/booking-settings",
                               headers=mint("x", "acc_other", roles=("admin",)),
                               json={"custom_domain": "meet.acme.example"})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "domain_taken"
    switched = await client.patch("/account/booking-settings", headers=admin,
                                  json={"custom_domain": "book.acme.example"})
    assert switched.json()["default_page_url"] == "https://book.acme.example/meetings/olga-intro"
    freed = await client.patch("/account/booking-settings",
                               headers=mint("x", "acc_other", roles=("admin",)),
                               json={"custom_domain": "meet.acme.example"})
    assert freed.status_code == 200  # the old domain was let go


@pytest.mark.parametrize("prefix", ["pages", "public", "account", "metrics", "docs"])
async def test_a_url_prefix_may_not_be_a_path_of_the_service(
        client: httpx.AsyncClient, mint: Any, prefix: str) -> None:
    admin = mint("u9", roles=("admin",))
    refused = await client.patch("/account/booking-settings", headers=admin,
                                 json={"url_prefix": prefix})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "url_prefix_reserved"
    kept = await client.patch("/account/booking-settings", headers=admin,
                              json={"url_prefix": "book"})
    assert kept.status_code == 200 and kept.json()["url_prefix"] == "book"


async def test_robots_txt_keeps_search_engines_off_a_custom_domain_when_asked(
        client: httpx.AsyncClient, mint: Any) -> None:
    admin = mint("u9", roles=("admin",))
    await client.patch("/account/booking-settings", headers=admin,
                       json={"custom_domain": "meet.acme.example"})
    custom = {"Host": "meet.acme.example"}
    assert "Disallow: /meetings" not in (await client.get("/robots.txt", headers=custom)).text
    await client.patch("/account/booking-settings", headers=admin,
                       json={"hide_custom_domain_from_search": True})
    hidden = await client.get("/robots.txt", headers=custom)
    assert hidden.status_code == 200 and "Disallow: /meetings*" in hidden.text
    assert "Disallow: /meetings" not in (await client.get("/robots.txt")).text


async def test_a_page_is_served_on_its_account_domain_and_not_on_another(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await harness.deliver(user_upserted("u1"))
    await _create(client, mint)
    await client.patch("/account/booking-settings", headers=mint("a", roles=("admin",)),
                       json={"custom_domain": "meet.acme.example"})
    await client.patch("/account/booking-settings",
                       headers=mint("b", "acc_other", roles=("admin",)),
                       json={"custom_domain": "meet.globex.example"})
    on_default = await client.get("/public/pages/olga-intro")
    on_own = await client.get("/public/pages/olga-intro", headers={"Host": "meet.acme.example"})
    on_other = await client.get("/public/pages/olga-intro",
                                headers={"Host": "meet.globex.example"})
    assert (on_default.status_code, on_own.status_code, on_other.status_code) == (200, 200, 404)


async def test_a_prefill_link_shows_its_visitor_only_on_its_page_and_only_until_it_expires(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await harness.deliver(user_upserted("u1"))
    page = (await _create(client, mint, form_fields=[
        {"key": "company", "label": "Company"}])).json()
    other = (await _create(client, mint, slug="olga-other")).json()
    made = await client.post(f"/pages/{page['page_id']}/prefill-links", headers=mint("u1"),
                             json={"name": "Dana Lee", "email": "dana@globex.example",
                                   "answers": {"company": "Globex", "secret": "x"}})
    assert made.status_code == 201
    token = made.json()["url"].split("prefill=", 1)[1]
    shown = (await client.get("/public/pages/olga-intro", params={"prefill": token})).json()
    assert shown["prefill"] == {"name": "Dana Lee", "email": "dana@globex.example",
                                "answers": {"company": "Globex"}}
    elsewhere = await client.get(f"/public/pages/{other['slug']}", params={"prefill": token})
    assert elsewhere.json()["prefill"] is None
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert (await client.get("/public/pages/olga-intro",
                             params={"prefill": tampered})).json()["prefill"] is None
    harness.clock.advance(15 * 24 * 3600)
    expired = await client.get("/public/pages/olga-intro", params={"prefill": token})
    assert expired.json()["prefill"] is None


async def test_the_account_of_a_page_is_the_callers(client: httpx.AsyncClient,
                                                    mint: Any) -> None:
    await _create(client, mint)
    listing = await client.get("/pages", headers=mint("u1", "acc_other"))
    assert listing.json()["pages"] == []
    assert [p["slug"] for p in (await client.get("/pages", headers=mint("u1"))).json()[
        "pages"]] == ["olga-intro"]


async def test_null_for_a_setting_that_cannot_be_empty_is_a_422_not_a_500(
        client: httpx.AsyncClient, mint: Any) -> None:
    # Found by schemathesis (tests/security): the merged settings failed validation -> 500.
    page = (await _create(client, mint)).json()
    refused = await client.patch(f"/pages/{page['page_id']}", headers=mint("u1"),
                                 json={"slot_interval_minutes": None})
    assert refused.status_code == 422, refused.text
    no_cap = await client.patch(f"/pages/{page['page_id']}", headers=mint("u1"),
                                json={"maximum_per_day": None})
    assert no_cap.status_code == 200 and no_cap.json()["maximum_per_day"] is None
    admin = mint("u9", roles=("admin",))
    refused = await client.patch("/account/booking-settings", headers=admin,
                                 json={"pages_enabled": None})
    assert refused.status_code == 422, refused.text
    cleared = await client.patch("/account/booking-settings", headers=admin,
                                 json={"custom_domain": None})
    assert cleared.status_code == 200, cleared.text
