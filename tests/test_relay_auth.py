"""The relay's API refuses every token that is not a live user's, in one clear answer, and keeps
ADMIN-only things from MEMBERs; no token or secret ever reaches its log or an error message."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from relay import simulator as meta
from relay.protocol import format_time
from tests.harness import APP_SECRET, VERIFY_TOKEN, RelayProcess, inboop

# Every endpoint that needs a token, with a harmless request.
PROTECTED: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/v1/me", {}),
    ("GET", "/v1/events", {"params": {"after": 0}}),
    ("GET", "/v1/users", {}),
    ("GET", "/v1/integration-failures", {}),
    ("GET", "/v1/diagnostics", {}),
    ("POST", "/v1/mutations", {"json": {"mutations": []}}),
    ("GET", "/v1/media", {"params": {"channel": "MESSENGER", "message_id": "m_1", "index": 0}}),
    ("POST", "/v1/uploads", {"content": b"x", "headers": {"Content-Type": "image/png"}}),
    ("GET", "/v1/uploads/u_1", {}),
    ("GET", "/v1/accounts", {}),
    ("GET", "/v1/templates", {}),
]
ADMIN_ONLY = {"/v1/integration-failures", "/v1/diagnostics"}


def call(
    relay: RelayProcess, method: str, path: str, auth: str | None, **kw: Any
) -> httpx.Response:
    headers = dict(kw.pop("headers", {}))
    if auth is not None:
        headers["Authorization"] = auth
    return httpx.request(method, relay.url + path, headers=headers, timeout=30, **kw)


def test_tokens_that_are_not_a_live_users_are_refused_everywhere(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    member = relay.add_user("bo")
    gone = relay.add_user("gone")
    relay.cli("users", "revoke", "gone")
    refused = {
        "no header": None,
        "empty": "",
        "no scheme": admin_token,
        "another scheme": f"Basic {admin_token}",
        "bearer alone": "Bearer",
        "bearer and blanks": "Bearer    ",
        "unknown": "Bearer inb_not-a-token",
        "revoked": f"Bearer {gone}",
        "half of a real one": f"Bearer {admin_token[: len(admin_token) // 2]}",
        "a real one and more": f"Bearer {admin_token}x",
        "huge": "Bearer " + "a" * 20_000,
        "not ascii": "Bearer inb_\u00e9\u00e9",
        "control characters": "Bearer inb_\x01\x02",
    }
    for method, path, kw in PROTECTED:
        for name, auth in refused.items():
            try:
                response = call(relay, method, path, auth, **dict(kw))
            except (httpx.LocalProtocolError, UnicodeEncodeError):
                continue  # the client itself will not send such a header
            assert response.status_code in (400, 401, 431), (path, name, response.status_code)
            if response.status_code == 401:
                assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
                assert "detail" in response.json()
            for secret in (admin_token, member, gone):  # a refusal never repeats a token
                assert secret not in response.text and secret not in str(response.headers)
        member_answer = call(relay, method, path, f"Bearer {member}", **dict(kw))
        if path in ADMIN_ONLY:
            assert member_answer.status_code == 403, path
        else:
            assert member_answer.status_code not in (401, 403) and member_answer.status_code < 500

    # A MEMBER's token cannot write as someone else, nor do what only an ADMIN may.
    now = format_time(datetime.now(UTC))
    as_admin = {
        "id": "00000000-0000-4000-8000-000000000001",
        "type": "workspace.sla",
        "author": "admin",
        "client_time": now,
        "payload": {"expected_first_response_minutes": 5},
    }
    pushed = call(
        relay, "POST", "/v1/mutations", f"Bearer {member}", json={"mutations": [as_admin]}
    )
    assert pushed.status_code == 200
    (result,) = pushed.json()["results"]
    assert result["seq"] is None and "is not the token's user" in result["reason"]
    own = {**as_admin, "id": "00000000-0000-4000-8000-000000000002", "author": "bo"}
    pushed = call(relay, "POST", "/v1/mutations", f"Bearer {member}", json={"mutations": [own]})
    (result,) = pushed.json()["results"]
    assert result["seq"] is None and "ADMIN" in result["reason"]

    # The agent's side: a refused token is one line that does not repeat it.
    home = tmp_path / "agent"
    login = inboop(home, "login", relay.url, "--token", gone)
    assert login.returncode == 1 and gone not in login.stderr + login.stdout

    # A sync that works, then one whose token was revoked meanwhile: both are in the log.
    assert inboop(home, "login", relay.url, stdin=member).returncode == 0
    assert inboop(home, "sync").returncode == 0
    relay.cli("users", "revoke", "bo")
    assert inboop(home, "sync").returncode == 1

    secrets = [admin_token, member, gone, APP_SECRET, VERIFY_TOKEN]
    relay_log = relay.log()
    assert relay_log, "the relay logged nothing at all"
    for secret in secrets:
        assert secret not in relay_log
    client_log = (home / "inboop.log").read_text()
    assert "sync" in client_log and "401" in client_log, client_log  # it did log both
    for secret in secrets:
        assert secret not in client_log


def test_webhook_verification_and_signatures_never_echo_secrets(relay: RelayProcess) -> None:
    wrong = httpx.get(
        relay.url + "/webhooks/meta",
        params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "42"},
        timeout=30,
    )
    assert wrong.status_code == 403 and VERIFY_TOKEN not in wrong.text
    right = httpx.get(
        relay.url + "/webhooks/meta",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"},
        timeout=30,
    )
    assert right.status_code == 200 and right.text == "42"
    body = meta.body(meta.messenger(meta.text_message(meta.PAGE_ID, "P1", "m_1", "hi")))
    for signature in (None, "sha256=00", "sha1=abc", "sha256=" + "0" * 64, "garbage"):
        answer = relay.post(body, signature=signature)
        assert answer.status_code in (401, 403), signature
        assert APP_SECRET not in answer.text
    assert relay.rows("select count(*) from events") == [(0,)]  # nothing stored unsigned
    assert APP_SECRET not in relay.log() and VERIFY_TOKEN not in relay.log()


def test_an_unknown_query_parameter_is_refused_not_ignored(
    relay: RelayProcess, admin_token: str
) -> None:
    typo = relay.get("/v1/events", admin_token, aftr=5)
    assert typo.status_code == 422
    assert typo.json()["detail"] == "unknown query parameter 'aftr'"
    assert relay.get("/v1/events", admin_token, after=0, limit=5, wait=0).status_code == 200
