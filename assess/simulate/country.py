"""A synthetic country: the school frame of ten provinces in the three regions, and its true abilities.

:func:`build_country` makes a frame like a national one: tens of thousands of primary schools
(grade 4) and junior secondary schools (grade 8) in 10 provinces (4 cities of 5 counties each),
their number by province roughly as the provinces' sizes, a locale mix that is more urban in
the east and more rural in the west, and enrolments that are large in cities (median about 180
a grade in a primary school), middling in county towns and small in villages (median about 25,
many below 10: the 教学点 of the countryside). Each school carries a true effect on InfoLit's
theta scale: region and locale effects (the same as :mod:`assess.simulate.population`) plus a
school effect (SD 0.5, an intra-class correlation of about 0.25).

:func:`national_design` is the design the national simulation draws through: explicit strata
region x province x locale (or coarser for a small sample), a minimum per stratum so small
western strata still get schools, implicit stratification by city, county and enrolment, up to
35 students per target grade in a school, two replacements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assess.sampling.design import SamplingDesign, WithinSchool
from assess.sampling.frame import SchoolFrame
from assess.simulate.population import PROVINCES

__all__ = ["Country", "build_country", "national_design"]

FloatArray = npt.NDArray[np.float64]

REGION_EFFECT = {"东部": 0.20, "中部": 0.0, "西部": -0.25}
LOCALE_EFFECT = {"urban": 0.15, "town": 0.0, "rural": -0.20}
SCHOOL_SD = 0.5
PUPIL_SD = 0.866
_PROVINCE_SIZE = {"32": 1.0, "33": 0.8, "44": 1.4, "37": 1.3, "41": 1.5, "42": 0.9, "43": 1.0, "51": 1.2,
                  "52": 0.7, "62": 0.5}  # fmt: skip
_LOCALE_MIX = {"东部": (0.45, 0.35, 0.20), "中部": (0.30, 0.35, 0.35), "西部": (0.25, 0.30, 0.45)}
_MEDIAN = {"urban": 180.0, "town": 110.0, "rural": 25.0}
_SIGMA = {"urban": 0.5, "town": 0.5, "rural": 0.9}
_CITY_NAMES = ("临江", "青山", "平川", "云台", "河西", "南湖", "松原", "石桥", "东岭", "长塘", "白沙", "望海")
_COUNTY_NAMES = ("城关", "新华", "永安", "丰乐", "清水", "广福", "双河", "龙泉", "长乐", "安平", "金川", "太和")
_LOCALES = ("urban", "town", "rural")


@dataclass(frozen=True, eq=False)
class Country:
    """The frame of every school, and each school's true effect on the theta scale (beyond its grade's mean)."""

    frame: SchoolFrame
    effect: FloatArray


def build_country(rng: np.random.Generator, *, n_schools: int = 30_000, grades: tuple[int, ...] = (4, 8)) -> Country:
    """A country of about ``n_schools`` schools (see the module docstring).

    Primary schools (about 65%) enrol the lowest of ``grades`` and secondary schools the others.
    """
    share = np.array([_PROVINCE_SIZE.get(code, 1.0) for code, _, _ in PROVINCES])
    per_province = rng.multinomial(n_schools, share / share.sum())
    cols: dict[str, list[str]] = {k: [] for k in (
        "school_code", "school", "province_code", "province", "city_code", "city", "county_code", "county",
        "region", "locale")}  # fmt: skip
    kinds: list[bool] = []
    for (pcode, pname, region), n in zip(PROVINCES, per_province.tolist(), strict=True):
        locales = rng.choice(_LOCALES, size=n, p=_LOCALE_MIX[region])
        county = rng.integers(0, 20, size=n)
        primary = rng.random(n) < 0.65
        for k in range(n):
            ci, ki = int(county[k]) // 5, int(county[k]) % 5
            ccode, kcode = f"{pcode}{ci + 1:02d}", f"{pcode}{ci + 1:02d}{ki + 1:02d}"
            loc = str(locales[k])
            place = _COUNTY_NAMES[(k * 7 + ki) % len(_COUNTY_NAMES)]
            kind = "小学" if primary[k] else "中学"
            name = {"urban": f"{place}路第{k % 9 + 1}{kind}", "town": f"{place}镇中心{kind}",
                    "rural": f"{place}乡{'村' if primary[k] else ''}{kind}"}[loc]  # fmt: skip
            cols["school_code"].append(f"S{kcode}{k:05d}")
            cols["school"].append(name)
            cols["province_code"].append(pcode)
            cols["province"].append(pname)
            cols["city_code"].append(ccode)
            cols["city"].append(f"{_CITY_NAMES[(int(pcode) + ci) % len(_CITY_NAMES)]}市")
            cols["county_code"].append(kcode)
            cols["county"].append(f"{_COUNTY_NAMES[(int(ccode) + ki) % len(_COUNTY_NAMES)]}{'区' if ki == 0 else '县'}")
            cols["region"].append(region)
            cols["locale"].append(loc)
        kinds += primary.tolist()
    total = len(kinds)
    primary_arr = np.array(kinds, dtype=bool)
    loc_arr = np.array(cols["locale"])
    median = np.array([_MEDIAN[x] for x in cols["locale"]])
    sigma = np.array([_SIGMA[x] for x in cols["locale"]])
    size = np.clip(np.rint(median * np.exp(sigma * rng.standard_normal(total))), 3, 900).astype(np.int64)
    enrolment: dict[int, npt.NDArray[np.int64]] = {}
    low = min(grades)
    for g in grades:
        if g == low:
            enrolment[g] = np.where(primary_arr, size, 0)
        else:
            enrolment[g] = np.where(primary_arr, 0, np.rint(size * 1.6).astype(np.int64))
    effect = (
        np.array([REGION_EFFECT[r] for r in cols["region"]])
        + np.array([LOCALE_EFFECT[str(x)] for x in loc_arr])
        + SCHOOL_SD * rng.standard_normal(total)
    )
    frame = SchoolFrame.from_columns(cols, enrolment, source="<synthetic country>")
    return Country(frame, effect)


def national_design(n_schools: int, grades: tuple[int, ...], *, students: int = 35) -> SamplingDesign:
    """The national simulation's design for ``n_schools`` schools (strata as fine as the size allows)."""
    by: tuple[str, ...]
    if n_schools >= 30 * 4:
        by, n_strata = ("region", "province_code", "locale"), 30
    elif n_schools >= 9 * 3:
        by, n_strata = ("region", "locale"), 9
    else:
        by, n_strata = ("region",), 3
    minimum = max(2, min(6, n_schools // (3 * n_strata)))
    return SamplingDesign(
        name="全国信息素养测评（模拟抽样）",
        grades=tuple(sorted(grades)),
        strata_by=by,
        allocation="minimum",
        schools=max(n_schools, 2 * n_strata),
        minimum=minimum,
        sort=("city_code", "county_code", "-enrolment"),
        within=WithinSchool(mode="students", students=students),
        replacements=2,
        trim=4.0,
    )
