"""What several benchmarks share: the front-end's rate and frame rate (from the package, not typed out again) and a
step timer for fastai training loops. Imported as `from common import ...` (a script's own folder is on its path)."""
import time

from fastai.callback.core import Callback, CancelFitException

from simple_speaker_embedding.audio import SAMPLE_RATE, MelHParams

SR = SAMPLE_RATE                          # Hz: what the front-end works at
FPS = MelHParams().frames_per_second()    # log-mel frames per second of audio


class StepTimer(Callback):
    "Time training steps `first`..`n` (a clock reading after each, `sync()` before the first and last, e.g. a CUDA sync, "
    "so the CPU/GPU overlap being measured is not hidden by a sync per step); stop the fit after step `n`."
    order = 99
    def __init__(self, n:int, first:int=2,
                 sync=lambda: None): self.n, self.first, self.sync, self.k, self.t = n, first, sync, 0, []
    def after_batch(self):
        if not self.training: return
        self.k += 1
        if self.k in (self.first, self.n): self.sync()
        if self.k >= self.first: self.t.append(time.perf_counter())
        if self.k >= self.n: raise CancelFitException()

    @property
    def steps_per_s(self) -> float: return (len(self.t) - 1) / (self.t[-1] - self.t[0])
