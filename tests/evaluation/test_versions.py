"""Model version specs: engine, dataset, sampling settings and another registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.evaluation.run import ModelVersion
from tasks.settings import Settings


def test_a_version_is_an_engine_with_its_settings(tmp_path: Path) -> None:
    version = ModelVersion.parse(
        f"ladi-vton/dresscode:inference_steps=20,scheduler=dpm-solver++,model_registry={tmp_path / 'new.yaml'}"
    )
    settings = version.settings(Settings(home=tmp_path))
    assert (settings.engine, settings.ladi_vton_dataset, settings.inference_steps, settings.scheduler) == (
        "ladi-vton",
        "dresscode",
        20,
        "dpm-solver++",
    )
    assert settings.model_registry == tmp_path / "new.yaml"
    assert (
        version.slug
        == f"ladi-vton_dresscode_inference_steps=20_scheduler=dpm-solver_model_registry={tmp_path}_new.yaml".replace("/", "_")
    )
    assert ModelVersion.parse("warp-baseline").settings(Settings(home=tmp_path)).engine == "warp-baseline"


@pytest.mark.parametrize(
    "spec", ["ladi-vton:steps=20", "ladi-vton:inference_steps", "ladi-vton:engine=null", "ladi-vton:bucket=x"]
)
def test_a_bad_version_is_refused_with_the_settings_it_may_name(spec: str) -> None:
    with pytest.raises(ValueError, match="is not SETTING=VALUE of inference_steps"):
        ModelVersion.parse(spec)
