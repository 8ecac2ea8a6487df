"""A bounded, thread-safe cache of built models: shared between requests, read-only, in eval mode.

`SNAPMIX_MODEL_CACHE_SIZE` (default 3) bounds it. Our weights are keyed by (backbone, weights kind); a
user's checkpoint by its content (sha256), not its path, so an identical upload reuses the model.
"""

import os

from snapmix_demo.backbones import BackboneSpec, spec_of
from snapmix_demo.cache import BoundedCache
from snapmix_demo.weights.resolve import Backbone, build_backbone, check_weights, user_checkpoint_backbone
from snapmix_demo.weights.user import Classes, checkpoint_digest, class_list

__all__ = ["MODEL_CACHE_SIZE", "cached_backbone", "clear_model_cache", "model_cache_info"]

MODEL_CACHE_SIZE = int(os.environ.get("SNAPMIX_MODEL_CACHE_SIZE", "3"))

_cache: BoundedCache[Backbone] = BoundedCache(MODEL_CACHE_SIZE)


def cached_backbone(
    name: str | BackboneSpec,
    *,
    weights: str = "auto",
    checkpoint: str | os.PathLike | None = None,
    classes: Classes = None,
) -> Backbone:
    """The shared eval-mode model `name` (or its spec) with `weights` or a user's `checkpoint`, built once while cached.

    A checkpoint is keyed by its content (sha256), not its path, so an identical upload reuses the model.
    """
    spec = spec_of(name)  # fail fast, with the helpful message, before taking any lock
    check_weights(weights, checkpoint)
    if checkpoint is None:
        return _cache.get_or_build((spec.name, weights), lambda: _shared(build_backbone(spec, weights)))
    names = class_list(classes)
    key = (spec.name, "checkpoint", checkpoint_digest(checkpoint), names)
    return _cache.get_or_build(key, lambda: _shared(user_checkpoint_backbone(spec, checkpoint, names)))


def _shared(backbone: Backbone) -> Backbone:
    """`backbone` made read-only: a cached model is shared between requests."""
    backbone.model.requires_grad_(False)
    return backbone


def clear_model_cache() -> None:
    """Drop every cached model (tests, or to free memory)."""
    _cache.clear()


def model_cache_info() -> dict[str, object]:
    """Cached keys, bound, number of builds so far and pending build locks."""
    return {
        "keys": _cache.keys(),
        "maxsize": _cache.maxsize,
        "builds": _cache.builds,
        "key_locks": _cache.pending_builds,
    }
