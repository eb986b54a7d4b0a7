"""Random state dicts in the published layout load strictly through the registry; anything
that does not fit fails with a message that names it."""

import shutil

import pytest
import torch
import yaml

from tasks.inference.ladi_vton.components import SMALL, load_components, random_components, save_published_layout
from tasks.inference.ladi_vton.emasc import EMASC
from tasks.inference.ladi_vton.registry import registry_names
from tasks.inference.ladi_vton.weights import (
    WeightsError,
    convert_to_safetensors,
    load_strict,
    read_weights,
)
from tasks.models import ModelRegistryError, file_sha256, pull


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    folder = tmp_path_factory.mktemp("published")
    components = random_components(SMALL, seed=7)
    return components, save_published_layout(components, folder / "weights", SMALL)


def _with_entry(registry, tmp_path, name, **changes):
    data = yaml.safe_load(registry.read_text())
    data["models"][name].update(changes)
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return set(sa) == set(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_published_layout_loads_strictly_and_exactly(published, settings):
    components, registry = published
    warping = torch.load(registry.parent / "warping_vitonhd.pth", weights_only=True)
    assert set(warping) == {"tps", "refinement", "epoch"}, "the authors' warping file layout"
    loaded = load_components(settings.model_copy(update={"model_registry": registry}), "vitonhd")
    for name in ("unet", "inversion_adapter", "emasc", "tps", "refinement", "vae", "text_encoder", "image_encoder"):
        assert _same(getattr(components, name), getattr(loaded, name)), name
    assert loaded.unet.conv_in.weight.shape[1] == 31 and not loaded.unet.conv_in.weight.is_meta
    assert loaded.tps.gridGen.inverse_kernel.shape == (28, 28)


def test_a_wrong_key_is_named(published, settings, tmp_path):
    components, registry = published
    state = components.emasc.state_dict()
    state["conv.5.0.weight"] = state.pop("conv.4.0.weight")
    bad = tmp_path / "emasc_vitonhd.pth"
    torch.save(state, bad)
    path = _with_entry(registry, tmp_path, "ladi-vton-emasc-vitonhd", uri=bad.as_uri(), sha256=file_sha256(bad))
    with pytest.raises(
        WeightsError,
        match=r"emasc_vitonhd.pth does not fit EMASC: missing keys: conv.4.0.weight; unexpected keys: conv.5.0.weight",
    ):
        load_components(settings.model_copy(update={"model_registry": path}), "vitonhd")


def test_a_wrong_shape_is_named(published, settings, tmp_path):
    components, registry = published
    warping = torch.load(registry.parent / "warping_vitonhd.pth", weights_only=True)
    warping["tps"]["loc_net.regression.linear.weight"] = torch.zeros(50, 700)
    bad = tmp_path / "warping_vitonhd.pth"
    torch.save(warping, bad)
    path = _with_entry(registry, tmp_path, "ladi-vton-warping-vitonhd", uri=bad.as_uri(), sha256=file_sha256(bad))
    with pytest.raises(
        WeightsError,
        match=r"\[tps\] does not fit TPSWarpingNetwork: wrong shapes: "
        r"loc_net.regression.linear.weight is \[50, 700\] in the file, \[50, 768\] in the model",
    ):
        load_components(settings.model_copy(update={"model_registry": path}), "vitonhd")


def test_the_unet_config_must_match_the_file(published, settings, tmp_path):
    _, registry = published
    path = _with_entry(
        registry, tmp_path, "ladi-vton-unet-vitonhd", config={**SMALL.unet, "block_out_channels": [32, 32, 64, 128]}
    )
    with pytest.raises(WeightsError, match="unet_vitonhd.pth does not fit UNet2DConditionModel: .*wrong shapes: "):
        load_components(settings.model_copy(update={"model_registry": path}), "vitonhd")


def test_a_changed_file_fails_its_hash(published, settings, tmp_path):
    _, registry = published
    copy = tmp_path / "emasc_vitonhd.pth"
    shutil.copy(registry.parent / "emasc_vitonhd.pth", copy)
    path = _with_entry(registry, tmp_path, "ladi-vton-emasc-vitonhd", uri=copy.as_uri(), sha256="0" * 64)
    with pytest.raises(ModelRegistryError, match="ladi-vton-emasc-vitonhd.*the registry says 0000"):
        load_components(settings.model_copy(update={"model_registry": path}), "vitonhd")


def test_pickled_objects_are_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("unpickled code ran",))

    path = tmp_path / "evil.pth"
    torch.save({"conv.0.0.weight": Payload()}, path)
    with pytest.raises(WeightsError, match="evil.pth: cannot be read as weights"):
        read_weights(path)


def test_convert_to_safetensors_and_load(published, settings, tmp_path):
    components, registry = published
    target = tmp_path / "warping_vitonhd.safetensors"
    report = convert_to_safetensors(registry.parent / "warping_vitonhd.pth", target)
    assert report.dropped == ["epoch"] and report.tensors == len(components.tps.state_dict()) + len(
        components.refinement.state_dict()
    )
    emasc = tmp_path / "emasc_vitonhd.safetensors"
    convert_to_safetensors(registry.parent / "emasc_vitonhd.pth", emasc)
    path = _with_entry(registry, tmp_path, "ladi-vton-warping-vitonhd", uri=target.as_uri(), sha256=file_sha256(target))
    path = _with_entry(path, tmp_path, "ladi-vton-emasc-vitonhd", uri=emasc.as_uri(), sha256=file_sha256(emasc))
    loaded = load_components(settings.model_copy(update={"model_registry": path}), "vitonhd")
    assert _same(loaded.tps, components.tps) and _same(loaded.refinement, components.refinement)
    assert _same(loaded.emasc, components.emasc)


def test_full_size_emasc_loads_on_the_meta_device(tmp_path):
    state = EMASC().state_dict()
    torch.save(state, tmp_path / "emasc.pth")
    with torch.device("meta"):
        module = EMASC()
    load_strict(module, read_weights(tmp_path / "emasc.pth"), "emasc.pth")
    assert all(torch.equal(module.state_dict()[k], state[k]) for k in state)


def test_pull_fills_the_cache_from_s3_and_verifies(published, ctx, tmp_path):
    _, registry = published
    data = yaml.safe_load(registry.read_text())
    for name, entry in data["models"].items():  # upload every file and folder, point the registry at S3
        local = registry.parent / entry["uri"].removeprefix("file://" + str(registry.parent) + "/")
        if local.is_dir():
            for f in sorted(p for p in local.rglob("*") if p.is_file() and not p.name.endswith(".sha256-verified")):
                ctx.store.put_bytes(f"weights/{local.name}/{f.relative_to(local).as_posix()}", f.read_bytes())
            entry["uri"] = f"s3://{ctx.settings.bucket}/weights/{local.name}/"
        else:
            ctx.store.put_bytes(f"weights/{local.name}", local.read_bytes())
            entry["uri"] = f"s3://{ctx.settings.bucket}/weights/{local.name}"
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    settings = ctx.settings.model_copy(update={"model_registry": path})
    pulled = pull(settings)
    assert set(pulled) == set(registry_names("vitonhd").values()) | {"u2netp", "lpips-alex-lin"}, (
        "every entry, the shipped models' too, verified"
    )
    assert pulled["sd2-inpainting"].endswith("sd2-inpainting/tree")
    loaded = load_components(settings, "vitonhd")
    assert _same(loaded.unet, published[0].unet)
    # a corrupted cached copy is caught
    cached = settings.resolved_model_dir / "ladi-vton-emasc-vitonhd" / "emasc_vitonhd.pth"
    cached.write_bytes(b"truncated")
    with pytest.raises(ModelRegistryError, match="sha256"):
        pull(settings, ["ladi-vton-emasc-vitonhd"])
