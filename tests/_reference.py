"""A naive, per-sample SnapMix written straight from the paper's formulas: the oracle for `snapmix_batch`.

Deliberately different from the library: a Python loop over samples, a Conv-free CAM
computed as a sum over channels, numpy sums, and explicit slicing.
"""

import numpy as np
import torch
import torch.nn.functional as F


def reference_spm(model, image: torch.Tensor, cls: int) -> np.ndarray | None:
    """SPM (H, W) of one normalised image (C, H, W) for class `cls`, or None if the CAM is constant."""
    model.eval()
    with torch.no_grad():
        feats = model.extract_features(image[None])[0]  # (D, h, w)
        fc = model.get_fc()
        cam = sum(fc.weight[cls, d] * feats[d] for d in range(feats.shape[0])) + fc.bias[cls]
        cam = F.interpolate(cam[None, None], size=image.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    v = cam.double().numpy()
    v = v - v.min()
    s = v.sum()
    if not np.isfinite(s) or s <= 1e-6 * np.abs(cam.double().numpy()).max() * v.size:
        return None
    return v / s


def reference_batch(model, x, y, box_a, box_b, perm):
    """Mixed images, y_b, rho_a, rho_b, sample by sample."""
    height, width = x.shape[-2:]
    at, al, ab, ar = box_a
    bt, bl, bb, br = box_b
    lam_area = 1 - (ab - at) * (ar - al) / (height * width)
    spms = [reference_spm(model, x[i], int(y[i])) for i in range(len(x))]
    mixed, rho_a, rho_b = [], [], []
    for i in range(len(x)):
        j = int(perm[i])
        crop = x[j, :, bt:bb, bl:br]
        crop = F.interpolate(crop[None], size=(ab - at, ar - al), mode="bilinear", align_corners=False)[0]
        m = x[i].clone()
        m[:, at:ab, al:ar] = crop
        mixed.append(m)
        rho_a.append(lam_area if spms[i] is None else 1 - spms[i][at:ab, al:ar].sum())
        rho_b.append(1 - lam_area if spms[j] is None else spms[j][bt:bb, bl:br].sum())
    return torch.stack(mixed), y[perm], torch.tensor(rho_a), torch.tensor(rho_b)
