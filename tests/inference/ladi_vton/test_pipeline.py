"""The whole LaDI-VTON pipeline on the fixture photos, a small random-weight configuration of
the real classes: one batch covering the three categories."""

import pytest
import torch

from tasks.inference.ladi_vton.components import SMALL, random_components
from tasks.inference.ladi_vton.pipeline_ladi_vton import STAGES
from tasks.inference.ladi_vton.tensors import sample_tensors

# largest difference (on the [0, 1] output scale) allowed between a sample generated in a batch
# and alone: float reductions are ordered differently for different batch sizes
BATCH_TOLERANCE = 1e-4
STEPS = 3


@pytest.fixture(scope="module")
def pipe():
    return random_components(SMALL, seed=11).pipeline().to("cpu")


@pytest.fixture(scope="module")
def batch(samples):
    chosen = [
        samples[("TEE-03032", "05997_00.jpg")],
        samples[("JEANS-051946", "051918_0.jpg")],
        samples[("DRESS-052234", "052472_0.jpg")],
    ]
    return chosen, sample_tensors(chosen)


def _run(pipe, tensors, chosen, rows=None, **kwargs):
    rows = list(range(len(chosen))) if rows is None else rows
    return pipe(
        **{k: v[rows] for k, v in tensors.items()},
        categories=[chosen[i].category for i in rows],
        generators=[torch.Generator().manual_seed(chosen[i].seed) for i in rows],
        num_inference_steps=kwargs.pop("steps", STEPS),
        **kwargs,
    )


def test_inputs_from_the_fixtures(batch):
    chosen, tensors = batch
    assert [s.category for s in chosen] == ["upper_body", "lower_body", "dresses"]
    assert tensors["image"].shape == (3, 3, 512, 384) and tensors["pose_map"].shape == (3, 18, 512, 384)
    assert tensors["image"].min() >= -1 and tensors["image"].max() <= 1
    assert set(tensors["mask"].unique().tolist()) == {0.0, 1.0}
    assert tensors["pose_map"].amax(dim=(2, 3))[:, [1, 2, 5]].eq(1).all(), "neck and shoulders found, each peaking at 1"


def test_deterministic_shapes_ranges_and_batch_invariant(pipe, batch):
    chosen, tensors = batch
    first = _run(pipe, tensors, chosen)
    again = _run(pipe, tensors, chosen)
    assert first.images.shape == (3, 3, 512, 384) and first.warped_cloth.shape == (3, 3, 512, 384)
    assert first.images.min() >= 0 and first.images.max() <= 1 and first.images.std() > 0.01
    assert first.warped_cloth.min() >= -1 and first.warped_cloth.max() <= 1
    assert torch.equal(first.images, again.images), "same seeds, same images"
    assert set(first.timings) == set(STAGES) and all(v > 0 for v in first.timings.values())
    for i in range(3):
        alone = _run(pipe, tensors, chosen, [i])
        assert (alone.images[0] - first.images[i]).abs().max() <= BATCH_TOLERANCE, chosen[i].category
    # the seed matters
    other = pipe(
        **{k: v[:1] for k, v in tensors.items()},
        categories=["upper_body"],
        generators=[torch.Generator().manual_seed(5)],
        num_inference_steps=STEPS,
    )
    assert (other.images[0] - first.images[0]).abs().max() > 0.01


def test_guidance_and_category_change_the_result(pipe, batch):
    chosen, tensors = batch
    guided = _run(pipe, tensors, chosen, [0])
    unguided = _run(pipe, tensors, chosen, [0], guidance_scale=1.0)
    assert (guided.images - unguided.images).abs().max() > 1e-3
    as_dress = pipe(
        **{k: v[:1] for k, v in tensors.items()},
        categories=["dresses"],
        generators=[torch.Generator().manual_seed(chosen[0].seed)],
        num_inference_steps=STEPS,
    )
    assert (as_dress.images - guided.images).abs().max() > 1e-4, "the category is part of the prompt"


def test_dpm_solver_option_runs_on_the_same_inputs(batch):
    chosen, tensors = batch
    pipe = random_components(SMALL, seed=11).pipeline("dpm-solver++").to("cpu")
    out = _run(pipe, tensors, chosen, [1], steps=2)
    assert out.images.shape == (1, 3, 512, 384) and torch.isfinite(out.images).all()


def test_bad_inputs_are_refused_by_name(pipe, batch):
    chosen, tensors = batch
    with pytest.raises(ValueError, match="unknown categories"):
        pipe(**{k: v[:1] for k, v in tensors.items()}, categories=["hats"], generators=[torch.Generator()])
    with pytest.raises(ValueError, match="pose_map must be"):
        pipe(
            **{**{k: v[:1] for k, v in tensors.items()}, "pose_map": tensors["pose_map"][:1, :17]},
            categories=["upper_body"],
            generators=[torch.Generator()],
        )
    with pytest.raises(ValueError, match="multiples of 8"):
        pipe(**{k: v[:1, :, :500] for k, v in tensors.items()}, categories=["upper_body"], generators=[torch.Generator()])
    with pytest.raises(ValueError, match="1 samples need 1 categories and 1 generators"):
        pipe(**{k: v[:1] for k, v in tensors.items()}, categories=["upper_body"], generators=[])
    with pytest.raises(ValueError, match="unknown scheduler"):
        random_components(SMALL).pipeline("euler")


def test_the_warp_grid_is_resized_with_antialias_as_the_reference_does():
    """torchvision's resize(antialias=True) on the TPS grid: the same as plain bilinear at the
    model's 512x384 (within 1e-6), but not at a size below the 256x192 warp resolution."""
    import torch.nn.functional as F

    from tasks.inference.ladi_vton.pipeline_ladi_vton import resize_grid

    grid = torch.rand(2, 256, 192, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1

    def plain(size):
        return F.interpolate(grid.permute(0, 3, 1, 2), size=size, mode="bilinear", align_corners=False).permute(0, 2, 3, 1)

    assert (resize_grid(grid, (512, 384)) - plain((512, 384))).abs().max() < 1e-6
    small = resize_grid(grid, (128, 96))
    reference = F.interpolate(
        grid.permute(0, 3, 1, 2), size=(128, 96), mode="bilinear", align_corners=False, antialias=True
    ).permute(0, 2, 3, 1)
    assert torch.equal(small, reference)
    assert (small - plain((128, 96))).abs().max() > 0.05, "antialias averages the grid where plain bilinear samples it"
