"""The S3 wire format the embedded store speaks: request bodies (aws-chunked too), XML
answers and errors, ranges streamed in blocks."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from wsgiref.types import WSGIEnvironment
from xml.etree import ElementTree

NS = "http://s3.amazonaws.com/doc/2006-03-01/"


CHUNK = 1 << 20


Response = tuple[str, list[tuple[str, str]], Iterable[bytes]]


class S3Error(Exception):
    def __init__(self, status: str, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def request_body(environ: WSGIEnvironment) -> bytes:
    """The request's bytes, with the aws-chunked framing (and its trailing checksum) removed
    when a client streams that way."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        data = stream.read(int(length))
    elif environ.get("wsgi.input_terminated") or environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        data = stream.read()
    else:
        return b""
    if "aws-chunked" not in environ.get("HTTP_CONTENT_ENCODING", "") and not environ.get(
        "HTTP_X_AMZ_CONTENT_SHA256", ""
    ).startswith("STREAMING-"):
        return data
    out, position = bytearray(), 0
    while True:
        line_end = data.index(b"\r\n", position)
        size = int(data[position:line_end].split(b";", 1)[0], 16)
        if size == 0:
            return bytes(out)
        out += data[line_end + 2 : line_end + 2 + size]
        position = line_end + 2 + size + 2


def stream(handle: Any, start: int, length: int) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        while length > 0 and (block := handle.read(min(CHUNK, length))):
            length -= len(block)
            yield block


def iso_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode("utf-8", "surrogateescape")
    except ValueError:
        raise S3Error("400 Bad Request", "InvalidArgument", "the continuation token is not valid") from None


def _element(parent: ElementTree.Element, name: str, value: Any) -> None:
    child = ElementTree.SubElement(parent, name)
    if isinstance(value, list):
        for sub_name, sub_value in value:
            _element(child, sub_name, sub_value)
    elif value is not None:
        child.text = value


def xml_response(root: str, fields: list[tuple[str, Any]] | None) -> Response:
    element = ElementTree.Element(root, xmlns=NS) if root != "Error" else ElementTree.Element(root)  # as S3 writes them
    for name, value in fields or []:
        _element(element, name, value)
    body = b'<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(element, encoding="utf-8", xml_declaration=False)
    return "200 OK", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))], [body]


def error_response(error: S3Error, head: bool) -> Response:
    _, headers, body = xml_response("Error", [("Code", error.code), ("Message", error.message)])
    return error.status, headers if not head else [("Content-Length", "0")], [] if head else body


def no_such_key(key: str) -> S3Error:
    return S3Error("404 Not Found", "NoSuchKey", f"the key {key!r} does not exist")


def not_implemented(method: str, what: str) -> S3Error:
    return S3Error("501 Not Implemented", "NotImplemented", f"the embedded store does not implement {method} on {what}")
