"""Where the ONNX models of preprocessing run (U2-Net-p cut-outs, SCHP parsing, SimCC pose, CLIP
embeddings): onnxruntime's execution providers and threads, chosen once from the settings.

``TRYON_DEVICE`` is the one device setting of a worker (the diffusion engine reads it too):
``auto`` takes onnxruntime's CUDA provider where the installed build has it (the GPU image
installs ``onnxruntime-gpu``; the CPU image and CI the CPU build) and the CPU otherwise; ``cuda``
or ``cuda:N`` asks for that GPU and fails at once where the build has none; ``cpu`` keeps them
on the CPU. On the CPU a session runs on one thread when the process spreads its items over
several (``TRYON_CPU_THREADS``): U2-Net-p takes 141 ms on two intra-op threads and 270 on one,
but two garments side by side, one thread each, cost 176-182 ms a garment against 204-215.
What a session got is its ``device``: logged by the tasks and kept in their stage records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks.settings import Settings

CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"


@dataclass(frozen=True)
class OnnxPlacement:
    providers: list[Any]  # names, or (name, options) for a CUDA device other than 0
    intra_op_threads: int  # 0: onnxruntime's default (every core)

    def session_options(self) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.intra_op_threads
        return options

    def session(self, model: str | bytes) -> Any:
        """An ``InferenceSession`` of ``model`` (a path or the model's bytes) placed so."""
        import onnxruntime as ort

        return ort.InferenceSession(model, self.session_options(), providers=self.providers)


class DeviceUnavailable(RuntimeError):
    """The settings ask for a device this worker's onnxruntime cannot use."""


def placement(settings: Settings, available: list[str] | None = None) -> OnnxPlacement:
    """The providers and threads for the settings' device (``available``: onnxruntime's
    providers, asked when None)."""
    if available is None:
        import onnxruntime as ort

        available = ort.get_available_providers()
    device = settings.device
    threads = 1 if settings.cpu_threads > 1 else 0
    if device == "cpu" or (device == "auto" and CUDA not in available):
        return OnnxPlacement([CPU], threads)
    if CUDA not in available:
        raise DeviceUnavailable(
            f"TRYON_DEVICE={device}: this onnxruntime build has no CUDA provider ({', '.join(available)}); "
            "install onnxruntime-gpu (the GPU image does) or set TRYON_DEVICE=auto or cpu"
        )
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    return OnnxPlacement([(CUDA, {"device_id": index}), CPU], 0)


def device_of(session: Any) -> str:
    """Where a session runs: ``cuda`` when onnxruntime gave it the CUDA provider (a build that
    lists CUDA but cannot load its libraries falls back to the CPU, and says so here), else ``cpu``."""
    return "cuda" if CUDA in session.get_providers() else "cpu"
