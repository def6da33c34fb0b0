"""`infolit research` and `infolit jobs` through click's CliRunner, with a consumer of the same queue running."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from assess.research.queue import Consumer, default_queue
from itembank.db import get_engine
from tests.assess.research.conftest import build_trial
from web.commands.jobs import jobs_group
from web.commands.research import research_group


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_researcher_runs_a_calibration_from_the_command_line(env_db: str) -> None:
    build_trial(get_engine(), n_students=400)
    queue = default_queue()
    consumer = Consumer(queue).start()
    try:
        args = ["calibrate", "FT1", "--name", "cli-1", "--model", "2pl", "--wait"]
        started = CliRunner().invoke(research_group, args)
        assert started.exit_code == 0, started.output
        assert "calibration run 1 queued" in started.output and "done 100%" in started.output
        assert "400 students, 12 items (0 anchored)" in started.output
        refused = CliRunner().invoke(research_group, ["calibrate", "FT1", "--name", "cli-2", "--items", "pilot"])
        assert refused.exit_code == 1 and "正式题须锚定" in refused.output
        probe = CliRunner().invoke(jobs_group, ["probe", "--steps", "2", "--seconds", "0", "--fail-at", "2", "--wait"])
        assert probe.exit_code == 1 and "failed" in probe.output
    finally:
        consumer.stop()
        queue.close()
    shown = CliRunner().invoke(research_group, ["show", "1", "--log"])
    assert shown.exit_code == 0 and "已保存为草稿标定" in shown.output
    job = CliRunner().invoke(jobs_group, ["show", "2"])
    assert "failed" in job.output and "探测任务按要求在第 2 步失败" in job.output
    listed = CliRunner().invoke(research_group, ["runs"])
    assert "cli-1\tFT1\tdone" in listed.output and "cli-2" not in listed.output
    missing = CliRunner().invoke(research_group, ["show", "99"])
    assert missing.exit_code == 1 and "没有这个标定任务" in missing.output
