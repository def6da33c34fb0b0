from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from itembank import services
from itembank.db import session_scope
from itembank.formats import CSV_COLUMNS
from tests.itembank import samples
from web.cli import cli, main
from web.commands.items import display_width


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def count() -> int:
    with session_scope() as session:
        return services.count_items(session=session)


@pytest.fixture
def sample_file(tmp_path: Path) -> Path:
    return samples.write_json(tmp_path / "sample.json")


def test_import_prints_a_summary_and_is_idempotent(env_db: str, sample_file: Path) -> None:
    first = run("items", "import", str(sample_file))
    assert first.exit_code == 0, first.output
    assert "items: 5 created, 0 updated, 0 new versions, 0 unchanged" in first.stdout
    assert "stimuli: 1 created" in first.stdout
    assert "framework infolit-default 1.0 loaded" in first.stdout
    assert "the bank now holds 5 items" in first.stdout
    again = run("items", "import", str(sample_file))
    assert again.exit_code == 0
    assert "items: 0 created, 0 updated, 0 new versions, 5 unchanged" in again.stdout
    assert count() == 5


def test_export_json_and_csv_round_trip(env_db: str, sample_file: Path, tmp_path: Path) -> None:
    assert run("items", "import", str(sample_file)).exit_code == 0
    out_json, out_csv = tmp_path / "bank.json", tmp_path / "bank.csv"
    result = run("items", "export", "--format", "json", str(out_json))
    assert result.exit_code == 0 and "wrote 5 items and 1 stimuli" in result.stdout
    doc = json.loads(out_json.read_text(encoding="utf-8"))
    assert doc["format"] == "infolit-items" and len(doc["items"]) == 5
    assert run("items", "export", str(out_csv)).exit_code == 0  # format from the extension
    raw = out_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 5 and tuple(rows[0]) == CSV_COLUMNS
    again = run("items", "import", str(out_csv))
    assert again.exit_code == 0 and "5 unchanged" in again.stdout
    stdout = run("items", "export", "--format", "json", "--dimension", "D4", "-")
    assert [i["code"] for i in json.loads(stdout.stdout)["items"]] == ["T4.3-001", "T4.3-002"]
    assert run("items", "export", "-").exit_code != 0  # stdout needs --format


def test_export_writes_the_whole_starter_bank(env_db: str, tmp_path: Path) -> None:
    if len(services.starter_bank_files()) < 4:
        pytest.skip("starter bank not written yet")
    result = run("items", "import", "--starter-bank")
    assert result.exit_code == 0, result.output
    out = tmp_path / "all.json"
    assert run("items", "export", "--format", "json", str(out)).exit_code == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert len(doc["items"]) >= 320 and count() == len(doc["items"])


def _bad_csv(tmp_path: Path, sample_file: Path) -> Path:
    """The sample as CSV with a missing key, an unknown dimension and a duplicate code."""
    assert run("items", "import", str(sample_file)).exit_code == 0
    good = tmp_path / "good.csv"
    assert run("items", "export", str(good)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(good.read_text(encoding="utf-8-sig"))))
    rows[3]["key"] = ""  # T4.3-001, a single choice: row 5
    rows[1]["dimension"] = "D9"  # row 3
    rows[4]["code"] = rows[0]["code"]  # row 6 repeats row 2
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode("utf-8"))
    return bad


def test_a_malformed_csv_is_refused_with_every_problem_by_row(env_db: str, sample_file: Path, tmp_path: Path) -> None:
    bad = _bad_csv(tmp_path, sample_file)
    before = count()
    result = run("items", "import", str(bad))
    assert result.exit_code != 0
    lines = result.stderr.splitlines()
    assert f"{bad}: row 5, key: missing: single_choice items need 'key'" in lines
    assert any(line.startswith(f"{bad}: row 3, dimension: unknown dimension 'D9'") for line in lines)
    assert f"{bad}: row 6, code: duplicate item code 'T1.2-001' (first at row 2)" in lines
    assert lines[-1] == f"Error: 3 problems in {bad}; nothing was changed"
    assert result.stdout == ""
    assert count() == before


def test_a_csv_in_another_encoding_is_refused(env_db: str, sample_file: Path, tmp_path: Path) -> None:
    bad = _bad_csv(tmp_path, sample_file)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(bad.read_bytes().decode("utf-8-sig").encode("gb18030"))
    result = run("items", "import", str(gbk))
    assert result.exit_code != 0
    problems = [line for line in result.stderr.splitlines() if not line.startswith("Error:")]
    assert len(problems) == 1 and "not valid UTF-8" in problems[0] and problems[0].startswith(f"{gbk}: row 2")
    assert count() == 5


def test_main_exits_non_zero_without_a_traceback(
    env_db: str, sample_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _bad_csv(tmp_path, sample_file)
    capsys.readouterr()
    assert main(["items", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "row 5, key" in err and "nothing was changed" in err


def test_list_prints_a_filtered_table(env_db: str, sample_file: Path) -> None:
    assert run("items", "list").stdout.strip() == "no items match"
    run("items", "import", str(sample_file))
    table = run("items", "list").stdout.splitlines()
    assert table[0].split() == ["code", "type", "indicator", "bands", "status", "v", "stimulus", "stem"]
    assert table[-1] == "5 items"
    assert [line.split()[0] for line in table[1:-1]] == [
        "T1.2-001", "T2.1-001", "T3.1-001", "T4.3-001", "T4.3-002",
    ]  # fmt: skip
    d4 = run("items", "list", "--dimension", "D4", "--band", "7-9", "--status", "pilot").stdout.splitlines()
    assert [line.split()[0] for line in d4[1:-1]] == ["T4.3-002"] and d4[-1] == "1 item"
    mr = run("items", "list", "--type", "multiple_response").stdout
    assert "T3.1-001" in mr and "T4.3-001 " not in mr
    assert run("items", "list", "--type", "essay").exit_code != 0
    # Chinese stems are cut to the column width (two columns per character) without breaking alignment
    narrow = run("items", "list", "--stem-width", "12").stdout.splitlines()[1:-1]
    assert all(line.endswith("…") for line in narrow)
    assert len({display_width(line) for line in narrow}) == 1


def test_framework_show_and_load(env_db: str, tmp_path: Path, sample_file: Path) -> None:
    shown = run("framework", "show")
    assert shown.exit_code == 0
    assert "built-in default, not loaded yet" in shown.stdout
    assert "D2 信息科学知识 — information-science knowledge" in shown.stdout
    assert "D2.3 算法与计算思维 — algorithms and computational thinking  [L2 计算思维]" in shown.stdout
    loaded = run("framework", "load")
    assert loaded.exit_code == 0 and "framework infolit-default 1.0 created: 4 dimensions, 17" in loaded.stdout
    run("items", "import", str(sample_file))
    shown = run("framework", "show").stdout
    assert "[infolit-default 1.0, active]" in shown and "D4.3 信息安全与隐私保护" in shown and "(2 items)" in shown


def test_framework_load_lists_problems_with_their_paths(env_db: str, tmp_path: Path) -> None:
    bad = tmp_path / "province.json"
    bad.write_text(
        json.dumps(
            {
                "code": "p",
                "version": "1",
                "name": "某省",
                "name_en": "a province",
                "literacies": [{"code": "L1", "name": "信息意识", "name_en": "awareness"}],
                "grade_bands": [{"code": "7-9", "name": "初中", "grades": [7, 8, 9]}],
                "dimensions": [
                    {
                        "code": "D1",
                        "name": "维度一",
                        "name_en": "one",
                        "indicators": [{"code": "D1.1", "name": "x", "name_en": "x", "literacies": ["L1", "L7"]}],
                    }
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    result = run("framework", "load", str(bad))
    assert result.exit_code != 0
    assert f"{bad}: dimensions[0].indicators[0].literacies[1]: unknown literacy 'L7' (known: L1)" in result.stderr
    shown = run("framework", "show", "--file", str(bad))
    assert shown.exit_code != 0 and "unknown literacy 'L7'" in shown.stderr


def test_import_needs_a_file(env_db: str) -> None:
    result = run("items", "import")
    assert result.exit_code == 2 and "--starter-bank" in result.stderr


def test_export_and_import_a_qti_package(env_db: str, tmp_path: Path) -> None:
    doc = samples.bundle()
    doc["items"] += samples.interactive_bundle()["items"]
    assert run("items", "import", str(samples.write_json(tmp_path / "all.json", doc))).exit_code == 0
    package = tmp_path / "bank.zip"
    result = run("items", "export", "--format", "qti", str(package))
    assert result.exit_code == 0, result.output
    assert f"wrote {len(doc['items'])} items" in result.stdout and "(qti)" in result.stdout
    first = package.read_bytes()
    again = run("items", "import", str(package))
    assert again.exit_code == 0, again.output
    assert f"{len(doc['items'])} unchanged" in again.stdout
    assert run("items", "export", str(package)).exit_code == 0  # .zip means QTI
    assert package.read_bytes() == first
    stdout = CliRunner().invoke(cli, ["items", "export", "--format", "qti", "-"])
    assert stdout.exit_code == 2 and "ZIP file" in stdout.output


def test_a_refused_qti_package_changes_nothing(env_db: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    result = CliRunner().invoke(cli, ["items", "import", str(bad)])
    assert result.exit_code == 1
    assert "not a ZIP file" in result.output and "nothing was changed" in result.output
    assert count() == 0
