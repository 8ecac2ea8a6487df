"""Where a backbone's ImageNet weights are: inside an installed package, in the torch hub cache, or still to download.

`SNAPMIX_WEIGHTS_MIRROR=URL` downloads `URL/<original file name>` instead of the upstream URL.
"""

import importlib.resources
import os
import urllib.parse
from pathlib import Path

import torch

from snapmix_demo.backbones import BackboneSpec, PackagedWeights, spec_of
from snapmix_demo.weights.download import DownloadError, Progress, download

__all__ = ["download_url", "fetch_imagenet", "hub_path", "imagenet_status", "packaged_file"]


def hub_path(spec: BackboneSpec) -> Path:
    """Where torch.hub keeps (or would keep) `spec`'s ImageNet file: `$TORCH_HOME/hub/checkpoints/<file>`."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urllib.parse.urlparse(spec.imagenet_url).path)


def download_url(spec: BackboneSpec) -> str:
    """Where `spec`'s ImageNet file is downloaded from: the mirror (`SNAPMIX_WEIGHTS_MIRROR`), else upstream."""
    mirror = os.environ.get("SNAPMIX_WEIGHTS_MIRROR", "").strip()
    return f"{mirror.rstrip('/')}/{hub_path(spec).name}" if mirror else spec.imagenet_url


def packaged_file(package: PackagedWeights | None) -> Path | None:
    """The checkpoint inside an installed weights package, or None when the package is not installed."""
    if package is None:
        return None
    try:
        path = Path(str(importlib.resources.files(package.module).joinpath(package.file)))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def imagenet_status(backbone: str | BackboneSpec) -> str:
    """How `backbone`'s (a name or its spec) ImageNet weights would be had now: "packaged", "cached" or "download"."""
    spec = spec_of(backbone)
    if packaged_file(spec.package):
        return "packaged"
    return "cached" if hub_path(spec).is_file() else "download"


def fetch_imagenet(backbone: str | BackboneSpec, *, progress: Progress | None = None) -> str:
    """Make `backbone`'s ImageNet weights available offline; "packaged", "cached" or "downloaded".

    Raises:
        DownloadError: the download failed; the message says what to do instead.
    """
    spec = spec_of(backbone)
    status = imagenet_status(spec)
    if status != "download":
        return status
    try:
        download(download_url(spec), hub_path(spec), progress=progress)
    except DownloadError as e:
        raise DownloadError(
            f"could not download the ImageNet weights of `{spec.name}`: {e}. Check the network, set "
            f"SNAPMIX_WEIGHTS_MIRROR to a mirror, or run `python -m snapmix_demo.weights fetch {spec.name}` on a "
            f"connected machine and copy {hub_path(spec).name} into its torch hub cache ($TORCH_HOME/hub/checkpoints)"
        ) from e
    return "downloaded"
