"""Beyond one process: sharded validation and multi-node DDP (c10d rendezvous) over gloo."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import uuid

import numpy as np
import pytest
import torch
import torch.distributed as dist

from seizure.config import load_config
from seizure.training.checkpoint import load_checkpoint
from seizure.training.data import SplitData, ThreadFeeder, eval_plan
from seizure.training.fakes import tiny_model_factory, write_random_cache
from seizure.training.step import autocast_for
from seizure.training.validation import shard_plan, validate

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="torch.distributed with gloo is not available",
)

T = 8

VALIDATE = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import torch
    torch.set_num_threads(1)
    from seizure.preprocessing.cache import Cache
    from seizure.training.data import SplitData, ThreadFeeder, eval_plan
    from seizure.training.distributed import init_distributed, shutdown
    from seizure.training.step import autocast_for
    from seizure.training.validation import validate

    class Net(torch.nn.Module):  # BatchNorm: its running statistics must be rank 0's
        def __init__(self, shape):
            super().__init__()
            n = int(np.prod(shape))
            self.norm = torch.nn.BatchNorm1d(n)
            self.head = torch.nn.Linear(n, 1)

        def forward(self, x):
            b, t = x.shape[:2]
            return self.head(self.norm(x.reshape(b * t, -1) / 100.0)).reshape(b, t)

    cache, out = sys.argv[1:3]
    info, _ = init_distributed("cpu")
    data = SplitData.from_cache(Cache(cache), "dev")
    torch.manual_seed(0)
    model = Net(data.window_shape)
    with torch.no_grad():
        model.norm.running_mean.normal_()
        model.norm.running_var.uniform_(0.5, 2.0)
        model.norm.running_mean.add_(info.rank)  # the ranks' statistics differ, as after DDP
    feeder = ThreadFeeder(data, info.device, 8, 3, num_threads=1, prefetch=1)
    probs, labels, loss = validate(model, data, feeder, eval_plan(data, 8, 3), info.device,
                                   autocast_for(info.device, "fp32"), None, info)
    feeder.close()
    np.savez(os.path.join(out, f"rank{info.rank}_of{info.world_size}.npz"), loss=loss,
             **{f"p_{k}": v for k, v in probs.items()}, **{f"y_{k}": v for k, v in labels.items()})
    shutdown(info)
    """
)

TRAIN = textwrap.dedent(
    """
    import os, sys
    import torch
    torch.set_num_threads(1)
    from seizure.config import load_config
    from seizure.training.fakes import tiny_model_factory
    from seizure.training.loop import train

    cache, out, mode = sys.argv[1:4]
    cfg = load_config(overrides=[
        "preprocess.sample_rate_hz=32", "preprocess.bandpass_hz=null",
        "preprocess.notch_hz=null", "train.epochs=1", "train.batch_size=2",
        "train.sequence_windows=8", "train.num_workers=1", "train.log_every_steps=2",
        "train.progress=false", "train.sequence_sampling=tile", "train.max_steps=4",
    ])
    seen = {}
    result = train(cfg, cache, "run", device="cpu", model_factory=tiny_model_factory,
                   callbacks=[lambda info: seen.update(model=info.model, step=info.step)])
    rank = os.environ["RANK"]
    torch.save({"model": seen["model"].state_dict(), "step": seen["step"],
                "status": result.status, "cwd": os.getcwd(), "best": result.best_value},
               os.path.join(out, f"{mode}_rank{rank}.pt"))
    """
)


def small_dev_cache(path):
    # lengths 3..45: recordings shorter than T, multiples of T and ragged tails all occur
    return write_random_cache(
        path, splits={"train": 1, "dev": 9}, windows_per_recording=(3, 45), seed=7
    )


def test_shards_partition_the_plan_at_batch_boundaries(tmp_path):
    dev = SplitData.from_cache(small_dev_cache(tmp_path / "cache"), "dev")
    plan = eval_plan(dev, T, batch_size=3)
    assert len(plan) >= 5 and plan.short  # an uneven split and short recordings
    for world in (1, 2, 3, len(plan) + 2):
        shards = [shard_plan(plan, r, world) for r in range(world)]
        for name in ("rec", "start", "keep_from"):
            joined = np.concatenate([getattr(s, name) for s in shards])
            assert np.array_equal(joined, getattr(plan, name)), (world, name)
        assert all(len(s.rec) % plan.batch_size == 0 for s in shards)
        assert sorted(r for s in shards for r in s.short) == sorted(plan.short)
        assert max(len(s) for s in shards) - min(len(s) for s in shards) <= 1


@pytest.mark.slow
def test_two_ranks_validate_a_share_each_with_the_single_process_result(tmp_path):
    cache = small_dev_cache(tmp_path / "cache")
    script = tmp_path / "validate.py"
    script.write_text(VALIDATE)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    single = [sys.executable, str(script), str(cache.path), str(tmp_path)]
    proc = subprocess.run(single, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(script), str(cache.path), str(tmp_path)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    from seizure.training.metrics import auroc

    one = np.load(tmp_path / "rank0_of1.npz")
    keys = sorted(k for k in one.files if k.startswith("p_"))
    assert len(keys) == 9
    for rank in (0, 1):
        got = np.load(tmp_path / f"rank{rank}_of2.npz")
        assert sorted(k for k in got.files if k.startswith("p_")) == keys
        # each window comes from the same batch on exactly one rank and the reduction adds
        # zeros to it: the probabilities, hence the loss and AUROC, are equal bit for bit
        for k in keys:
            assert np.array_equal(got[k], one[k]), (rank, k)
        assert float(got["loss"]) == float(one["loss"])
        p = np.concatenate([got[k] for k in keys])
        y = np.concatenate([got["y_" + k[2:]] for k in keys])
        p1 = np.concatenate([one[k] for k in keys])
        assert 0 < y.sum() < len(y)
        assert auroc(p, y) == auroc(p1, y)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_nodes_by_c10d_rendezvous_train_as_one_two_process_node(tmp_path):
    cache = write_random_cache(
        tmp_path / "cache", splits={"train": 4, "dev": 2}, windows_per_recording=48
    )
    script = tmp_path / "ddp_train.py"
    script.write_text(TRAIN)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    torchrun = [sys.executable, "-m", "torch.distributed.run"]
    args = [str(script), str(cache.path), str(tmp_path)]

    def load(mode):
        return [torch.load(tmp_path / f"{mode}_rank{r}.pt", weights_only=True) for r in (0, 1)]

    # one node, two processes
    (tmp_path / "standalone").mkdir()
    cmd = [*torchrun, "--standalone", "--nproc_per_node=2", *args, "standalone"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env,
                          cwd=tmp_path / "standalone")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    standalone = load("standalone")

    # two "nodes": one agent each, each in its own folder, meeting at a c10d rendezvous
    rendezvous = [
        "--nnodes=2", "--nproc_per_node=1", "--rdzv_backend=c10d",
        f"--rdzv_endpoint=localhost:{free_port()}", f"--rdzv_id={uuid.uuid4().hex}",
    ]  # fmt: skip
    nodes = [tmp_path / "node_a", tmp_path / "node_b"]
    agents = []
    for node in nodes:
        node.mkdir()
        agents.append(
            subprocess.Popen([*torchrun, *rendezvous, *args, "multinode"], cwd=node, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        )  # fmt: skip
    try:
        outputs = [agent.communicate(timeout=180)[0] for agent in agents]
    finally:
        for agent in agents:
            if agent.poll() is None:
                agent.kill()
    assert [a.returncode for a in agents] == [0, 0], "\n".join(outputs)
    multi = load("multinode")

    # one process per node: each agent's worker is a different global rank
    assert sorted(m["cwd"] for m in multi) == sorted(str(n) for n in nodes)
    # only global rank 0 wrote the run directory, in its node's folder
    main_node = multi[0]["cwd"]
    for node in nodes:
        assert (node / "run").exists() == (str(node) == main_node), node
    run_dir = tmp_path / "standalone" / "run"
    multi_dir = tmp_path / main_node / "run"
    assert json.loads((multi_dir / "summary.json").read_text())["world_size"] == 2

    # the same run: global rank r trains on shard r either way and gloo sums the same two
    # gradients in the same order, so the weights should agree to the last bit; the
    # tolerance (float32 rounding of a few steps) only allows another summation order
    for r in (0, 1):
        assert multi[r]["step"] == standalone[r]["step"] == 4
        assert multi[r]["status"] == standalone[r]["status"] == "max_steps"
        for key, value in standalone[r]["model"].items():
            torch.testing.assert_close(multi[r]["model"][key], value, rtol=1e-6, atol=1e-7)
    rows = [json.loads(d.joinpath("metrics.jsonl").read_text()) for d in (run_dir, multi_dir)]
    assert rows[0]["val_loss"] == pytest.approx(rows[1]["val_loss"], rel=1e-6)
    # the sharded validation gave what one process gets from the saved weights
    dev = SplitData.from_cache(cache, "dev")
    model = tiny_model_factory(load_config().model, dev.window_shape)
    model.load_state_dict(load_checkpoint(multi_dir / "last.pt")["model"])
    feeder = ThreadFeeder(dev, torch.device("cpu"), T, batch_size=2, num_threads=1, prefetch=1)
    try:
        _, _, loss = validate(model, dev, feeder, eval_plan(dev, T, 2), torch.device("cpu"),
                              autocast_for(torch.device("cpu"), "fp32"))  # fmt: skip
    finally:
        feeder.close()
    assert rows[1]["val_loss"] == pytest.approx(loss, rel=1e-6)
    # every rank took the same best-epoch decision (the metric is broadcast)
    assert multi[0]["best"] == multi[1]["best"] is not None
