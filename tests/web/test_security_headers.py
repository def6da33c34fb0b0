"""Response headers: Permissions-Policy everywhere, HSTS behind HTTPS, a CSP on every page, Allow on a 405."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import TestClient

from tests.web.conftest import Db, make_app
from web.security import HSTS, PERMISSIONS_POLICY

URLS = ["/login", "/api/v1/item", "/healthz", "/static/app.css", "/schema", "/schema/openapi.json", "/nope"]


@pytest.mark.parametrize("https", [False, True])
def test_permissions_policy_everywhere_and_hsts_behind_https(db: Db, tmp_path: Path, https: bool) -> None:
    with TestClient(make_app(db, tmp_path, secure_cookies=https)) as client:
        for url in URLS:
            headers = client.get(url).headers
            assert headers["permissions-policy"] == PERMISSIONS_POLICY, url
            assert "camera=()" in headers["permissions-policy"] and "geolocation=()" in headers["permissions-policy"]
            assert headers.get("strict-transport-security") == (HSTS if https else None), url
            csp = headers["content-security-policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, url
            assert "http:" not in csp and "https:" not in csp and "cdn" not in csp, url


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("PUT", "/api/v1/login", {"POST"}),
        ("GET", "/api/v1/answer", {"POST"}),
        ("DELETE", "/api/v1/item", {"GET"}),
        ("POST", "/instructions", {"GET"}),
        ("PUT", "/login", {"GET", "POST"}),
    ],
)
def test_a_405_says_which_methods_are_allowed(db: Db, tmp_path: Path, method: str, url: str, allowed: set[str]) -> None:
    with TestClient(make_app(db, tmp_path)) as client:
        response = client.request(method, url)
    assert response.status_code == 405
    methods = {m.strip() for m in response.headers["allow"].split(",")}
    assert allowed <= methods and method not in methods
