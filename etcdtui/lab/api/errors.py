"""`Status` objects and error responses shaped exactly like the real API server's."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

Obj = dict[str, Any]

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "AlreadyExists",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
}


def status(code: int, message: str, reason: str | None = None, details: Obj | None = None) -> Obj:
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or REASONS.get(code, "Unknown"),
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def success(details: Obj | None = None, code: int | None = None) -> Obj:
    body: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details is not None:
        body["details"] = details
    if code is not None:
        body["code"] = code
    return body


def json_response(body: Any, code: int = 200, content_type: str = "application/json") -> web.Response:
    return web.Response(body=json.dumps(body, separators=(",", ":")).encode(), status=code, content_type=content_type)


class ApiError(Exception):
    """Raised by handlers; the middleware turns it into a `Status` response."""

    def __init__(self, code: int, message: str, reason: str | None = None, details: Obj | None = None) -> None:
        super().__init__(message)
        self.body = status(code, message, reason, details)
        self.code = code

    def response(self) -> web.Response:
        return json_response(self.body, self.code)


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    details: Obj = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = resource
    return ApiError(404, f'{resource}{"." + group if group else ""} "{name}" not found', "NotFound", details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, "BadRequest")


UNAUTHORIZED = status(401, "Unauthorized", "Unauthorized")
