"""The webhook endpoint of the real relay, fed generated and mutated Meta payloads with a valid
signature: absurd shapes, deep nesting, huge strings, invalid UTF-8, lone surrogates, wrong
types, numbers out of range. Never a 5xx, never a hang, and the relay stays ready; a payload
whose signature is wrong is never stored, whatever it holds.

The default suite runs a couple of hundred cases; ``make stress`` runs thousands.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay import simulator as meta
from relay.signing import SIGNATURE_HEADER, sign
from tests.harness import APP_SECRET, RelayProcess

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", "0", "-1", "1e400", "\u202e", "<script>", "[bold]x", "'; drop table"]),
)
ANY_JSON = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=40,
)


def real_shapes() -> list[dict[str, Any]]:
    """Well-formed deliveries of every kind the relay reads, to mutate."""
    page, ig, t0 = meta.PAGE_ID, meta.IG_ACCOUNT_ID, meta.T0_MS
    return [
        meta.messenger(meta.text_message(page, "P1", "m_1", "hello", ts=t0)),
        meta.instagram(
            meta.attachment_message(ig, "I1", "ig_1", "image", {"url": "https://x.test/a.jpg"})
        ),
        meta.messenger(meta.echo(page, "P1", "m_2", "reply", ts=t0 + 1)),
        meta.messenger(meta.read_watermark(page, "P1", t0, t0 + 2)),
        meta.whatsapp(meta.wa_value()),
    ]


def paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*at, index))
    return found


def replaced(value: Any, at: tuple[Any, ...], new: Any) -> Any:
    if not at:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[at[0]] = replaced(value[at[0]], at[1:], new)  # type: ignore[index]
    return copy


@st.composite
def mutated_shape(draw: st.DrawFn) -> bytes:
    shape = draw(st.sampled_from(real_shapes()))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.sampled_from(paths(shape)))
        shape = replaced(shape, at, draw(ANY_JSON))
    return json.dumps(shape).encode()


MARK = "fuzz-marker-7f3a"


def leaves_of(value: Any, kind: type) -> list[tuple[Any, ...]]:
    """The paths to the shape's leaves of ``kind`` (bool is not a number here)."""
    found = []
    for at in paths(value):
        leaf = value
        for step in at:
            leaf = leaf[step]
        if isinstance(leaf, kind) and not isinstance(leaf, bool):
            found.append(at)
    return found


def marked(draw: st.DrawFn, shape: dict[str, Any], kind: type) -> bytes:
    """The shape as JSON with one drawn leaf of ``kind`` replaced by a marker to substitute."""
    return json.dumps(replaced(shape, draw(st.sampled_from(leaves_of(shape, kind))), MARK)).encode()


@st.composite
def hostile_bytes(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["nest", "huge", "utf8", "surrogate", "number", "cut", "junk"]))
    wanted = int if kind == "number" else str
    shape = draw(st.sampled_from([s for s in real_shapes() if leaves_of(s, wanted)]))
    base = json.dumps(shape).encode()
    text = f'"{MARK}"'.encode()
    if kind == "nest":
        depth = draw(st.integers(100, 50_000))
        body = b'{"object":"page","entry":' + b"[" * depth + b"]" * depth + b"}"
    elif kind == "huge":
        size = draw(st.integers(10_000, 3_000_000))
        body = marked(draw, shape, str).replace(text, b'"' + b"x" * size + b'"')
    elif kind == "utf8":
        bad = draw(st.sampled_from([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80"]))
        body = marked(draw, shape, str).replace(text, b'"' + bad + b'"')
    elif kind == "surrogate":
        lone = draw(st.sampled_from([b"\\ud800", b"\\udfff x", b"\\ud83d"]))
        body = marked(draw, shape, str).replace(text, b'"' + lone + b'"')
    elif kind == "number":
        number = draw(
            st.sampled_from([b"1e400", b"-1", b"99999999999999999999999", b"1.5", b"NaN"])
        )
        body = marked(draw, shape, int).replace(text, number)
    elif kind == "cut":
        body = base[: draw(st.integers(0, len(base) - 1))]
    else:
        body = draw(st.binary(max_size=2000))
    assert body != base
    return kind, body


PAYLOADS = st.one_of(
    ANY_JSON.map(lambda v: ("any json", json.dumps(v).encode())),
    mutated_shape().map(lambda body: ("mutated shape", body)),
    hostile_bytes(),
)


def post(client: httpx.Client, relay: RelayProcess, body: bytes, signed: bool) -> httpx.Response:
    return client.post(
        f"{relay.url}/webhooks/meta",
        content=body,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(APP_SECRET if signed else "not-the-secret", body),
        },
    )


def fuzz(relay: RelayProcess, examples: int) -> None:
    seen: Counter[str] = Counter()
    with httpx.Client(timeout=30) as client:  # a hang fails the test by its timeout

        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=PAYLOADS, signed=st.booleans())
        def one(case: tuple[str, bytes], signed: bool) -> None:
            kind, body = case
            before = relay.rows("select count(*) from events")
            answer = post(client, relay, body, signed)
            seen[f"{kind} {answer.status_code}"] += 1

            assert answer.status_code < 500, (answer.status_code, answer.text[:300], body[:200])
            if not signed:
                assert answer.status_code in (401, 403)
                assert relay.rows("select count(*) from events") == before

        one()
        ready = client.get(f"{relay.url}/readyz")
    assert ready.status_code == 200, ready.text
    valid = meta.body(
        meta.messenger(meta.text_message(meta.PAGE_ID, "P9", "m_after", "still here"))
    )
    assert relay.post(valid).status_code == 200  # and it still takes real traffic
    print(f"webhook fuzz: {sum(seen.values())} cases: {dict(sorted(seen.items()))}")


def test_the_webhook_endpoint_survives_generated_and_mutated_payloads(relay: RelayProcess) -> None:
    fuzz(relay, 150)


@pytest.mark.stress
def test_the_webhook_endpoint_survives_thousands_of_payloads(relay: RelayProcess) -> None:
    fuzz(relay, 3000)
