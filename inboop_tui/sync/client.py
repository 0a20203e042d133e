"""The relay's v1 API over httpx, with every failure turned into a one-line SyncError."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from relay.protocol import PROTOCOL_VERSION


class SyncError(Exception):
    """A failure talking to the relay. ``transient`` ones are worth retrying."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def normalise_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise SyncError(
            f"{url!r} is not a relay URL: it must start with http:// or https://", transient=False
        )
    return url


class RelayClient:
    def __init__(
        self, base_url: str, token: str, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base_url = normalise_url(base_url)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": f"inboop-tui/protocol-{PROTOCOL_VERSION}",
            },
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RelayClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def me(self, *, timeout: float = 10.0) -> dict[str, Any]:
        data = self._get("/v1/me", {}, timeout)
        if not isinstance(data.get("name"), str):
            raise SyncError(f"{self.base_url} did not answer like an Inboop relay", transient=False)
        return data

    def events(
        self, after: int, limit: int, *, wait: float = 0, timeout: float = 10.0
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"after": after, "limit": limit}
        if wait:
            params["wait"] = wait
        page = self._get("/v1/events", params, timeout + wait)
        _check_page(page, after, self.base_url)
        return page

    def _get(self, path: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        try:
            response = self._http.get(path, params=params, timeout=timeout)
        except httpx.ConnectError as exc:
            raise _connect_error(self.base_url, exc) from exc
        except httpx.TimeoutException as exc:
            raise SyncError(
                f"the relay at {self.base_url} did not answer in time", transient=True
            ) from exc
        except httpx.HTTPError as exc:
            raise SyncError(
                f"lost the connection to {self.base_url}: {exc or type(exc).__name__}",
                transient=True,
            ) from exc
        if response.status_code == 401:
            raise SyncError(
                "the relay refused the token (401): ask an admin for a new one and run `inboop login URL --token TOKEN`",
                transient=False,
            )
        if response.status_code == 403:
            raise SyncError("the relay says this token may not do that (403)", transient=False)
        if response.status_code >= 500:
            raise SyncError(
                f"the relay at {self.base_url} had an error ({response.status_code})",
                transient=True,
            )
        if response.status_code != 200:
            raise SyncError(
                f"the relay at {self.base_url} answered {response.status_code} to {path}: is this an Inboop relay?",
                transient=False,
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise SyncError(
                f"{self.base_url} did not answer with JSON: is this an Inboop relay?",
                transient=False,
            ) from exc
        if not isinstance(data, dict):
            raise SyncError(f"{self.base_url} did not answer like an Inboop relay", transient=False)
        return data


def _connect_error(url: str, exc: httpx.ConnectError) -> SyncError:
    text = str(exc)
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ssl.SSLError) or "SSL" in text or "CERTIFICATE" in text.upper():
        return SyncError(f"TLS error talking to {url}: {text}", transient=False)
    lowered = text.lower()
    if (
        "name or service not known" in lowered
        or "nodename nor servname" in lowered
        or "name resolution" in lowered
        or "no address associated" in lowered
    ):
        return SyncError(f"cannot resolve the relay's host name in {url} (DNS)", transient=True)
    if "refused" in lowered:
        return SyncError(
            f"the relay at {url} is not reachable (connection refused)", transient=True
        )
    return SyncError(f"cannot connect to the relay at {url}: {text}", transient=True)


def _check_page(page: dict[str, Any], after: int, url: str) -> None:
    events = page.get("events")
    next_after = page.get("next_after")
    head = page.get("head")
    if not isinstance(events, list) or not isinstance(next_after, int) or not isinstance(head, int):
        raise SyncError(f"{url} sent a page that is not the v1 protocol", transient=False)
    previous = after
    for entry in events:
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("seq"), int)
            or not isinstance(entry.get("event"), dict)
            or not isinstance(entry.get("type"), str)
            or entry.get("origin") not in ("channel", "mutation")
            or not isinstance(entry.get("recorded_at"), str)
        ):
            raise SyncError(f"{url} sent an event that is not the v1 protocol", transient=False)
        if entry["seq"] <= previous:
            raise SyncError(
                f"{url} sent events out of order (seq {entry['seq']} after {previous})",
                transient=False,
            )
        previous = entry["seq"]
    if events and next_after != previous:
        raise SyncError(
            f"{url} sent a page whose cursor does not match its events", transient=False
        )
