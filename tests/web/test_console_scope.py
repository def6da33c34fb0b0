"""One school's or area's data never appears in another's page, download, export or API response.

A bureau of one county walks everything its console offers for its own area and school (pages,
every download format, the result export, the ZIP of school profiles, the API), and nothing of the
county next door or the far province shows in any of it; a province's bureau sees both its
counties and nothing of the other province. Result exports outside a school carry pseudonyms,
never student codes.
"""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

from litestar import Litestar
from litestar.testing import TestClient
from pypdf import PdfReader

from assess.console.results import pseudonym
from tests.console_world import FAR_MARKERS, NEXT_MARKERS, PASSWORD, leaked
from tests.web.conftest import ConsoleDb, console_post, make_console_app, staff_login


def _text(response: object) -> str:
    """The readable text of a response: HTML, CSV, the text of a PDF, the cells of an XLSX, names in a ZIP."""
    content: bytes = response.content  # type: ignore[attr-defined]
    media = response.headers.get("content-type", "")  # type: ignore[attr-defined]
    if media.startswith("application/pdf"):
        return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    if media.startswith("application/zip") or media.startswith("application/vnd.openxml"):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            parts = [archive.read(n).decode("utf-8", "replace") for n in archive.namelist() if not n.endswith(".pdf")]
            names = archive.namelist()
            pdfs = [_pdf_text(archive.read(n)) for n in names if n.endswith(".pdf")]
        return "\n".join([*names, *parts, *pdfs])
    return content.decode("utf-8-sig", "replace")


def _pdf_text(raw: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(raw)).pages)


def _walk(client: TestClient[Litestar], area: str, school: str, bearer: str) -> dict[str, str]:
    """Every page, download and API answer of one area and one school, as text."""
    got: dict[str, str] = {}
    urls = (
        [
            "/console",
            "/console/areas",
            f"/console/areas/{area}",
            f"/console/areas/{area}/participation",
            f"/console/areas/{area}/results.csv",
            f"/console/schools/{school}",
            f"/console/schools/{school}/results.csv",
            "/console/users",
            "/console/account",
        ]
        + [f"/console/areas/{area}/download/{f}" for f in ("pdf", "xlsx", "csv")]
        + [f"/console/schools/{school}/download/{f}" for f in ("pdf", "xlsx", "csv")]
    )
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        got[url] = _text(response)
    for url in (
        f"/api/v1/staff/areas/{area}",
        f"/api/v1/staff/areas/{area}/participation",
        f"/api/v1/staff/areas/{area}/profile",
        f"/api/v1/staff/schools/{school}/profile",
        "/api/v1/staff/users",
        "/api/v1/staff/me",
    ):
        response = client.get(url, headers={"Authorization": f"Bearer {bearer}"})
        assert response.status_code == 200, (url, response.status_code, response.text)
        got[url] = response.text
    started = console_post(client, f"/console/areas/{area}/profiles.zip")
    assert started.status_code == 303
    job = started.headers["location"]
    for _ in range(200):
        page = client.get(job)
        if "下载" in page.text and "/file" in page.text:
            break
        time.sleep(0.05)
    got[job] = page.text
    archive = client.get(job + "/file")
    assert archive.status_code == 200 and archive.headers["content-type"].startswith("application/zip")
    got[job + "/file"] = _text(archive)
    return got


def _token(client: TestClient[Litestar], username: str) -> str:
    response = client.post("/api/v1/staff/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200
    return str(response.json()["token"])


def test_a_county_bureau_sees_nothing_of_another_county_anywhere(cdb: ConsoleDb, tmp_path: Path) -> None:
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "county1")
        got = _walk(client, "990101", "SWEB001", _token(client, "county1"))
    assert len(got) >= 20
    for url, text in got.items():
        shown = leaked(text, NEXT_MARKERS + FAR_MARKERS)
        assert shown == [], f"{url} shows {shown}"
    assert "测试路第一中学" in got["/console/areas/990101"]
    archive = next(t for u, t in got.items() if u.endswith("/file"))
    assert "SWEB001_测试路第一中学.pdf" in archive
    # its own school's results under pseudonyms: no student code leaves the school
    export = got["/console/areas/990101/results.csv"]
    assert pseudonym("WEBX-01") in export and "WEBX-01" not in export and "W8" not in export


def test_a_province_bureau_sees_its_counties_and_nothing_of_another_province(cdb: ConsoleDb, tmp_path: Path) -> None:
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "prov99")
        got = _walk(client, "99", "SNEXT01", _token(client, "prov99"))
    for url, text in got.items():
        shown = leaked(text, FAR_MARKERS)
        assert shown == [], f"{url} shows {shown}"
    area = got["/console/areas/99"]
    assert "测试市" in area
    city = got["/api/v1/staff/areas/99"]
    assert "9901" in city and "88" not in city.replace("9901", "")
    assert "隔壁第二中学" in got["/console/schools/SNEXT01"]
    assert "NXT-01" not in got["/console/schools/SNEXT01/results.csv"]


def test_a_school_sees_its_own_codes_and_nothing_else(cdb: ConsoleDb, tmp_path: Path) -> None:
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "school2")
        home = client.get("/console", follow_redirects=True)
        assert home.status_code == 200 and "隔壁第二中学" in home.text
        export = client.get("/console/schools/SNEXT01/results.csv").content.decode("utf-8-sig")
        assert "NXT-01" in export and "NXT-04" in export
        for url in (
            "/console/schools/SNEXT01",
            "/console/schools/SNEXT01/students",
            "/console/schools/SNEXT01/monitor",
            "/console/schools/SNEXT01/tickets",
            "/console/schools/SNEXT01/download/csv",
        ):
            text = client.get(url).content.decode("utf-8-sig")
            assert not leaked(text, ("SWEB001", "测试路第一中学", "WEBX-", "W8", *FAR_MARKERS)), url
        for url in (
            "/console/schools/SWEB001",
            "/console/schools/SWEB001/monitor",
            "/console/schools/SFAR001/students",
        ):
            response = client.get(url)
            assert response.status_code == 404 and "SWEB001" not in response.text and "SFAR001" not in response.text
        assert client.get("/console/areas/990102").status_code == 403  # a school has no area view at all


def test_the_api_takes_the_token_as_a_bearer_only(cdb: ConsoleDb, tmp_path: Path) -> None:
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "county1")  # the console cookie is set on this client
        assert client.get("/api/v1/staff/me").status_code == 401
        token = _token(client, "county1")
        me = client.get("/api/v1/staff/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json() == {"username": "county1", "role": "bureau", "scope_kind": "area",
                             "scope_path": "/99/9901/990101/"}  # fmt: skip
        other = client.get("/api/v1/staff/schools/SNEXT01/profile", headers={"Authorization": f"Bearer {token}"})
        assert other.status_code == 404 and not leaked(other.text, NEXT_MARKERS)
        out = client.post("/api/v1/staff/logout", headers={"Authorization": f"Bearer {token}"})
        assert out.status_code == 200
        assert client.get("/api/v1/staff/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
