"""The spread over boxes: each seed's point is what that seed's run gives, computed from one result's maps."""

import io

import numpy as np
import pytest
from PIL import Image

from snapmix_demo.app.spread import SPREAD_SEEDS, box_spread, spread_png
from snapmix_demo.pipeline import snapmix_pair


@pytest.fixture(scope="module")
def pair_result(photo_pair):
    a, b = photo_pair
    return snapmix_pair(a, b, backbone="resnet18", weights="random", seed=0, beta=2.0)


@pytest.mark.parametrize("seed", [0, 5, 17, 123])
def test_each_seeds_point_is_what_that_seeds_run_gives(photo_pair, pair_result, seed):
    spread = box_spread(pair_result)
    run = snapmix_pair(*photo_pair, backbone="resnet18", weights="random", seed=seed, beta=2.0)
    got = (spread.rho_a[seed], spread.rho_b[seed], spread.area_lambda[seed])
    assert np.allclose(got, (run.rho_a, run.rho_b, run.area_lambda), atol=1e-5), f"{got} vs the run's"


def test_a_few_hundred_seeds_and_a_picture(pair_result):
    spread = box_spread(pair_result)
    assert len(spread.seeds) == SPREAD_SEEDS >= 200
    assert ((spread.rho_a >= -1e-6) & (spread.rho_a <= 1 + 1e-6)).all()
    assert set(spread.to_dict()) == {"seeds", "rho_a", "rho_b", "area_lambda"}
    picture = Image.open(io.BytesIO(spread_png(pair_result, spread)))
    assert picture.size == (520, 400)
