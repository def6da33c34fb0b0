"""The ``probe`` job: counts steps with a pause between them, and fails at a step when asked.

It checks a deployment's queue end to end (``infolit jobs probe``), and the tests and
``bench/jobs.py`` drive the job lifecycle with it: queued, running with progress, done, failed
with its message, run again after its consumer was killed.
"""

from __future__ import annotations

import time

from assess.research.queue import JobContext, JobFailed, job_kind

__all__ = ["PROBE", "probe_params", "run_probe"]

PROBE = "probe"
"""The job kind."""


def probe_params(*, steps: int = 3, seconds: float = 0.0, fail_at: int | None = None) -> dict[str, object]:
    """The parameters of a probe job (``fail_at``: the step that fails, 1-based)."""
    if steps < 1 or seconds < 0:
        raise ValueError("a probe needs at least one step and a pause of zero or more seconds")
    return {"steps": int(steps), "seconds": float(seconds), "fail_at": fail_at}


@job_kind(PROBE)
def run_probe(job: JobContext) -> None:
    """Run ``steps`` steps of ``seconds`` each, reporting progress after each; fail at ``fail_at``."""
    steps = int(job.params.get("steps", 3))
    seconds = float(job.params.get("seconds", 0.0))
    fail_at = job.params.get("fail_at")
    job.progress(0, total=steps, message="开始")
    for step in range(1, steps + 1):
        if seconds:
            time.sleep(seconds)
        if fail_at is not None and step == int(fail_at):
            raise JobFailed(f"探测任务按要求在第 {step} 步失败")
        job.progress(step, message=f"第 {step} / {steps} 步")
        job.log(f"step {step} of {steps}")
