"""Rank and worker arithmetic."""

import pytest

from pairflow.world import World, endpoint_index, world, worker, worker_batches


def test_world_sources():
    assert world(env={}) == World(0, 1)
    assert world(env={"RANK": "3", "WORLD_SIZE": "4"}) == World(3, 4)
    assert world(1, 2, env={"RANK": "3", "WORLD_SIZE": "4"}) == World(1, 2)  # arguments win
    with pytest.raises(ValueError, match="together"):
        world(env={"RANK": "1"})
    with pytest.raises(ValueError, match="not an integer"):
        world(env={"RANK": "x", "WORLD_SIZE": "2"})
    with pytest.raises(ValueError, match="outside"):
        world(env={"RANK": "2", "WORLD_SIZE": "2"})
    with pytest.raises(ValueError, match="both"):
        world(rank=0)
    with pytest.raises(ValueError, match="world size"):
        world(0, 0)


def test_world_from_torch_distributed(tmp_path):
    dist = pytest.importorskip("torch.distributed")
    if not dist.is_available():
        pytest.skip("torch.distributed not built in")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path}/pg", rank=0, world_size=1)
    try:
        # An initialised process group wins over the environment.
        assert world(env={"RANK": "1", "WORLD_SIZE": "3"}) == World(0, 1)
    finally:
        dist.destroy_process_group()


def test_worker_main_process():
    assert worker() == World(0, 1)


@pytest.mark.parametrize("n", [1, 2, 7, 10, 11])
@pytest.mark.parametrize("workers", [1, 2, 3, 4])
def test_worker_slots_keep_rank_order(n, workers):
    """DataLoader worker i reading slot (i + start) % W, taken round-robin
    (skipping exhausted workers, as DataLoader does), gives back the
    epoch's batches from start in order, each once."""
    for start in range(n + 1):
        shares = [list(worker_batches(n, (i + start) % workers, workers, start)) for i in range(workers)]
        merged, i = [], 0
        while any(shares):
            if shares[i % workers]:
                merged.append(shares[i % workers].pop(0))
            i += 1
        assert merged == list(range(start, n))
    assert [endpoint_index(r, w, 3) for r in range(2) for w in range(3)] == list(range(6))
    with pytest.raises(ValueError):
        endpoint_index(0, 3, 3)
