from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from scoring import AbilityEstimates, ItemParams, ItemParamsSE, read_items, read_responses, write_items, write_theta
from scoring.exceptions import (
    DataError,
    EmptyItemError,
    EncodingError,
    NonNumericCellError,
    ParameterError,
    SingleCategoryError,
)

NAN = np.nan


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_reads_persons_items_missing_and_bom(tmp_path: Path) -> None:
    f = write(tmp_path / "r.csv", "\ufeffperson,q1,q2,q3\ns1,1,0,2\ns2,NA,1,\ns3,0, 1 ,1\n")
    t = read_responses(f)
    assert t.person_ids == ("s1", "s2", "s3")
    assert t.item_ids == ("q1", "q2", "q3")
    assert_array_equal(t.responses, [[1, 0, 2], [NAN, 1, NAN], [0, 1, 1]])
    assert t.weights is None


def test_without_person_column_rows_are_numbered_and_weights_are_split_off(tmp_path: Path) -> None:
    f = write(tmp_path / "r.csv", "q1,w,q2\n1,2.5,0\n0,1,1\n")
    t = read_responses(f, weights_column="w")
    assert t.person_ids == ("1", "2")
    assert t.item_ids == ("q1", "q2")
    assert_allclose(t.weights, [2.5, 1.0])
    assert_array_equal(t.responses, [[1, 0], [0, 1]])


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (
            "person,q1,q2\ns1,1,x\ns2,0,1\n",
            NonNumericCellError,
            r"row 2 \(person s1\), column 'q2': 'x' is not an integer",
        ),
        ("q1,q2\n1,0.5\n0,1\n", NonNumericCellError, "row 2 .*column 'q2': '0.5'"),
        ("q1,q2\n1,-1\n0,1\n", NonNumericCellError, "'-1'"),
        ("q1,q2\n1,\n0,NA\n", EmptyItemError, "item 'q2' has no responses"),
        ("q1,q2\n1,1\n0,1\n", SingleCategoryError, "item 'q2' has one response category only"),
        ("q1,q2\n1,1\n0\n", DataError, "row 3 has 1 fields, the header has 2"),
        ("q1,q1\n1,1\n0,0\n", DataError, "duplicate column names: q1"),
        ("q1,q2\n", DataError, "no response rows"),
        ("", DataError, "empty"),
    ],
)
def test_one_line_errors(tmp_path: Path, text: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message) as info:
        read_responses(write(tmp_path / "r.csv", text))
    assert "\n" not in str(info.value)
    assert "r.csv" in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    f = write(tmp_path / "r.csv", "person,q1\nJosé,1\nAna,0\n", encoding="latin-1")
    with pytest.raises(EncodingError, match="not a UTF-8 file"):
        read_responses(f)


def test_single_category_allowed_when_not_checking(tmp_path: Path) -> None:
    t = read_responses(write(tmp_path / "r.csv", "q1,q2\n1,\n1,\n"), check_items=False)
    assert_array_equal(t.responses, [[1, NAN], [1, NAN]])


def test_weights_column_problems(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no weights column 'wt'"):
        read_responses(write(tmp_path / "a.csv", "q1\n1\n0\n"), weights_column="wt")
    with pytest.raises(DataError, match="weights column 'w' is empty"):
        read_responses(write(tmp_path / "b.csv", "q1,w\n1,\n0,1\n"), weights_column="w")


def test_items_round_trip_with_standard_errors(tmp_path: Path) -> None:
    p = ItemParams(
        ("a", "b", "c"),
        ("2pl", "grm", "3pl"),
        [1.2, 0.8, 1.0],
        [[0.1, NAN, NAN], [-1, 0.2, 1.5], [0.3, NAN, NAN]],
        [0, 0, 0.2],
    )
    se = ItemParamsSE(
        p.ids,
        np.array([0.1, 0.2, 0.3]),
        np.array([[0.05, NAN, NAN], [0.1, 0.1, 0.2], [0.1, NAN, NAN]]),
        np.array([NAN, NAN, 0.04]),
    )
    f = tmp_path / "items.csv"
    write_items(f, p, se)
    lines = f.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "item,model,a,b1,b2,b3,c,se_a,se_b1,se_b2,se_b3,se_c"
    assert lines[1] == "a,2pl,1.2,0.1,,,0,0.1,0.05,,,"
    assert read_items(f) == p


def test_read_items_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="items.csv: .*slope a must be a positive"):
        read_items(write(tmp_path / "items.csv", "item,model,a,b1,c\nx,2pl,-1,0,0\n"))
    with pytest.raises(ParameterError, match="no 'item' column"):
        read_items(write(tmp_path / "i2.csv", "name,a\nx,1\n"))


def test_theta_file(tmp_path: Path) -> None:
    est = AbilityEstimates(np.array([0.5, NAN]), np.array([0.3, NAN]), "mle")
    f = tmp_path / "theta.csv"
    write_theta(f, ["s1", "s2"], est, plausible_values=np.array([[0.1, 0.2], [0.3, 0.4]]))
    assert f.read_text(encoding="utf-8").splitlines() == [
        "person,theta,se,pv1,pv2",
        "s1,0.5,0.3,0.1,0.2",
        "s2,,,0.3,0.4",
    ]
    with pytest.raises(DataError):
        write_theta(f, ["s1"], est)


CELLS = [
    "0",
    "1",
    "2",
    " 1 ",
    "",
    "NA",
    "na",
    "nan",
    "NaN",
    "1.0",
    "-1",
    "x",
    "1e0",
    "+1",
    "\uff11",
    "\u3000",
    " ",
    "\t2",
    "1234567890123456789",
    "007",
    "inf",
    "0.5",
    "2.5",
    "n a",
    "nana",
    "é",
]
PLAIN_CELLS = ["0", "1", "2", "9", ""]
PERSONS = ["s1", "s2", "张三", " s3 ", "", "s1", "\u3000"]


@st.composite
def response_files(draw: st.DrawFn) -> tuple[str, str | None]:
    n_items = draw(st.integers(1, 4))
    weights = draw(st.booleans())
    names = [f"q{j}" for j in range(n_items)] + (["w"] if weights else [])
    person = draw(st.booleans())
    pool = draw(st.sampled_from([CELLS, PLAIN_CELLS]))  # plain grids too (the reader's fastest path)
    lines = [",".join((["person"] if person else []) + names)]
    for r in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            lines.append(draw(st.sampled_from(["", ",,", "  ", "\u3000,", " , "])))
            continue
        width = len(names) + (kind == 1) - (kind == 2)
        cells = [draw(st.sampled_from(pool)) for _ in range(max(width, 0))]
        pid = [draw(st.sampled_from(PERSONS)) + str(r % 3)] if person else []
        lines.append(",".join(pid + cells))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    return text, ("w" if weights else None)


@settings(max_examples=300, deadline=None)
@given(response_files(), st.booleans(), st.sampled_from([1, 2, 3, 2048]))
def test_the_numpy_scan_reads_like_the_csv_module(
    tmp_path_factory: pytest.TempPathFactory, case: tuple, check: bool, block_lines: int
) -> None:
    """``block_lines``: the plain-grid scan's lines per block (its blocks' boundaries between any two rows)."""
    import scoring._csvscan as scan

    original_block = scan.GRID_BLOCK_LINES
    scan.GRID_BLOCK_LINES = block_lines
    try:
        _numpy_scan_reads_like_the_csv_module(tmp_path_factory, case, check)
    finally:
        scan.GRID_BLOCK_LINES = original_block


def _numpy_scan_reads_like_the_csv_module(tmp_path_factory: pytest.TempPathFactory, case: tuple, check: bool) -> None:
    import scoring.io as sio

    text, weights = case
    path = tmp_path_factory.mktemp("scan") / "r.csv"
    path.write_bytes(text.encode("utf-8"))

    def read() -> object:
        try:
            t = read_responses(path, weights_column=weights, check_items=check)
        except DataError as exc:
            return (type(exc), str(exc))
        return (t.person_ids, t.item_ids, t.responses.tolist(), None if t.weights is None else t.weights.tolist())

    fast = read()  # the plain-grid scan where it applies, else the numpy scan, else the csv module
    original_grid, original_scan = sio._read_grid, sio.scan_csv
    sio._read_grid = lambda *args: None  # type: ignore[assignment]  # the numpy scan
    try:
        scanned = read()
        sio.scan_csv = lambda raw: None  # type: ignore[assignment]  # the general reader
        slow = read()
    finally:
        sio._read_grid, sio.scan_csv = original_grid, original_scan
    assert repr(fast) == repr(slow)
    assert repr(scanned) == repr(slow)


@pytest.mark.parametrize(
    "text",
    [
        "person,q1,q2\ns1,1,0\n , ,\ns2,,1\n",  # a blank line as wide as the header: skipped
        "q1,q2\n1,0\n,\n0,1\n",  # without person column
        "person,q1,q2\ns1,1,0\n ,1,\n",  # a blank person id with a response
        "person,q1,q2\ns1,1,0\ns2,1\n",  # a short row
        "person,q1,q2\ns1,1,0\ns2,1,0,1\n",  # a long row
        "person,q1,q2\ns1,1,0\ns2,10,1",  # a two-digit score, no final newline
        "person,q1,q2\n张三,1,0\n李四,0,1\n",
    ],
)
@pytest.mark.parametrize("block_lines", [1, 2, 2048])
def test_the_plain_grid_scan_reads_like_the_csv_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, block_lines: int
) -> None:
    import scoring._csvscan as scan
    import scoring.io as sio

    monkeypatch.setattr(scan, "GRID_BLOCK_LINES", block_lines)
    path = tmp_path / "r.csv"
    path.write_text(text, encoding="utf-8")

    def read() -> object:
        try:
            t = read_responses(path, check_items=False)
        except DataError as exc:
            return (type(exc), str(exc))
        return (t.person_ids, t.item_ids, t.responses.tolist())

    fast = read()
    original_grid, original_scan = sio._read_grid, sio.scan_csv
    sio._read_grid = lambda *args: None  # type: ignore[assignment]
    sio.scan_csv = lambda raw: None  # type: ignore[assignment]
    try:
        slow = read()
    finally:
        sio._read_grid, sio.scan_csv = original_grid, original_scan
    assert repr(fast) == repr(slow)


def test_a_large_plain_grid_reads_like_the_csv_module_across_its_blocks(tmp_path: Path) -> None:
    """Thousands of rows (several blocks of the plain-grid scan), a bad row in a late block: same table, same error."""
    import scoring._csvscan as scan
    import scoring.io as sio

    rng = np.random.default_rng(5)
    n = 3 * scan.GRID_BLOCK_LINES + 17
    cells = np.where(rng.random((n, 4)) < 0.3, "", rng.integers(0, 3, (n, 4)).astype(str))
    lines = ["person,q1,q2,q3,q4", *(f"p{r}," + ",".join(row) for r, row in enumerate(cells))]
    path = tmp_path / "r.csv"

    def read() -> object:
        try:
            t = read_responses(path, check_items=False)
        except DataError as exc:
            return (type(exc), str(exc))
        return (t.person_ids, t.item_ids, t.responses.tolist())

    for text in ("\n".join(lines) + "\n", "\n".join([*lines[: n - 40], "p-short,1,0", *lines[n - 40 :]])):
        path.write_text(text, encoding="utf-8")
        fast = read()
        original_grid, original_scan = sio._read_grid, sio.scan_csv
        sio._read_grid = lambda *args: None  # type: ignore[assignment]
        sio.scan_csv = lambda raw: None  # type: ignore[assignment]
        try:
            slow = read()
        finally:
            sio._read_grid, sio.scan_csv = original_grid, original_scan
        assert repr(fast) == repr(slow)
    assert fast == (DataError, f"{path}: row {n - 40 + 1} has 3 fields, the header has 5")  # the second file
