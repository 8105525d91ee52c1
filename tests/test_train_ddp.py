"""Data-parallel training: two CPU processes with gloo, launched by torchrun."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from seizure.training.checkpoint import load_checkpoint
from seizure.training.fakes import write_random_cache

SCRIPT = textwrap.dedent(
    """
    import os, sys
    import torch
    torch.set_num_threads(1)
    from seizure.config import load_config
    from seizure.training.fakes import tiny_model_factory
    from seizure.training.loop import train

    cache, run_dir, out, mode = sys.argv[1:5]
    cfg = load_config(overrides=[
        "preprocess.sample_rate_hz=32", "preprocess.bandpass_hz=null",
        "preprocess.notch_hz=null", "train.epochs=2", "train.batch_size=2",
        "train.sequence_windows=8", "train.num_workers=1", "train.log_every_steps=2",
        "train.progress=false", "train.sequence_sampling=tile",
    ])
    seen = {}
    stop = int(mode.split(":")[1]) if mode.startswith("stop:") else None
    result = train(cfg, cache, run_dir, device="cpu", model_factory=tiny_model_factory,
                   callbacks=[lambda info: seen.update(model=info.model, step=info.step)],
                   stop_at_step=stop, resume=mode == "resume")
    rank = os.environ["RANK"]
    torch.save({"model": seen["model"].state_dict(), "step": seen["step"],
                "status": result.status}, os.path.join(out, f"{mode}_rank{rank}.pt"))
    """
)


@pytest.mark.slow
def test_two_gloo_ranks_stay_identical_and_rank0_writes(tmp_path):
    cache = write_random_cache(
        tmp_path / "cache", splits={"train": 4, "dev": 2}, windows_per_recording=48
    )
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)

    def torchrun(run_dir, mode):
        cmd = [
            sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
            str(script), str(cache.path), str(run_dir), str(tmp_path), mode,
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return [torch.load(tmp_path / f"{mode}_rank{r}.pt", weights_only=True) for r in (0, 1)]

    run_dir = tmp_path / "run"
    ranks = torchrun(run_dir, "straight")
    assert ranks[0]["step"] == ranks[1]["step"] > 0
    assert ranks[0]["status"] == ranks[1]["status"] == "completed"
    for key, value in ranks[0]["model"].items():
        assert torch.equal(value, ranks[1]["model"][key]), key
    # rank 0 alone wrote the run directory, and its checkpoint holds the common weights
    state = load_checkpoint(run_dir / "last.pt")
    for key, value in ranks[0]["model"].items():
        assert torch.equal(value, state["model"][key]), key
    rows = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in rows] == [1, 2]
    # 4 recordings x 6 tiles of 8 windows = 24 sequences, global batch 2 x 2: 6 steps/epoch
    assert state["step"] == ranks[0]["step"] == 12
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["world_size"] == 2
    assert json.loads((run_dir / "environment.json").read_text())["starts"][0]["world_size"] == 2

    # interrupted in the middle of epoch 2, then resumed: the same weights on every rank
    stopped = torchrun(tmp_path / "resumed", "stop:8")
    assert stopped[0]["status"] == stopped[1]["status"] == "interrupted"
    saved = load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert (saved["epoch"], saved["batch_in_epoch"], saved["step"]) == (1, 2, 8)
    assert len(saved["rng_per_rank"]) == 2
    resumed = torchrun(tmp_path / "resumed", "resume")
    for r in (0, 1):
        assert resumed[r]["step"] == 12
        for key, value in ranks[r]["model"].items():
            assert torch.equal(value, resumed[r]["model"][key]), (r, key)
