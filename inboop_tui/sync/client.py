"""The relay's v1 API over httpx, with every failure turned into a one-line SyncError.

httpx is imported where a request is made, not with this module: the app's first screen
needs the module's names but no connection, and httpx takes ~50 ms to import.
"""

from __future__ import annotations

import ipaddress
import ssl
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from relay.protocol import PROTOCOL_VERSION

if TYPE_CHECKING:
    import httpx


class SyncError(Exception):
    """A failure talking to the relay. ``transient`` ones are worth retrying.

    ``kind`` says which state the app shows: ``network`` (offline), ``auth`` (the token was
    refused: sign in again), ``protocol`` (not an Inboop relay, or a broken one),
    ``relay_behind`` (the relay's log is behind this replica: resync), ``local`` (this replica).
    """

    def __init__(
        self, message: str, *, transient: bool, kind: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.kind = kind or ("network" if transient else "protocol")
        self.status = status


def normalise_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise SyncError(
            f"{url!r} is not a relay URL: it must start with http:// or https://", transient=False
        )
    return url


def talks_privately(url: str) -> bool:
    """Whether a token sent to ``url`` stays off the network or is encrypted on it: https, or
    plain http to this machine's loopback."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default (certifi's roots, or SSL_CERT_FILE / SSL_CERT_DIR), made once: loading
    the roots took ~50 ms of every client, and the app's live sync makes one per round."""
    import httpx

    return httpx.create_ssl_context()


class RelayClient:
    def __init__(
        self, base_url: str, token: str, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        import httpx

        self.base_url = normalise_url(base_url)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": f"inboop-tui/protocol-{PROTOCOL_VERSION}",
            },
            transport=transport,
            verify=_tls_context(),
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

    def users(self, *, timeout: float = 10.0) -> list[dict[str, Any]]:
        data = self._request("GET", "/v1/users", timeout=timeout)
        if not isinstance(data, list) or not all(
            isinstance(u, dict) and isinstance(u.get("name"), str) for u in data
        ):
            raise SyncError(
                f"{self.base_url} sent a user list that is not the v1 protocol", transient=False
            )
        return data

    def accounts(self, *, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The accounts the relay can send from."""
        data = self._request("GET", "/v1/accounts", timeout=timeout)
        if not isinstance(data, list) or not all(
            isinstance(a, dict)
            and isinstance(a.get("channel"), str)
            and isinstance(a.get("account_id"), str)
            for a in data
        ):
            raise SyncError(
                f"{self.base_url} sent an account list that is not the v1 protocol", transient=False
            )
        return data

    def templates(self, account_id: str, *, timeout: float = 20.0) -> list[dict[str, Any]]:
        data = self._request(
            "GET", "/v1/templates", params={"account_id": account_id}, timeout=timeout
        )
        if not isinstance(data, list):
            raise SyncError(
                f"{self.base_url} sent templates that are not the v1 protocol", transient=False
            )
        return data

    def has_upload(self, upload_id: str, *, timeout: float = 10.0) -> bool:
        try:
            self._request("GET", f"/v1/uploads/{upload_id}", timeout=timeout)
        except SyncError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def upload(
        self, data: bytes, filename: str, mime_type: str, *, timeout: float = 120.0
    ) -> dict[str, Any]:
        headers = {
            "X-Filename": filename.encode("ascii", "replace").decode(),
            "Content-Type": mime_type,
        }
        answer = self._request(
            "POST", "/v1/uploads", content=data, headers=headers, timeout=timeout
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("upload_id"), str):
            raise SyncError(
                f"{self.base_url} answered an upload outside the v1 protocol", transient=False
            )
        return answer

    def media(
        self, channel: str, message_id: str, index: int = 0, *, timeout: float = 120.0
    ) -> tuple[bytes, str]:
        """An attachment's file as the relay stored it, and its content type."""
        params = {"channel": channel, "message_id": message_id, "index": index}
        response = self._request("GET", "/v1/media", params=params, timeout=timeout, raw=True)
        return response.content, response.headers.get("content-type", "application/octet-stream")

    def diagnostics(self, *, timeout: float = 10.0) -> dict[str, Any]:
        return self._get("/v1/diagnostics", {}, timeout)

    def push(self, mutations: list[dict[str, Any]], *, timeout: float = 10.0) -> dict[str, Any]:
        """Push a batch; the answer has one result per mutation, in the same order."""
        data = self._request(
            "POST", "/v1/mutations", json={"mutations": mutations}, timeout=timeout
        )
        results = data.get("results") if isinstance(data, dict) else None
        if (
            not isinstance(results, list)
            or len(results) != len(mutations)
            or not isinstance(data.get("head"), int)
            or not all(_is_result(r) for r in results)
        ):
            raise SyncError(
                f"{self.base_url} answered a push outside the v1 protocol", transient=False
            )
        return data

    def _get(self, path: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        data = self._request("GET", path, params=params, timeout=timeout)
        if not isinstance(data, dict):
            raise SyncError(f"{self.base_url} did not answer like an Inboop relay", transient=False)
        return data

    def _request(
        self,
        method: str,
        path: str,
        *,
        timeout: float,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        raw: bool = False,
    ) -> Any:
        """The answer's JSON (``raw``: the response itself); every failure a SyncError."""
        import httpx

        try:
            response = self._http.request(
                method,
                path,
                params=params,
                json=json,
                content=content,
                headers=headers,
                timeout=timeout,
            )
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
                "the relay refused your token: ask an admin for a new one, then run `inboop login URL`",
                transient=False,
                kind="auth",
            )
        if response.status_code == 403:
            raise SyncError(
                "the relay says your user may not do that (it needs an ADMIN)",
                transient=False,
                kind="auth",
            )
        if response.status_code >= 500:
            raise SyncError(
                f"the relay at {self.base_url} had an error ({response.status_code})",
                transient=True,
            )
        if response.status_code in (404, 413, 422, 502) and path != "/v1/events":
            raise SyncError(
                f"the relay says: {_detail(response)}", transient=False, status=response.status_code
            )
        if response.status_code != 200:
            raise SyncError(
                f"the relay at {self.base_url} answered {response.status_code} to {path}: is this an Inboop relay?",
                transient=False,
                status=response.status_code,
            )
        if raw:
            return response
        kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind != "application/json":  # a captive portal or a proxy's page, not the relay
            raise SyncError(
                f"{self.base_url} did not answer with JSON (it sent {kind or 'no content type'}): "
                "is this an Inboop relay?",
                transient=False,
            )
        try:
            return orjson.loads(response.content)
        except ValueError as exc:  # orjson's errors are ValueErrors
            raise SyncError(
                f"{self.base_url} did not answer with JSON: is this an Inboop relay?",
                transient=False,
            ) from exc


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, str):
        return detail
    return f"{response.status_code} {response.reason_phrase}"


def _is_result(result: Any) -> bool:
    if not isinstance(result, dict) or result.get("status") not in ("accepted", "rejected"):
        return False
    if result["status"] == "accepted":
        return isinstance(result.get("seq"), int)
    return isinstance(result.get("reason"), str)


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
            or not isinstance(entry.get("origin"), str)  # one this version lacks: kept, listed
            or not isinstance(entry.get("recorded_at"), str)
        ):
            raise SyncError(f"{url} sent an event that is not the v1 protocol", transient=False)
        if entry["seq"] != previous + 1:
            raise SyncError(
                f"{url} sent a page with a gap or out of order (seq {entry['seq']} after {previous}): "
                "nothing was applied; the relay's log is damaged",
                transient=False,
            )
        previous = entry["seq"]
    if events and next_after != previous:
        raise SyncError(
            f"{url} sent a page whose cursor does not match its events", transient=False
        )


async def wait_for_news(base_url: str, token: str, after: int, wait: float) -> bool:
    """Long-poll the relay until an entry after ``after`` exists or ``wait`` seconds pass.

    The live sync awaits this between syncs; being a coroutine, it is cancelled at once when
    the app closes or the agent makes a change. Errors say nothing: the next sync reports them.
    """
    import httpx

    async with httpx.AsyncClient(
        base_url=normalise_url(base_url),
        headers={
            "Authorization": f"Bearer {token}",
            "User-Agent": f"inboop-tui/protocol-{PROTOCOL_VERSION}",
        },
        timeout=wait + 10,
    ) as http:
        try:
            response = await http.get(
                "/v1/events", params={"after": after, "limit": 1, "wait": wait}
            )
            events = response.json().get("events") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return False
    return bool(events)
