"""The LaDI-VTON try-on pipeline, written like a diffusers pipeline: ``check_inputs``, then the
``prepare_*`` steps, then the denoising loop in ``__call__``; the result is a
``LadiVtonPipelineOutput``.

Per batch (see ../shared/ladi-vton-spec.md, "Inference"):
1. warp the cloth with the TPS network at 256x192 (fp32), upsample the grid, sample the
   full-size cloth, refine it (fp32) and clamp to [-1, 1];
2. CLIP ViT-H/14 features of the unwarped cloth -> inversion adapter -> 16 pseudo-words ->
   the category prompt's text embedding; the empty prompt for the unconditional half;
3. VAE-encode the masked image (latent and EMASC skip features) and the warped cloth;
4. denoise (B, 4, H/8, W/8) latents with classifier-free guidance as one UNet forward of 2B
   (unconditional half: pose 0, cloth latent 0);
5. decode with the mask-gated EMASC skips.

Randomness comes only from one ``torch.Generator`` per sample (initial noise, then the two VAE
samples), so a sample's output does not depend on the batch it was generated in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from diffusers import UNet2DConditionModel
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor
from transformers import CLIPTextModel, CLIPTokenizer, CLIPVisionModel

from tasks.catalog.documents import JsonObject
from tasks.inference.ladi_vton.clip_inputs import clip_pixel_values
from tasks.inference.ladi_vton.emasc import EMASC
from tasks.inference.ladi_vton.inversion_adapter import InversionAdapter
from tasks.inference.ladi_vton.prompt import (
    CATEGORY_TEXT,
    encode_empty,
    encode_with_pseudo_words,
)
from tasks.inference.ladi_vton.scheduler import make_scheduler
from tasks.inference.ladi_vton.unet import POSE_CHANNELS
from tasks.inference.ladi_vton.vae import SKIP_FEATURES, MaskAwareVAE, gate_with_mask
from tasks.inference.ladi_vton.warping import RefinementUNet, TPSWarpingNetwork

WARP_SIZE = (256, 192)
STAGES = ("warp", "clip", "text", "encode", "denoise", "decode")


def resize_grid(grid: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """A (B, H, W, 2) sampling grid resized to ``size`` as the authors' inference resizes it
    (torchvision's bilinear resize with antialias): identical to plain bilinear when enlarging
    256x192 to 512x384, not when the image is smaller than the warp resolution."""
    return F.interpolate(
        grid.permute(0, 3, 1, 2), size=tuple(size), mode="bilinear", align_corners=False, antialias=True
    ).permute(0, 2, 3, 1)


@dataclass
class LadiVtonPipelineOutput(BaseOutput):
    """``images``: (B, 3, H, W) in [0, 1]; ``warped_cloth``: the refined warped cloth (B, 3, H, W)
    in [-1, 1]; ``timings``: seconds per stage for the whole batch."""

    images: torch.Tensor
    warped_cloth: torch.Tensor
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _Conditioning:
    mask: torch.Tensor  # (B, 1, h, w)
    masked_image_latents: torch.Tensor  # (B, 4, h, w)
    pose: torch.Tensor  # (B, 18, h, w)
    cloth_latents: torch.Tensor  # (B, 4, h, w)
    skips: list[torch.Tensor]  # EMASC outputs, mask-gated


class LadiVtonPipeline:
    def __init__(
        self,
        vae: MaskAwareVAE,
        unet: UNet2DConditionModel,
        text_encoder: CLIPTextModel,
        tokenizer: CLIPTokenizer,
        image_encoder: CLIPVisionModel,
        inversion_adapter: InversionAdapter,
        emasc: EMASC,
        tps: TPSWarpingNetwork,
        refinement: RefinementUNet,
        scheduler: str = "ddim",
        scheduler_config: JsonObject | None = None,
    ) -> None:
        self.vae, self.unet, self.text_encoder, self.tokenizer = vae, unet, text_encoder, tokenizer
        self.image_encoder, self.inversion_adapter, self.emasc = image_encoder, inversion_adapter, emasc
        self.tps, self.refinement = tps, refinement
        self.scheduler_kind, self.scheduler_config = scheduler, dict(scheduler_config or {})
        make_scheduler(scheduler, self.scheduler_config)  # fail now on a bad name
        self.device, self.dtype = torch.device("cpu"), torch.float32
        self._timings: dict[str, float] = {}

    @property
    def diffusion_modules(self) -> list[torch.nn.Module]:
        """The modules that run in ``dtype``; the warping modules always run in fp32."""
        return [self.vae, self.unet, self.text_encoder, self.image_encoder, self.inversion_adapter, self.emasc]

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> LadiVtonPipeline:
        self.device, self.dtype = torch.device(device), dtype
        for module in self.diffusion_modules:
            module.to(device=self.device, dtype=dtype).eval()
        for module in (self.tps, self.refinement):
            module.to(device=self.device, dtype=torch.float32).eval()
        return self

    # -- steps -------------------------------------------------------------------------------

    def check_inputs(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        pose_map: torch.Tensor,
        cloth: torch.Tensor,
        categories: list[str],
        generators: list[torch.Generator],
        num_inference_steps: int,
    ) -> None:
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"image must be (B, 3, H, W), got {tuple(image.shape)}")
        b, _, h, w = image.shape
        if h % 8 or w % 8:
            raise ValueError(f"height and width must be multiples of 8, got {h}x{w}")
        expected = {"mask": (b, 1, h, w), "pose_map": (b, POSE_CHANNELS, h, w), "cloth": (b, 3, h, w)}
        for name, tensor in (("mask", mask), ("pose_map", pose_map), ("cloth", cloth)):
            if tuple(tensor.shape) != expected[name]:
                raise ValueError(f"{name} must be {expected[name]}, got {tuple(tensor.shape)}")
        if len(categories) != b or len(generators) != b:
            raise ValueError(f"{b} samples need {b} categories and {b} generators, got {len(categories)} and {len(generators)}")
        unknown = sorted(set(categories) - set(CATEGORY_TEXT))
        if unknown:
            raise ValueError(f"unknown categories {unknown}; expected {', '.join(CATEGORY_TEXT)}")
        if num_inference_steps < 1:
            raise ValueError("num_inference_steps must be at least 1")
        if image.min() < -1 - 1e-3 or image.max() > 1 + 1e-3 or cloth.min() < -1 - 1e-3 or cloth.max() > 1 + 1e-3:
            raise ValueError("image and cloth must be in [-1, 1]")

    def prepare_warped_cloth(self, masked_image: torch.Tensor, pose_map: torch.Tensor, cloth: torch.Tensor) -> torch.Tensor:
        """TPS at 256x192, the grid upsampled to full size, border sampling, refinement; fp32."""
        size = cloth.shape[-2:]
        masked_image, pose_map, cloth = masked_image.float(), pose_map.float(), cloth.float()

        def low(x: torch.Tensor) -> torch.Tensor:
            return F.interpolate(x, size=WARP_SIZE, mode="bilinear", align_corners=False, antialias=True)

        grid, _ = self.tps(low(cloth), torch.cat([low(masked_image), low(pose_map)], dim=1))
        grid = resize_grid(grid, size)
        warped = F.grid_sample(cloth, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return self.refinement(torch.cat([masked_image, pose_map, warped], dim=1)).clamp(-1, 1)

    def prepare_prompt_embeds(self, cloth: torch.Tensor, categories: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(conditional, unconditional) text embeddings, each (B, 77, D)."""
        with self._timed("clip"):
            pixels = clip_pixel_values(cloth).to(self.dtype)
            features = self.image_encoder(pixel_values=pixels).last_hidden_state
            words = self.inversion_adapter(features)
        with self._timed("text"):
            conditional = encode_with_pseudo_words(self.text_encoder, self.tokenizer, categories, words)
            unconditional = encode_empty(self.text_encoder, self.tokenizer, len(categories), self.device)
        return conditional, unconditional

    def prepare_latents(
        self, batch: int, height: int, width: int, generators: list[torch.Generator], init_noise_sigma: float
    ) -> torch.Tensor:
        shape = (batch, self.unet.config.out_channels, height // 8, width // 8)
        return randn_tensor(shape, generator=generators, device=self.device, dtype=self.dtype) * init_noise_sigma

    def prepare_conditioning(
        self,
        masked_image: torch.Tensor,
        mask: torch.Tensor,
        pose_map: torch.Tensor,
        warped_cloth: torch.Tensor,
        generators: list[torch.Generator],
    ) -> _Conditioning:
        scale = self.vae.scaling_factor
        masked_dist, features = self.vae.encode(masked_image.to(self.dtype))
        cloth_dist, _ = self.vae.encode(warped_cloth.to(self.dtype))
        latent_size = masked_dist.mean.shape[-2:]
        skips = gate_with_mask(self.emasc([features[i] for i in SKIP_FEATURES]), mask.to(self.dtype))
        return _Conditioning(
            mask=F.interpolate(mask.to(self.dtype), size=latent_size, mode="nearest"),
            masked_image_latents=masked_dist.sample(generator=generators) * scale,
            pose=F.interpolate(pose_map.to(self.dtype), size=latent_size, mode="bilinear", align_corners=False),
            cloth_latents=cloth_dist.sample(generator=generators) * scale,
            skips=skips,
        )

    def denoise(
        self,
        latents: torch.Tensor,
        cond: _Conditioning,
        prompt: torch.Tensor,
        empty: torch.Tensor,
        scheduler: SchedulerMixin,
        guidance_scale: float,
        callback: Callable[[int, torch.Tensor], None] | None = None,
    ) -> torch.Tensor:
        """The sampling loop over ``scheduler``'s timesteps (set by the caller)."""
        guided = guidance_scale > 1
        if guided:  # [unconditional, conditional]: the unconditional half sees no pose and no cloth
            extra = torch.cat(
                [
                    torch.cat([cond.mask, cond.mask]),
                    torch.cat([cond.masked_image_latents, cond.masked_image_latents]),
                    torch.cat([torch.zeros_like(cond.pose), cond.pose]),
                    torch.cat([torch.zeros_like(cond.cloth_latents), cond.cloth_latents]),
                ],
                dim=1,
            )
            text = torch.cat([empty, prompt])
        else:
            extra = torch.cat([cond.mask, cond.masked_image_latents, cond.pose, cond.cloth_latents], dim=1)
            text = prompt
        for step, t in enumerate(scheduler.timesteps):
            model_input = torch.cat([latents, latents]) if guided else latents
            model_input = torch.cat([scheduler.scale_model_input(model_input, t), extra], dim=1)
            noise = self.unet(model_input, t, encoder_hidden_states=text).sample
            if guided:
                uncond, conditional = noise.chunk(2)
                noise = uncond + guidance_scale * (conditional - uncond)
            latents = scheduler.step(noise, t, latents).prev_sample
            if callback is not None:
                callback(step, latents)
        return latents

    # -- call --------------------------------------------------------------------------------

    @torch.inference_mode()
    def __call__(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        pose_map: torch.Tensor,
        cloth: torch.Tensor,
        categories: list[str],
        generators: list[torch.Generator],
        num_inference_steps: int = 50,
        guidance_scale: float = 7.5,
        callback: Callable[[int, torch.Tensor], None] | None = None,
    ) -> LadiVtonPipelineOutput:
        """``image`` and ``cloth`` (B, 3, H, W) in [-1, 1]; ``mask`` (B, 1, H, W), 1 = generate;
        ``pose_map`` (B, 18, H, W); one category and one generator per sample."""
        self.check_inputs(image, mask, pose_map, cloth, categories, generators, num_inference_steps)
        self._timings = dict.fromkeys(STAGES, 0.0)
        image, cloth = image.to(self.device), cloth.to(self.device)
        mask = (mask.to(self.device) > 0.5).float()
        pose_map = pose_map.to(self.device)
        masked_image = image * (1 - mask)
        with self._timed("warp"):
            warped = self.prepare_warped_cloth(masked_image, pose_map, cloth)
        prompt, empty = self.prepare_prompt_embeds(cloth, categories)
        scheduler = make_scheduler(self.scheduler_kind, self.scheduler_config)  # schedulers keep state: one per call
        scheduler.set_timesteps(num_inference_steps, device=self.device)
        with self._timed("encode"):
            latents = self.prepare_latents(image.shape[0], image.shape[2], image.shape[3], generators, scheduler.init_noise_sigma)
            cond = self.prepare_conditioning(masked_image, mask, pose_map, warped, generators)
        with self._timed("denoise"):
            latents = self.denoise(latents, cond, prompt, empty, scheduler, guidance_scale, callback)
        with self._timed("decode"):
            decoded = self.vae.decode(latents / self.vae.scaling_factor, cond.skips)
            images = (decoded.float() / 2 + 0.5).clamp(0, 1)
        return LadiVtonPipelineOutput(images=images, warped_cloth=warped, timings=self._timings)

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        """Wall time of a stage; on CUDA the queue is drained first so the time is the work's."""
        sync = torch.cuda.synchronize if self.device.type == "cuda" else (lambda: None)
        sync()
        start = time.perf_counter()
        yield
        sync()
        self._timings[stage] = self._timings.get(stage, 0.0) + time.perf_counter() - start
