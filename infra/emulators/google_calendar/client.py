"""A small client of the emulator's admin API, for tests and `make run` (httpx, synchronous)."""

from __future__ import annotations

from typing import Any

import httpx


class EmulatorAdmin:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url + "/_admin", trust_env=False, timeout=10)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=body, params=params)
        if response.status_code >= 400:
            raise RuntimeError(f"admin {method} {path} -> {response.status_code}: {response.text}")
        return response.json() if response.status_code != 204 else None

    # the world
    def reset(self) -> None:
        self._call("POST", "/reset")

    def add_user(self, email: str, name: str = "", time_zone: str = "UTC") -> dict:
        return self._call("POST", "/users", {"email": email, "name": name, "timeZone": time_zone})

    def add_client(self, client_id: str, client_secret: str, redirect_uris: list[str]) -> dict:
        return self._call("POST", "/clients", {"clientId": client_id, "clientSecret": client_secret,
                                               "redirectUris": redirect_uris})

    def add_calendar(self, owner: str, summary: str, time_zone: str | None = None,
                     calendar_id: str | None = None) -> dict:
        return self._call("POST", "/calendars", {"owner": owner, "summary": summary,
                                                 "timeZone": time_zone, "id": calendar_id})

    def users(self) -> list[dict]:
        return self._call("GET", "/users")["items"]

    def calendar_ids(self, email: str) -> list[str]:
        """The calendars in the user's calendar list (the primary first)."""
        return next(u["calendarIds"] for u in self.users() if u["email"] == email)

    def calendar(self, calendar_id: str) -> dict:
        """A calendar as stored: owner, summary, description, time zone, ACL (404 -> error)."""
        return self._call("GET", f"/calendars/{calendar_id}")

    def remove_calendar(self, calendar_id: str) -> None:
        self._call("DELETE", f"/calendars/{calendar_id}")

    def share_calendar(self, calendar_id: str, email: str, role: str) -> None:
        self._call("POST", f"/calendars/{calendar_id}/share", {"email": email, "role": role})

    def invalidate_sync_tokens(self, calendar_id: str) -> None:
        self._call("POST", f"/calendars/{calendar_id}/invalidate-sync-tokens")

    # events as the owner edits them in Google Calendar
    def stored_events(self, calendar_id: str) -> list[dict]:
        return self._call("GET", f"/calendars/{calendar_id}/events")["items"]

    def insert_event(self, calendar_id: str, event: dict) -> dict:
        return self._call("POST", f"/calendars/{calendar_id}/events", event)

    def patch_event(self, calendar_id: str, event_id: str, patch: dict) -> dict:
        return self._call("PATCH", f"/calendars/{calendar_id}/events/{event_id}", patch)

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        self._call("DELETE", f"/calendars/{calendar_id}/events/{event_id}")

    # faults
    def add_fault(self, operation: str, kind: str, count: int = 1, **custom: Any) -> dict:
        return self._call("POST", "/faults", {"operation": operation, "kind": kind,
                                              "count": count, **custom})

    def faults(self) -> list[dict]:
        return self._call("GET", "/faults")["items"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    # OAuth
    def consent(self, email: str, approve: bool = True, scopes: list[str] | None = None) -> None:
        self._call("POST", "/consent", {"email": email, "approve": approve, "scopes": scopes})

    def grant(self, email: str, client_id: str, scopes: list[str], offline: bool = True) -> dict:
        return self._call("POST", "/grants", {"email": email, "clientId": client_id,
                                              "scopes": scopes, "offline": offline})

    def grants(self, email: str | None = None) -> list[dict]:
        path = "/grants" + (f"?email={email}" if email else "")
        return self._call("GET", path)["items"]

    def revoke_user(self, email: str, client_id: str | None = None) -> int:
        return self._call("POST", f"/users/{email}/revoke", {"clientId": client_id})["revoked"]

    def expire_access_tokens(self, email: str | None = None) -> int:
        return self._call("POST", "/access-tokens/expire", {"email": email})["expired"]

    # clock, config, observations
    def advance_clock(self, seconds: float) -> str:
        return self._call("POST", "/clock", {"advanceSeconds": seconds})["now"]

    def configure(self, **settings: Any) -> dict:
        return self._call("POST", "/config", settings)

    def channels(self) -> list[dict]:
        return self._call("GET", "/channels")["items"]

    def notifications(self) -> list[dict]:
        return self._call("GET", "/notifications")["items"]

    def requests(self, operation: str | None = None) -> list[dict]:
        return self._call("GET", "/requests", params={"operation": operation} if operation else None)[
            "items"]

    def close(self) -> None:
        self.http.close()
