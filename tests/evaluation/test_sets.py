"""Evaluation sets: the VITON-HD and Dress Code test layouts read and imported from the fixture
photos (every input in the set or refused with its reason)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tasks.evaluation.sets import EvalPair, import_set, load_cloth, load_view, read_layout, read_set

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_dress_code_layout_is_read_per_category(tmp_path: Path) -> None:
    for category, ids in (("upper_body", ("000001", "000002")), ("dresses", ("020001",))):
        images = tmp_path / category / "images"
        images.mkdir(parents=True)
        for i in ids:
            (images / f"{i}_0.jpg").write_bytes(b"x")
            (images / f"{i}_1.jpg").write_bytes(b"x")
    (tmp_path / "upper_body" / "test_pairs_unpaired.txt").write_text("000001_0.jpg 000002_1.jpg\n")
    layout = read_layout(tmp_path)
    assert layout.source == "Dress Code test layout"
    assert {k: c for k, (c, _) in layout.persons.items()} == {
        "000001_0": "upper_body",
        "000002_0": "upper_body",
        "020001_0": "dresses",
    }
    assert sorted(layout.paired) == [("000001_0", "000001_1"), ("000002_0", "000002_1"), ("020001_0", "020001_1")]
    assert layout.unpaired == [("000001_0", "000002_1")]


def test_an_unknown_layout_is_refused_with_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="neither the VITON-HD test layout"):
        read_layout(tmp_path)


def test_viton_hd_folder_imported_with_refusals(ctx, tmp_path: Path) -> None:
    folder = tmp_path / "vitonhd" / "test"
    (folder / "image").mkdir(parents=True)
    (folder / "cloth").mkdir()
    for name, photo, garment in (("00001_00", "05997_00.jpg", "TEE-03032"), ("00002_00", "01008_00.jpg", "TEE-00055")):
        shutil.copy(SAMPLES / "library" / photo, folder / "image" / f"{name}.jpg")
        shutil.copy(SAMPLES / "drop" / garment / "front.jpg", folder / "cloth" / f"{name}.jpg")
    (folder / "image" / "00003_00.jpg").write_bytes(b"not a jpeg")
    (folder / "test_pairs.txt").write_text(
        "00001_00.jpg 00002_00.jpg\n00002_00.jpg 00001_00.jpg\n00003_00.jpg 00001_00.jpg\n00001_00.jpg 09999_00.jpg\n"
    )
    evalset = import_set(ctx, tmp_path / "vitonhd", "vitonhd-mini")
    assert evalset.source == "VITON-HD test layout imported from vitonhd"
    assert evalset.views == {"00001_00.upper_body": "upper_body", "00002_00.upper_body": "upper_body"}
    assert set(evalset.cloths) == {"00001_00", "00002_00"}
    assert set(evalset.pairs) == {
        EvalPair("00001_00.upper_body", "00001_00", "upper_body", True),
        EvalPair("00002_00.upper_body", "00002_00", "upper_body", True),
        EvalPair("00001_00.upper_body", "00002_00", "upper_body", False),
        EvalPair("00002_00.upper_body", "00001_00", "upper_body", False),
    }
    assert evalset.refused["00003_00.jpg"].startswith("person photo not usable")
    assert evalset.refused["pair 00003_00 00001_00"] == "its person or cloth was refused (see above)"
    assert evalset.refused["pair 00001_00 09999_00"] == "the pairs file names a file that is not in the folder"
    assert read_set(ctx.store, "vitonhd-mini") == evalset and len(evalset.content_sha256) == 64
    view = load_view(ctx.store, "vitonhd-mini", "00001_00.upper_body")
    assert view.person.shape == (1024, 768, 3) and view.inpaint_mask.any() and view.labels.shape == (512, 384)
    cloth, mask = load_cloth(ctx.store, "vitonhd-mini", "00001_00")
    assert cloth.shape == (1024, 768, 3) and 0.05 < mask.mean() < 0.9
    assert np.all(cloth[~mask] == 255)  # the garment on white
