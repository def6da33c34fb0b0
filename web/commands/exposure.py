"""``infolit exposure``: Sympson-Hetter exposure control for an assessment, before it opens.

An operational command: it runs the live core's exposure calibration (:mod:`assess.exposure`)
and loads nothing of the simulation package.
"""

from __future__ import annotations

import click

from itembank.db import get_engine, session_scope
from reports.render_text import pad_cell as _cell

__all__ = ["exposure_command"]


@click.command("exposure")
@click.argument("assessment")
@click.option(
    "--target",
    type=click.FloatRange(min=0.01, max=1.0),
    default=0.25,
    show_default=True,
    help="Largest share of students any one item may reach.",
)
@click.option(
    "--sessions",
    type=click.IntRange(min=200),
    default=2_000,
    show_default=True,
    help="Simulated students per calibration round.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed of the simulation.")
def exposure_command(assessment: str, target: float, sessions: int, seed: int) -> None:
    """Turn on Sympson-Hetter exposure control for ASSESSMENT (its code) before it opens.

    For each adaptive grade band, simulated students of the assessment's grades take its test
    on its calibration until no item reaches more than TARGET of them; the parameters are stored
    with the blueprint, and every live session then uses them.
    """
    import numpy as np

    from assess.exposure import set_exposure_control

    try:
        with session_scope(get_engine()) as session:
            done = set_exposure_control(
                session=session,
                assessment_code=assessment,
                target=target,
                rng=np.random.default_rng(seed),
                sessions=sessions,
            )
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"测评 {assessment}：已开启曝光控制（Sympson-Hetter），目标最大曝光率 {target:.0%}")
    click.echo(_cell("年级段", 8, right=False) + _cell("题目数", 8) + _cell("受控题目", 10) + _cell("最小 K", 10))
    for d in done:
        click.echo(
            _cell(d.band, 8, right=False)
            + _cell(str(d.items), 8)
            + _cell(str(d.controlled), 10)
            + _cell(f"{d.lowest:.3f}", 10)
        )
