"""The nine modules of LaDI-VTON: built at an architecture's sizes with random weights, written
in the published layout, or loaded strictly from the model registry.

Registry entries per training set ``{ds}`` (``vitonhd`` or ``dresscode``), the file names of the
authors' release:

| entry                           | backend                     | what                                  |
| ------------------------------- | --------------------------- | ------------------------------------- |
| ``ladi-vton-unet-{ds}``         | ``ladi-vton-unet``          | ``unet_{ds}.pth`` (or safetensors)     |
| ``ladi-vton-inversion-adapter-{ds}`` | ``ladi-vton-inversion-adapter`` | ``inversion_adapter_{ds}.pth`` |
| ``ladi-vton-emasc-{ds}``        | ``ladi-vton-emasc``         | ``emasc_{ds}.pth``                     |
| ``ladi-vton-warping-{ds}``      | ``ladi-vton-warping``       | ``warping_{ds}.pth`` (``tps``, ``refinement``) |
| ``sd2-inpainting``              | ``diffusers-sd2-inpainting``| folder: ``vae/``, ``text_encoder/``, ``tokenizer/``, ``scheduler/`` |
| ``clip-vit-h-14``               | ``transformers-clip-vision``| folder: the CLIP ViT-H/14 checkpoint   |

Module sizes that the spec does not fix are read from the base models (EMASC widths from the
VAE, the adapter's widths from the image and text encoders); the UNet entry may carry a
``config`` of overrides (small test configurations only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer, CLIPVisionConfig, CLIPVisionModel
from transformers.utils import logging as hf_logging

from tasks.catalog.documents import JsonObject
from tasks.inference.ladi_vton.emasc import EMASC
from tasks.inference.ladi_vton.inversion_adapter import InversionAdapter
from tasks.inference.ladi_vton.pipeline_ladi_vton import LadiVtonPipeline
from tasks.inference.ladi_vton.prompt import CATEGORY_TEXT, PLACEHOLDER
from tasks.inference.ladi_vton.registry import BACKENDS, LICENCE, WEIGHT_FILES, registry_entries, registry_names
from tasks.inference.ladi_vton.scheduler import SD2_SCHEDULER
from tasks.inference.ladi_vton.unet import build_unet
from tasks.inference.ladi_vton.vae import SD2_VAE, MaskAwareVAE, emasc_channels
from tasks.inference.ladi_vton.warping import RefinementUNet, TPSWarpingNetwork
from tasks.inference.ladi_vton.weights import load_strict, read_weights, sub_state_dict
from tasks.models import local_path
from tasks.settings import Settings


@dataclass(frozen=True)
class Architecture:
    """The sizes of one configuration. ``FULL`` is the published model; ``SMALL`` is the same
    classes at widths a CPU runs in seconds (tests, CPU benchmarks)."""

    name: str
    vae: dict[str, Any]
    unet: dict[str, Any]
    text: dict[str, Any]
    vision: dict[str, Any]
    refinement_width: int = 64

    @property
    def warping_config(self) -> JsonObject:
        return {} if self.refinement_width == 64 else {"refinement_width": self.refinement_width}


FULL = Architecture(
    name="full",
    vae=SD2_VAE,
    unet={},
    text={
        "vocab_size": 49408,
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_hidden_layers": 23,
        "num_attention_heads": 16,
        "max_position_embeddings": 77,
        "hidden_act": "gelu",
        "projection_dim": 512,
    },
    vision={
        "hidden_size": 1280,
        "intermediate_size": 5120,
        "num_hidden_layers": 32,
        "num_attention_heads": 16,
        "image_size": 224,
        "patch_size": 14,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-5,
    },
)
SMALL = Architecture(
    name="small",
    vae={**SD2_VAE, "block_out_channels": (32, 32, 64, 64), "layers_per_block": 1, "norm_num_groups": 8},
    unet={
        "block_out_channels": (32, 32, 64, 64),
        "layers_per_block": 1,
        "attention_head_dim": (2, 2, 4, 4),
        "cross_attention_dim": 32,
        "norm_num_groups": 8,
        "sample_size": 64,
    },
    text={
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": 77,
        "hidden_act": "gelu",
        "projection_dim": 32,
    },
    vision={
        "hidden_size": 64,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "image_size": 224,
        "patch_size": 32,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-5,
    },
    refinement_width=8,
)
ARCHITECTURES = {a.name: a for a in (FULL, SMALL)}


@dataclass
class LadiVtonComponents:
    vae: AutoencoderKL
    unet: UNet2DConditionModel
    text_encoder: CLIPTextModel
    tokenizer: CLIPTokenizer
    image_encoder: CLIPVisionModel
    inversion_adapter: InversionAdapter
    emasc: EMASC
    tps: TPSWarpingNetwork
    refinement: RefinementUNet
    scheduler_config: JsonObject = field(default_factory=lambda: dict(SD2_SCHEDULER))

    def pipeline(self, scheduler: str = "ddim") -> LadiVtonPipeline:
        return LadiVtonPipeline(
            MaskAwareVAE(self.vae),
            self.unet,
            self.text_encoder,
            self.tokenizer,
            self.image_encoder,
            self.inversion_adapter,
            self.emasc,
            self.tps,
            self.refinement,
            scheduler,
            self.scheduler_config,
        )


def _adapter_for(image_encoder: CLIPVisionModel, text_encoder: CLIPTextModel) -> InversionAdapter:
    vision = image_encoder.config
    return InversionAdapter(
        hidden=vision.hidden_size,
        heads=vision.num_attention_heads,
        intermediate=vision.intermediate_size,
        word_dim=text_encoder.config.hidden_size,
    )


def prompt_tokenizer() -> CLIPTokenizer:
    """A byte-level BPE CLIP tokenizer whose vocabulary is just the words of the prompts (and
    ``$``): the same class as SD2's tokenizer, small enough to build without a download. The
    real one comes from the ``sd2-inpainting`` folder."""
    words = sorted(
        {w for text in CATEGORY_TEXT.values() for w in text.split()} | {"a", "photo", "of", "model", "wearing", PLACEHOLDER}
    )
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "!": 2}
    merges: list[tuple[str, str]] = []
    for word in words:
        pieces = [*word[:-1], word[-1] + "</w>"]
        for piece in pieces:
            vocab.setdefault(piece, len(vocab))
        merged = pieces[0]
        for piece in pieces[1:]:
            merges.append((merged, piece))
            merged += piece
            vocab.setdefault(merged, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=merges, pad_token="!", model_max_length=77)


def random_components(
    architecture: Architecture = SMALL, seed: int = 0, device: str | torch.device = "cpu"
) -> LadiVtonComponents:
    """Every module at ``architecture``'s sizes with random weights (for tests and benchmarks:
    their outputs are noise-like, and say so wherever they are used)."""
    torch.manual_seed(seed)
    tokenizer = prompt_tokenizer()
    with torch.device(device):
        vae = AutoencoderKL(**architecture.vae)
        unet = build_unet(**architecture.unet)
        text_encoder = CLIPTextModel(
            CLIPTextConfig(**{"vocab_size": len(tokenizer), **architecture.text}, bos_token_id=0, eos_token_id=1, pad_token_id=2)
        )
        image_encoder = CLIPVisionModel(CLIPVisionConfig(**architecture.vision))
        adapter = _adapter_for(image_encoder, text_encoder)
        emasc = EMASC(*emasc_channels(vae.config.block_out_channels))
        tps, refinement = TPSWarpingNetwork(), RefinementUNet(width=architecture.refinement_width)
    modules = (vae, unet, text_encoder, image_encoder, adapter, emasc, tps, refinement)
    for module in modules:
        module.eval()
    return LadiVtonComponents(vae, unet, text_encoder, tokenizer, image_encoder, adapter, emasc, tps, refinement)


def save_published_layout(
    components: LadiVtonComponents,
    folder: Path,
    architecture: Architecture = FULL,
    dataset: str = "vitonhd",
    version: str = "random-weights",
    random_weights: bool = True,
) -> Path:
    """Write the components as the authors publish them (four ``.pth`` state dicts, the warping
    one holding ``tps``, ``refinement`` and an ``epoch``) plus the two base folders, and a
    ``models.yaml`` registering them (marked ``random_weights`` unless told otherwise, so that
    they can never be released); return the registry path."""
    from tasks.models import file_sha256, tree_sha256

    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "unet": components.unet.state_dict(),
        "inversion_adapter": components.inversion_adapter.state_dict(),
        "emasc": components.emasc.state_dict(),
        "warping": {"tps": components.tps.state_dict(), "refinement": components.refinement.state_dict(), "epoch": 0},
    }
    uris: dict[str, Path] = {}
    for part, state in files.items():
        uris[part] = folder / f"{part}_{dataset}.pth"
        torch.save(state, uris[part])
    base = folder / "sd2-inpainting"
    components.vae.save_pretrained(base / "vae")
    components.text_encoder.save_pretrained(base / "text_encoder")
    components.tokenizer.save_pretrained(base / "tokenizer")
    (base / "scheduler").mkdir(parents=True, exist_ok=True)
    (base / "scheduler" / "scheduler_config.json").write_text(
        json.dumps({"_class_name": "DDIMScheduler", **components.scheduler_config})
    )
    components.image_encoder.save_pretrained(folder / "clip-vit-h-14")
    uris["base"], uris["image_encoder"] = base, folder / "clip-vit-h-14"
    models = {}
    for part, name in registry_names(dataset).items():
        path = uris[part]
        models[name] = {
            "backend": BACKENDS[part],
            "uri": path.as_uri() + ("/" if path.is_dir() else ""),
            "sha256": tree_sha256(path) if path.is_dir() else file_sha256(path),
            "licence": LICENCE if part in WEIGHT_FILES else "see the base model's licence",
            "version": version,
            "random_weights": random_weights,
        }
    names = registry_names(dataset)
    if architecture.unet:
        models[names["unet"]]["config"] = {k: list(v) if isinstance(v, tuple) else v for k, v in architecture.unet.items()}
    if architecture.warping_config:
        models[names["warping"]]["config"] = architecture.warping_config
    registry = folder / "models.yaml"
    registry.write_text(yaml.safe_dump({"models": models}, sort_keys=True))
    return registry


def _on_meta(build: Any) -> Any:
    with torch.device("meta"):
        return build()


def load_components(settings: Settings, dataset: str, device: str = "cpu") -> LadiVtonComponents:
    """Every module from the registry: files fetched and sha256-verified, state dicts read
    without unpickling objects and loaded strictly; base folders from safetensors only. The
    modules of the published layout are built on the meta device and take their tensors as read
    (safetensors straight onto ``device``), so no weight is allocated twice."""
    hf_logging.disable_progress_bar()  # one bar per module fills worker logs; the engine logs the load
    entries = registry_entries(settings, dataset)
    paths = {part: local_path(settings, entry) for part, entry in entries.items()}
    base = paths["base"]
    pretrained = {"local_files_only": True, "use_safetensors": True}
    vae = AutoencoderKL.from_pretrained(base / "vae", **pretrained).eval()
    text_encoder = CLIPTextModel.from_pretrained(base / "text_encoder", **pretrained).eval()
    tokenizer = CLIPTokenizer.from_pretrained(base / "tokenizer", local_files_only=True)
    scheduler_file = base / "scheduler" / "scheduler_config.json"
    scheduler_config = {**SD2_SCHEDULER, **(json.loads(scheduler_file.read_text()) if scheduler_file.exists() else {})}
    image_encoder = CLIPVisionModel.from_pretrained(paths["image_encoder"], **pretrained).eval()

    def state(part: str) -> dict[str, Any]:
        return read_weights(paths[part], device)

    unet = load_strict(_on_meta(lambda: build_unet(**entries["unet"].config)), state("unet"), paths["unet"].name)
    adapter = load_strict(
        _on_meta(lambda: _adapter_for(image_encoder, text_encoder)), state("inversion_adapter"), paths["inversion_adapter"].name
    )
    emasc = load_strict(
        _on_meta(lambda: EMASC(*emasc_channels(vae.config.block_out_channels))), state("emasc"), paths["emasc"].name
    )
    warping = state("warping")
    source = paths["warping"].name
    tps = load_strict(_on_meta(TPSWarpingNetwork), sub_state_dict(warping, "tps", source), f"{source} [tps]")
    width = int(entries["warping"].config.get("refinement_width", 64))
    refinement = load_strict(
        _on_meta(lambda: RefinementUNet(width=width)), sub_state_dict(warping, "refinement", source), f"{source} [refinement]"
    )
    return LadiVtonComponents(
        vae, unet, text_encoder, tokenizer, image_encoder, adapter, emasc, tps, refinement, scheduler_config
    )
