"""Contact search by email and by name, with cursor paging (R3)."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_search_by_email_is_exact_and_case_insensitive(client: TestClient, account) -> None:
    zoe = client.post("/contacts", json={"email": "Zoe@Client.example", "first_name": "Zoe"},
                      headers=account).json()
    client.post("/contacts", json={"email": "zoe@client.example.org"}, headers=account)
    client.post("/contacts", json={"email": "not an email"}, headers=account)
    found = client.get("/contacts", params={"email": " zoe@CLIENT.example "}, headers=account)
    assert found.status_code == 200, found.text
    assert [c["id"] for c in found.json()["items"]] == [zoe["id"]]
    assert found.json()["next_cursor"] is None
    malformed = client.get("/contacts", params={"email": "NOT AN EMAIL"}, headers=account)
    assert [c["email"] for c in malformed.json()["items"]] == ["not an email"]


def test_search_by_name_prefix_pages_with_a_cursor(client: TestClient, account, auth) -> None:
    names = [("Ann", "Lee"), ("anna", "Smith"), ("Annabel", "Ng"), ("Bob", "Annis"),
             ("ANN", "Lee")]
    ids = {client.post("/contacts", json={"first_name": f, "last_name": last},
                       headers=account).json()["id"]: f"{f} {last}".lower()
           for f, last in names}
    expected = sorted((key, cid) for cid, key in ids.items() if key.startswith("ann"))
    seen, cursor = [], None
    while True:
        params = {"name": "  ANN ", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/contacts", params=params, headers=account).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [cid for _, cid in expected] and len(seen) == 4
    full = client.get("/contacts", params={"name": "ann lee"}, headers=account).json()
    assert len(full["items"]) == 2
    other = auth("acc_someone_else")
    client.post("/account", json={"name": "Other"}, headers=other)
    assert client.get("/contacts", params={"name": "ann"}, headers=other).json()["items"] == []


def test_search_takes_at_most_one_non_blank_criterion(client: TestClient, account) -> None:
    for params in ({"email": "a@b.example", "name": "a"}, {"name": "   "}, {"email": " "}):
        response = client.get("/contacts", params=params, headers=account)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "invalid_search"
    bad = client.get("/contacts", params={"name": "a", "cursor": "nonsense"}, headers=account)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"


def test_records_are_found_by_name_prefix(client: TestClient, account, auth) -> None:
    made = {name: client.post("/companies", json={"name": name}, headers=account).json()["id"]
            for name in ("Globex East", "globex West", "Initech", "GLOBEX  North")}
    seen, cursor = [], None
    while True:
        params = {"name": "GLOBEX", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/companies", params=params, headers=account).json()
        seen += [c["name"] for c in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == ["Globex East", "GLOBEX  North", "globex West"]
    client.delete(f"/companies/{made['Globex East']}", headers=account)
    client.patch(f"/companies/{made['Initech']}", json={"name": "Globex Initech"},
                 headers=account)
    names = [c["name"] for c in client.get("/companies", params={"name": "globex "},
                                           headers=account).json()["items"]]
    assert names == ["Globex Initech", "GLOBEX  North", "globex West"]
    ticket = client.post("/tickets", json={"subject": "Printer jam", "status": "new"},
                         headers=account).json()
    found = client.get("/tickets", params={"name": "printer"}, headers=account).json()
    assert [t["id"] for t in found["items"]] == [ticket["id"]]
    other = auth("acc_elsewhere")
    client.post("/account", json={"name": "Other"}, headers=other)
    assert client.get("/companies", params={"name": "globex"}, headers=other).json()[
        "items"] == []
    blank = client.get("/companies", params={"name": "  "}, headers=account)
    assert blank.status_code == 422 and blank.json()["error"]["code"] == "invalid_search"
