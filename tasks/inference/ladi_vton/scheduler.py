"""Noise schedulers: DDIM with the Stable Diffusion 2 configuration (the reference), or
DPM-Solver++ (multistep, second order) on the same noise schedule for fewer steps."""

from __future__ import annotations

from diffusers import DDIMScheduler, DPMSolverMultistepScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from tasks.catalog.documents import JsonObject

SD2_SCHEDULER: JsonObject = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "steps_offset": 1,
    "set_alpha_to_one": False,
    "clip_sample": False,
    "prediction_type": "epsilon",
}

SCHEDULERS = ("ddim", "dpm-solver++")


def make_scheduler(kind: str = "ddim", config: JsonObject | None = None) -> SchedulerMixin:
    """A fresh scheduler (schedulers keep per-call state: one per pipeline call)."""
    settings = {**SD2_SCHEDULER, **(config or {})}
    if kind == "ddim":
        return DDIMScheduler.from_config(settings)
    if kind == "dpm-solver++":
        return DPMSolverMultistepScheduler.from_config(settings, algorithm_type="dpmsolver++", solver_order=2)
    raise ValueError(f"unknown scheduler {kind!r}; expected one of {', '.join(SCHEDULERS)}")
