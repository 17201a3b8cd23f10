"""RetryTransport: connection errors, 429 and 5xx, backoff and Retry-After."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import httpx
import pytest

from datamint.api.transport import RetryTransport, is_retryable_request, parse_retry_after
from datamint.exceptions import NetworkError, ServerError

from .support import URL


def _scripted(*steps: int | Exception | tuple[int, dict[str, str]]):
    """A MockTransport handler answering each request with the next step."""
    seen: list[httpx.Request] = []
    queue = list(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = queue.pop(0)
        if isinstance(step, Exception):
            raise step
        status, headers = step if isinstance(step, tuple) else (step, {})
        return httpx.Response(status, headers=headers, json={"data": [], "n": len(seen)})

    return handler, seen


def _client(handler: Callable, sleeps: list[float], **kwargs) -> httpx.Client:
    transport = RetryTransport(httpx.MockTransport(handler), sleep=sleeps.append, **kwargs)
    return httpx.Client(base_url=URL, transport=transport)


def test_503_then_200_is_retried() -> None:
    handler, seen = _scripted(503, 200)
    sleeps: list[float] = []
    with _client(handler, sleeps) as client:
        response = client.get("/projects")
    assert response.status_code == 200
    assert len(seen) == 2
    assert len(sleeps) == 1
    assert 0.5 <= sleeps[0] <= 1.0  # base 0.5 s + jitter < 0.5 s


def test_retry_after_seconds_is_honoured() -> None:
    handler, seen = _scripted((429, {"Retry-After": "3"}), (503, {"Retry-After": "0"}), 200)
    sleeps: list[float] = []
    with _client(handler, sleeps) as client:
        assert client.get("/projects").status_code == 200
    assert sleeps == [3.0, 0.0]
    assert len(seen) == 3


def test_backoff_grows_exponentially() -> None:
    handler, _ = _scripted(500, 502, 504, 200)
    sleeps: list[float] = []
    with _client(handler, sleeps, max_retries=3, backoff_base_s=1.0) as client:
        assert client.get("/projects").status_code == 200
    assert [int(s) for s in sleeps] == [1, 2, 4]


def test_retries_run_out_and_the_last_answer_is_returned() -> None:
    handler, seen = _scripted(503, 503, 503)
    sleeps: list[float] = []
    with _client(handler, sleeps, max_retries=2) as client:
        response = client.get("/projects")
    assert response.status_code == 503
    assert response.json()["n"] == 3
    assert len(seen) == 3


def test_retry_after_too_long_is_not_waited() -> None:
    handler, seen = _scripted((503, {"Retry-After": "3600"}), 200)
    sleeps: list[float] = []
    with _client(handler, sleeps, max_retry_after_s=60) as client:
        assert client.get("/projects").status_code == 503
    assert sleeps == []
    assert len(seen) == 1


def test_connection_error_is_retried() -> None:
    handler, seen = _scripted(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), 200)
    sleeps: list[float] = []
    with _client(handler, sleeps) as client:
        assert client.get("/projects").status_code == 200
    assert len(seen) == 3


def test_connection_errors_run_out() -> None:
    handler, _ = _scripted(*[httpx.ConnectError("refused")] * 3)
    with _client(handler, []) as client, pytest.raises(httpx.ConnectError):
        client.get("/projects")


def test_plain_post_is_never_retried() -> None:
    handler, seen = _scripted(503, 200)
    sleeps: list[float] = []
    with _client(handler, sleeps) as client:
        assert client.post("/projects/p1/splits", json={}).status_code == 503
    assert len(seen) == 1
    assert sleeps == []


def test_post_connection_error_is_not_retried() -> None:
    handler, seen = _scripted(httpx.ConnectError("refused"), 200)
    with _client(handler, []) as client, pytest.raises(httpx.ConnectError):
        client.post("/projects/p1/splits", json={})
    assert len(seen) == 1


def test_annotation_search_post_is_retried_with_the_same_body() -> None:
    handler, seen = _scripted(503, 200)
    with _client(handler, []) as client:
        assert client.post("/annotations/search", json={"offset": "0"}).status_code == 200
    assert [r.content for r in seen] == [b'{"offset":"0"}'] * 2


def test_non_retryable_status_is_returned_at_once() -> None:
    handler, seen = _scripted(404, 200)
    with _client(handler, []) as client:
        assert client.get("/projects").status_code == 404
    assert len(seen) == 1


def test_is_retryable_request() -> None:
    assert is_retryable_request(httpx.Request("GET", f"{URL}/x"))
    assert is_retryable_request(httpx.Request("PUT", f"{URL}/x"))
    assert is_retryable_request(httpx.Request("POST", f"{URL}/annotations/search"))
    assert not is_retryable_request(httpx.Request("POST", f"{URL}/annotations/r/annotations"))
    assert not is_retryable_request(httpx.Request("PATCH", f"{URL}/annotations/a"))


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:10 GMT", now=now) == 10.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_negative_retries_rejected() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryTransport(httpx.MockTransport(lambda r: httpx.Response(200)), max_retries=-1)


def test_api_raises_server_error_after_retries(make_api, sleeps: list[float]) -> None:
    handler, seen = _scripted(503, 503, 503)
    api = make_api(handler)
    with pytest.raises(ServerError, match="503") as info:
        api.get_project("p1")
    assert info.value.status_code == 503
    assert len(seen) == 3
    assert len(sleeps) == 2


def test_api_retries_then_succeeds(make_api, sleeps: list[float]) -> None:
    handler, seen = _scripted((503, {"Retry-After": "1"}), 200)
    make_api(handler).get_projects()
    assert sleeps == [1.0]
    assert len(seen) == 2


def test_api_raises_network_error_after_retries(make_api) -> None:
    handler, seen = _scripted(*[httpx.ConnectError("refused")] * 2)
    api = make_api(handler, max_retries=1)
    with pytest.raises(NetworkError, match="ConnectError") as info:
        api.get_projects()
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert len(seen) == 2


def test_api_max_retries_zero_sends_once(make_api) -> None:
    handler, seen = _scripted(503, 200)
    with pytest.raises(ServerError):
        make_api(handler, max_retries=0).get_projects()
    assert len(seen) == 1
