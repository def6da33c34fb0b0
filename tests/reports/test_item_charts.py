"""The item and test curves of the researcher console (reports.charts), checked against hand computations."""

from __future__ import annotations

import numpy as np

from reports.charts import chart_svg, draw_item_curves, draw_test_information
from scoring.params import ItemParams


def _params() -> ItemParams:
    return ItemParams(
        ids=("A", "B", "C"),
        models=("2pl", "2pl", "gpcm"),
        a=np.array([1.5, 1.5, 1.0]),
        b=np.array([[0.5, np.nan], [0.5, np.nan], [-1.0, 1.0]]),
        c=np.zeros(3),
    )


def test_an_items_information_peaks_at_b_with_a_squared_over_four() -> None:
    chart = draw_item_curves(_params(), 0)
    # 2PL: I(θ) = a² P Q, largest at θ = b where P = 1/2: 1.5² / 4 = 0.5625
    assert "θ ≈ 0.5 处最大" in chart.description and "最大值 0.56" in chart.description
    assert "项目特征曲线" in chart.description and chart.kind == "item"
    svg = chart_svg(chart, "item-a")
    assert svg.startswith("<svg") and 'role="img"' in svg and "P(答对)" in svg and "polyline" in svg


def test_a_partial_credit_item_draws_one_curve_per_category() -> None:
    chart = draw_item_curves(_params(), 2)
    svg = chart_svg(chart, "item-c")
    assert all(f"P(得 {k} 分)" in svg for k in (0, 1, 2)) and "各得分类别" in chart.description


def test_test_information_is_the_sum_and_the_se_its_inverse_root() -> None:
    two = _params().subset([0, 1])
    chart = draw_test_information(two)
    # two identical 2PL items: I(0.5) = 2 x 0.5625 = 1.125 at the peak; SE there 1 / sqrt(1.125) = 0.94 > 0.45
    assert "θ ≈ 0.5 处最大，为 1.1" in chart.description and "处处大于 0.45" in chart.description
    many = ItemParams(ids=tuple(f"i{k}" for k in range(40)), models=("2pl",) * 40, a=np.full(40, 1.5),
                      b=np.linspace(-2, 2, 40).reshape(-1, 1), c=np.zeros(40))  # fmt: skip
    assert "不超过 0.45" in draw_test_information(many).description
