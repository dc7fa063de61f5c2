"""URL keys used to match pods, members and etcdctl endpoints."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


def url_key(url: str) -> str:
    parts = urlsplit(url if "//" in url else f"//{url}")
    return f"{parts.hostname}:{parts.port}"


def url_hosts(urls: Iterable[str]) -> set[str]:
    return {h for h in (urlsplit(u).hostname for u in urls) if h}
