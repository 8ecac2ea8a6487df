"""SnapMix in Lightning training: a callback that mixes every training batch with `snapmix_batch`.

Optional (`pip install snapmix-demo[lightning]`); the core never imports this module. The callback
mixes the batch before `training_step` and leaves the result on the LightningModule as `self.snapmix`
(a `BatchMix`); the module trains on `mix.x` with `snapmix_loss`:

    class Classifier(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = build_model("resnet50", num_classes=200)

        def training_step(self, batch, batch_idx):
            _, y = batch
            mix = self.snapmix  # this batch, mixed by SnapMixCallback
            return snapmix_loss(self.model(mix.x), y, mix.y_b, mix.rho_a, mix.rho_b)

    trainer = L.Trainer(callbacks=[SnapMixCallback(beta=5.0, prob=1.0, seed=0)], strategy="ddp", devices=2)

The batch itself is never modified. The CAM pass runs on the patched backbone itself, found inside the
module through torch.compile wrappers, in eval mode without gradients: DDP's gradient sync and
BatchNorm's running statistics see only the training forward. Under DDP, rank 0's BatchNorm statistics
are broadcast first (`sync_buffers`, what DDP's forward does anyway), so every rank's CAMs use the
statistics a checkpoint saves. Each rank draws from `mix_generator(seed, rank, step)`, so ranks mix
differently and a run resumed from a checkpoint repeats the mixes it would have made.
"""

from collections.abc import Callable
from typing import Any

from snapmix_demo._torchvision import ensure_torchvision_importable

ensure_torchvision_importable()  # Lightning imports torchmetrics, which imports torchvision
import lightning as L  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from snapmix_demo.inputs import prob_value  # noqa: E402
from snapmix_demo.mixes import get_mix, mix_batch  # noqa: E402
from snapmix_demo.snapmix import BatchMix  # noqa: E402
from snapmix_demo.training.distributed import mix_generator, sync_buffers  # noqa: E402
from snapmix_demo.unwrap import has_patched_api, patched_module  # noqa: E402

__all__ = ["MIX_ATTRIBUTE", "SnapMixCallback", "find_backbone", "first_two"]

MIX_ATTRIBUTE = "snapmix"  # the LightningModule attribute that holds the current batch's BatchMix


def first_two(batch: Any) -> tuple[Tensor, Tensor]:
    """Images and integer labels of an `(x, y, ...)` batch, the usual DataLoader output."""
    x, y = (batch[0], batch[1]) if isinstance(batch, list | tuple) and len(batch) >= 2 else (None, None)
    if not (isinstance(x, Tensor) and isinstance(y, Tensor) and x.ndim == 4 and y.ndim == 1):
        raise TypeError(
            "SnapMixCallback expects batches `(x, y, ...)` with images (N, C, H, W) and labels (N,); "
            "pass `unpack=` a function that returns them from your batches, e.g. `lambda b: (b['image'], b['label'])`"
        )
    return x, y


def find_backbone(module: nn.Module, path: str | None = None) -> nn.Module:
    """The patched backbone inside `module`: at `path` (a dotted submodule name), or the only one there is."""
    if path is not None:
        return patched_module(module.get_submodule(path))
    found = [(name, sub) for name, sub in module.named_modules() if has_patched_api(sub)]
    if len(found) == 1:
        return found[0][1]
    names = ", ".join(f"`{name or '(the module itself)'}`" for name, _ in found)
    problem = f"several patched backbones ({names})" if found else "no module with `extract_features`/`get_fc`"
    raise ValueError(f"SnapMixCallback found {problem} in `{type(module).__name__}`; name one with `backbone=`")


class SnapMixCallback(L.Callback):
    """Mix every training batch (SnapMix, or any method of `MIXES`) and log the label weights and fallback rate.

    Logs per step and per epoch: `snapmix/mixed` (1 if the batch was mixed, 0 if the probability gate left
    it alone), `snapmix/rho_a` and `snapmix/rho_b` (mean label weights; 1 and 0 for a batch left alone) and
    `snapmix/fallback_rate` (the share of the batch's CAMs that were degenerate, so that their weights fell
    back to area). Every rank logs the same keys every step, so `sync_dist=True` is safe.
    """

    def __init__(
        self,
        *,
        method: str = "snapmix",
        beta: float | None = None,
        prob: float = 1.0,
        seed: int = 0,
        unpack: Callable[[Any], tuple[Tensor, Tensor]] = first_two,
        backbone: str | None = None,
        sync_dist: bool = False,
        **params: object,
    ):
        """Configure the mixes.

        Args:
            method: the mixing method, a key of `snapmix_demo.MIXES` (SnapMix by default).
            beta: Beta(beta, beta) parameter of the method's mixing ratio (> 0); None: the method's paper default
                (SnapMix 5).
            prob: probability of mixing a batch.
            seed: seed of the mixes; with the rank and the step it seeds each batch's generator.
            unpack: batch -> (images (N, C, H, W), integer labels (N,)); the default takes `batch[0], batch[1]`.
            backbone: dotted name of the submodule to take CAMs from; default: the only patched one.
            sync_dist: average the logged values over ranks (one all-reduce per value and step); default:
                each rank logs its own, as Lightning does.
            **params: the method's own parameters (e.g. `top_k` for `attentive_cutmix`).

        Raises:
            ValueError: If the method is unknown, or `beta`, `prob` or a parameter is out of range.
        """
        spec = get_mix(method)
        self.params = spec.checked({**params, **({} if beta is None else {"beta": beta})})
        self.method, self.prob = method, prob_value(prob)
        self.beta = self.params.get("beta", spec.defaults.get("beta"))
        self.seed, self.unpack, self.backbone = seed, unpack, backbone
        self.sync_dist = sync_dist
        self._model: nn.Module | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Find the patched backbone once (after `configure_model`, so a compiled one is found too)."""
        self._model = find_backbone(pl_module, self.backbone)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Mix this batch with this rank's generator for this step and leave it on the module."""
        sync_buffers(trainer.strategy.model)  # under DDP: rank 0's BatchNorm statistics, as the forward would
        x, y = self.unpack(batch)
        accumulate = trainer.accumulate_grad_batches  # micro-batches of one optimiser step get distinct draws
        step = trainer.global_step * accumulate + batch_idx % accumulate
        generator = mix_generator(self.seed, trainer.global_rank, step, device=x.device)
        mix = mix_batch(x, y, self._model, method=self.method, prob=self.prob, generator=generator, **self.params)
        setattr(pl_module, MIX_ATTRIBUTE, mix)
        _log(pl_module, mix, sync_dist=self.sync_dist)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        """Drop the mix, so that nothing outside this step can train on a stale one."""
        setattr(pl_module, MIX_ATTRIBUTE, None)


def _log(pl_module: L.LightningModule, mix: BatchMix, *, sync_dist: bool) -> None:
    """Log whether the batch was mixed, its mean weights and its CAM fallback rate."""
    values = {
        "snapmix/mixed": float(mix.mixed),
        "snapmix/rho_a": mix.rho_a.float().mean(),
        "snapmix/rho_b": mix.rho_b.float().mean(),
        "snapmix/fallback_rate": mix.fallback_a.float().mean(),
    }
    pl_module.log_dict(values, on_step=True, on_epoch=True, batch_size=len(mix.x), sync_dist=sync_dist)
