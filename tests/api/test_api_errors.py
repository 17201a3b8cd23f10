"""Status -> exception mapping, done once (contract §3.3)."""

from __future__ import annotations

import json

import httpx
import pytest

from datamint.api.errors import error_for_response, network_error
from datamint.exceptions import (
    AuthenticationError,
    DatamintException,
    EntityAlreadyExistsError,
    ItemNotFoundError,
    NetworkError,
    PermissionDeniedError,
    ServerError,
    ValidationError,
)

from .support import KEY, URL


def _response(status: int, body: object = None, text: str | None = None) -> httpx.Response:
    request = httpx.Request("GET", f"{URL}/resources/r1", headers={"apikey": KEY})
    if text is not None:
        return httpx.Response(status, text=text, request=request)
    return httpx.Response(status, json=body, request=request)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, {"message": "invalid api key"}, AuthenticationError),
        (403, {"message": "not a member"}, PermissionDeniedError),
        (400, {"message": "bad offset"}, ValidationError),
        (422, {"detail": [{"loc": ["query", "limit"]}]}, ValidationError),
        (404, {"message": "resource r1 not found"}, ItemNotFoundError),
        (404, {"detail": "Not Found"}, ItemNotFoundError),
        (404, {"message": "no such route"}, ValidationError),
        (409, {"message": "exists"}, EntityAlreadyExistsError),
        (429, {"message": "slow down"}, ServerError),
        (500, {"message": "boom"}, ServerError),
        (503, {"message": "maintenance"}, ServerError),
        (418, {"message": "teapot"}, DatamintException),
    ],
)
def test_status_maps_to_exception(status: int, body: object, expected: type) -> None:
    error = error_for_response(_response(status, body))
    assert type(error) is expected
    assert error.status_code == status
    assert error.method == "GET"
    assert error.url == f"{URL}/resources/r1"
    assert error.body == body
    message = str(error)
    assert f"GET {URL}/resources/r1 -> {status}" in message
    assert json.dumps(body) in message
    assert KEY not in message


def test_entity_call_maps_any_404_to_item_not_found() -> None:
    error = error_for_response(_response(404, text="gone"), entity="resource r1")
    assert isinstance(error, ItemNotFoundError)
    assert isinstance(error, LookupError)
    assert str(error).startswith("resource r1 not found")
    assert "gone" in str(error)


def test_401_says_what_to_set() -> None:
    message = str(error_for_response(_response(401, {"message": "invalid"})))
    assert "DATAMINT_API_KEY" in message
    assert "api_key=" in message


def test_validation_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="bad offset"):
        raise error_for_response(_response(400, {"message": "bad offset"}))


def test_plain_text_body_is_quoted() -> None:
    error = error_for_response(_response(502, text="<html>bad gateway</html>"))
    assert isinstance(error, ServerError)
    assert "<html>bad gateway</html>" in str(error)
    assert error.body == "<html>bad gateway</html>"


def test_long_body_is_truncated() -> None:
    message = str(error_for_response(_response(500, text="x" * 10_000)))
    assert "more chars" in message
    assert len(message) < 3000


def test_network_error_names_the_request() -> None:
    error = network_error(httpx.ConnectError("refused"), "GET", f"{URL}/projects")
    assert isinstance(error, NetworkError)
    assert "GET http://datamint.test/projects" in str(error)
    assert "ConnectError: refused" in str(error)
