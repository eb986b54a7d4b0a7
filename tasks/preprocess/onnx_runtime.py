"""Where the ONNX models of preprocessing run (U2-Net-p cut-outs, SCHP parsing, SimCC pose, CLIP
embeddings): onnxruntime's execution providers and threads, chosen once from the settings.

``TRYON_DEVICE`` is the one device setting of a worker (the diffusion engine reads it too):
``auto`` takes onnxruntime's CUDA provider where the installed build has it (the GPU image
installs ``onnxruntime-gpu``; the CPU image and CI the CPU build) and the CPU otherwise; ``cuda``
or ``cuda:N`` asks for that GPU and fails at once where the build has none; ``cpu`` keeps them
on the CPU. On the CPU a session runs on one thread when the process spreads its items over
several (``TRYON_CPU_THREADS``): U2-Net-p takes 141 ms on two intra-op threads and 270 on one,
but two garments side by side, one thread each, cost 176-182 ms a garment against 204-215 (timed
by hand once, on 40 synthetic garments).
What a session got is its ``device``: logged by the tasks and kept in their stage records.

Batches: on CUDA the model calls of a process's threads are gathered into batches
(``BatchGatherer``, ``TRYON_MODEL_BATCH``, default 16 on CUDA); on the CPU one image a call, as
batching buys nothing there (U2-Net-p: four images in one call 3.3 s, one at a time 2.4 s)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tasks.settings import Settings

CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"


@dataclass(frozen=True)
class OnnxPlacement:
    providers: list[Any]  # names, or (name, options) for a CUDA device other than 0
    intra_op_threads: int  # 0: onnxruntime's default (every core)
    batch: int = 1  # images a model call gathers from the process's threads (BatchGatherer)

    def session_options(self) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.intra_op_threads
        return options

    def session(self, model: str | bytes) -> Any:
        """An ``InferenceSession`` of ``model`` (a path or the model's bytes) placed so."""
        import onnxruntime as ort

        return ort.InferenceSession(model, self.session_options(), providers=self.providers)


ON_CPU = OnnxPlacement([CPU], 0)  # a session made without a placement (tests, tools): the CPU, every core


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
        return OnnxPlacement([CPU], threads, settings.model_batch or 1)
    if CUDA not in available:
        raise DeviceUnavailable(
            f"TRYON_DEVICE={device}: this onnxruntime build has no CUDA provider ({', '.join(available)}); "
            "install onnxruntime-gpu (the GPU image does) or set TRYON_DEVICE=auto or cpu"
        )
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    return OnnxPlacement([(CUDA, {"device_id": index}), CPU], 0, settings.model_batch or 16)


def device_of(session: Any) -> str:
    """Where a session runs: ``cuda`` when onnxruntime gave it the CUDA provider (a build that
    lists CUDA but cannot load its libraries falls back to the CPU, and says so here), else ``cpu``."""
    return "cuda" if CUDA in session.get_providers() else "cpu"


def free_batch(model_path: str) -> bytes:
    """The ONNX model with its inputs' and outputs' first dimension made free (a model exported
    for one image at a time, as U2-Net-p is, runs a batch the same way: its other shapes are
    computed from the input's)."""
    import onnx

    model = onnx.load(model_path)
    for value in [*model.graph.input, *model.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    del model.graph.value_info[:]  # shapes inferred for one image; the runtime infers them again
    return model.SerializeToString()


T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)  # a call is itself: found in the waiting list by identity
class _Waiting(Generic[T, R]):
    item: T
    done: threading.Event = field(default_factory=threading.Event)
    result: R | None = None
    error: BaseException | None = None


class BatchGatherer(Generic[T, R]):
    """One-item calls from many threads, run ``batch`` at a time by ``run`` (items -> results in
    the same order): a call waits until ``batch`` items are waiting or ``wait_s`` has passed, then
    whichever thread finds the batch runs it for all. ``batch`` 1 runs each call at once."""

    def __init__(self, run: Callable[[list[T]], list[R]], batch: int, wait_s: float = 0.02) -> None:
        self.run, self.batch, self.wait_s = run, batch, wait_s
        self._lock = threading.Lock()
        self._waiting: list[_Waiting[T, R]] = []

    def __call__(self, item: T) -> R:
        if self.batch <= 1:
            return self.run([item])[0]
        mine = _Waiting[T, R](item)
        with self._lock:
            self._waiting.append(mine)
            full = len(self._waiting) >= self.batch
        if not full:
            mine.done.wait(self.wait_s)
        with self._lock:
            taken = self._waiting if mine in self._waiting else []
            if taken:
                self._waiting = []
        if taken:
            self._run(taken)
        mine.done.wait()
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]  # set before done

    def _run(self, taken: list[_Waiting[T, R]]) -> None:
        try:
            for waiting, result in zip(taken, self.run([w.item for w in taken]), strict=True):
                waiting.result = result
        except BaseException as error:  # every waiting call hears of it
            for waiting in taken:
                waiting.error = error
        for waiting in taken:
            waiting.done.set()
