"""Small frames and designs for the sampling tests."""

from __future__ import annotations

import numpy as np

from assess.sampling.design import SamplingDesign, parse_design
from assess.sampling.frame import FRAME_COLUMNS, SchoolFrame
from itembank.tabular import csv_bytes

HEADER = (*FRAME_COLUMNS, "grade_4", "grade_8")
ROW = ("S001", "新华小学", "44", "广东省", "4401", "广州市", "440101", "新华区", "东部", "城区", "公办", "120", "0")


def frame_csv(rows: list[tuple[str, ...]], header: tuple[str, ...] = HEADER) -> bytes:
    """A frame file's bytes."""
    return csv_bytes([header, *rows])


def small_frame(n: int = 60, *, seed: int = 0, big: int = 0) -> SchoolFrame:
    """``n`` schools in two regions x two locales, grade-4 enrolments 20..300; ``big`` extra huge schools."""
    rng = np.random.default_rng(seed)
    m = n + big
    region = np.where(np.arange(m) % 2 == 0, "东部", "西部")
    locale = np.where(np.arange(m) % 4 < 2, "urban", "rural")
    enrol = rng.integers(20, 300, m)
    enrol[n:] = 5000
    east = region == "东部"
    province = np.where(east, "44", "62")
    city = np.char.add(province, "01")
    cols = {
        "school_code": [f"S{i:04d}" for i in range(m)], "school": [f"第{i}小学" for i in range(m)],
        "province_code": province, "province": np.where(east, "广东省", "甘肃省"), "city_code": city,
        "city": np.where(east, "广州市", "兰州市"), "county_code": [f"{c}{i % 5:02d}" for i, c in enumerate(city)],
        "county": [f"第{i % 5}区" for i in range(m)], "region": region, "locale": locale,
    }  # fmt: skip
    return SchoolFrame.from_columns(cols, {4: enrol, 8: np.zeros(m, dtype=np.int64)})


def design(**changes: object) -> SamplingDesign:
    """A proportional design over region x locale, 12 schools, one class of 40."""
    text = (
        'name = "t"\ngrades = [4]\n[strata]\nby = ["region", "locale"]\nallocation = "proportional"\nschools = 12\n'
        '[within]\nmode = "classes"\nclasses = 1\nclass_size = 40\n[weights]\ntrim = 0.0\n'
    )
    base = parse_design(text)
    return SamplingDesign(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def sit(schools, design_, rng, *, refuse: float = 0.0, absent: float = 0.0, take: int = 40):  # type: ignore[no-untyped-def]
    """Students of the drawn schools as a test would see them after testing.

    Every original and replacement school is offered; a school refuses with probability
    ``refuse`` (then none of its students is assessed); each sampled student (up to ``take`` per
    grade, all of a smaller grade) is absent with probability ``absent``.
    """
    from assess.sampling.weights import StudentRecords

    school, grade, assessed = [], [], []
    for i in range(schools.n):
        refuses = rng.random() < refuse
        for k, g in enumerate(design_.grades):
            n = int(min(take, schools.enrolment[i, k]))
            school += [i] * n
            grade += [g] * n
            assessed += ((rng.random(n) >= absent) & (not refuses)).tolist()
    return StudentRecords(
        np.array(school, dtype=np.int64), np.array(grade, dtype=np.int64), np.array(assessed, dtype=bool)
    )
