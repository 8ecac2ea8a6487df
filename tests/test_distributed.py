"""The patched API through wrappers, per-rank generators, buffer sync (the 2-process path: test_lightning.py)."""

import numpy as np
import pytest
import torch

from snapmix_demo.snapmix import snapmix_batch
from snapmix_demo.training.distributed import mix_generator, sync_buffers
from snapmix_demo.unwrap import patched_module


@pytest.fixture(scope="module")
def small_model(built):
    return built("resnet18")


def test_wrapped_models_give_the_same_mix_as_the_bare_one(small_model):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(4, 3, 64, 96, generator=g), torch.randint(0, 1000, (4,), generator=g)
    compiled = torch.compile(small_model, backend="eager")  # never called: the CAM pass uses the inner module
    wrappers = [torch.nn.DataParallel(small_model), compiled, torch.nn.DataParallel(compiled)]
    bare = snapmix_batch(x, y, small_model, generator=torch.Generator().manual_seed(3))
    for wrapper in wrappers:
        assert patched_module(wrapper) is small_model, type(wrapper).__name__
        wrapped = snapmix_batch(x, y, wrapper, generator=torch.Generator().manual_seed(3))
        assert all(torch.equal(p, q) for p, q in zip(bare, wrapped, strict=True)), type(wrapper).__name__
    with pytest.raises(TypeError, match=r"has no `extract_features`/`get_fc`.*DistributedDataParallel"):
        patched_module(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1)))


def test_mix_generator_streams_per_seed_rank_and_step():
    def draw(*key):
        return torch.randint(2**62, (4,), generator=mix_generator(*key)).tolist()

    assert draw(0, 1, 5) == draw(0, 1, 5), "the same (seed, rank, step) must repeat its stream"
    keys = [(0, 0, 0), (0, 1, 0), (0, 0, 1), (1, 0, 0), (0, 1, 1), (1, 0, 1)]
    assert len({tuple(draw(*k)) for k in keys}) == len(keys), "neighbouring keys must not share a stream"
    state = np.random.SeedSequence([3, 1, 2]).generate_state(1, np.uint64)[0]
    assert mix_generator(3, 1, 2).initial_seed() == int(state), "seeded by numpy's SeedSequence of the triple"


def test_sync_buffers_leaves_anything_but_ddp_alone(small_model):
    before = {k: v.clone() for k, v in small_model.named_buffers()}
    sync_buffers(small_model)
    sync_buffers(torch.nn.DataParallel(small_model))
    assert all(torch.equal(before[k], v) for k, v in small_model.named_buffers())
