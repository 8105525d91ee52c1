"""The SLURM scripts without SLURM: fake ``srun``, ``scontrol``, ``sbatch`` record their calls."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

# every fake appends "NAME ARGS" to $FAKE_LOG
FAKES = {
    "srun": """
        echo "srun $*" >> "$FAKE_LOG"
        while [[ $1 == -* ]]; do shift; done
        exec "$@"
    """,
    "scontrol": """
        echo "scontrol $*" >> "$FAKE_LOG"
        if [[ "$1 $2" == "show hostnames" ]]; then printf 'gpu07\\ngpu08\\n'; fi
    """,
    "sbatch": """
        echo "sbatch $*" >> "$FAKE_LOG"
        n=$(grep -c '^sbatch' "$FAKE_LOG")
        echo "$((4000 + n))"
    """,
    # the trainer (python -m ... or seizure experiment): $FAKE_MODE says what it does
    "trainer": """
        echo "trainer $*" >> "$FAKE_LOG"
        if [[ " $* " == *" --list "* ]]; then printf '0\\ta\\n1\\tb\\n2\\tc\\n3\\td\\n'; exit 0; fi
        save() { mkdir -p "$(dirname "$FAKE_SUMMARY")"
                 printf '{\\n "status": "%s"\\n}\\n' "$1" > "$FAKE_SUMMARY.tmp"
                 mv "$FAKE_SUMMARY.tmp" "$FAKE_SUMMARY"; }
        # the run's record (stages.json) of seizure experiment, in $FAKE_RECORD
        record() { mkdir -p "$(dirname "$FAKE_RECORD")"
                   printf '{\n "run": {\n  "status": "%s"\n }\n}\n' "$1" > "$FAKE_RECORD"; }
        case $FAKE_MODE in
            interrupt) save interrupted; exit 143 ;;
            interrupt_eval) record interrupted; exit 143 ;;
            fail_eval) record failed; exit 1 ;;
            crash) exit 1 ;;
            complete) save completed; exit 0 ;;
            wait)
                trap 'save interrupted; exit 143' TERM
                touch "$FAKE_LOG.started"
                while true; do sleep 0.05; done ;;
            wait_eval)
                trap 'record interrupted; exit 143' TERM
                touch "$FAKE_LOG.started"
                while true; do sleep 0.05; done ;;
        esac
    """,
}


@pytest.fixture
def fake(tmp_path):
    """Fake tools on PATH; returns (env, read_log)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in FAKES.items():
        path = bin_dir / name
        lines = [line[8:] if line.startswith(" " * 8) else line for line in body.splitlines()]
        path.write_text("#!/usr/bin/env bash\n" + "\n".join(lines).strip() + "\n")
        path.chmod(0o755)
    log = tmp_path / "calls.log"
    log.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    trainer = str(bin_dir / "trainer")
    env.update(PATH=f"{bin_dir}:{env['PATH']}", FAKE_LOG=str(log), SEIZURE_PYTHON=trainer,
               SEIZURE=trainer)  # fmt: skip

    def calls(tool: str) -> list[list[str]]:
        return [ln.split()[1:] for ln in log.read_text().splitlines() if ln.split()[0] == tool]

    return env, calls


def run(args, env, cwd):
    return subprocess.run(["bash", *map(str, args)], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize("name", ["slurm_train.sh", "slurm_array.sh", "slurm_experiment.sh"])
def test_scripts_ask_slurm_to_signal_the_batch_shell_and_allow_requeue(name):
    text = (SCRIPTS / name).read_text()
    assert "#SBATCH --signal=B:TERM@" in text and "#SBATCH --requeue" in text
    assert "scontrol requeue" in text


def test_train_on_one_node_is_standalone(fake, tmp_path):
    env, calls = fake
    env.update(SLURM_GPUS_ON_NODE="4", SLURM_JOB_ID="77", FAKE_MODE="complete",
               FAKE_SUMMARY=str(tmp_path / "run" / "summary.json"))  # fmt: skip
    proc = run([SCRIPTS / "slurm_train.sh", "CACHE", tmp_path / "run", "--set", "a=1"], env,
               tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert calls("srun") == [] and calls("scontrol") == []
    assert calls("trainer") == [[
        "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4",
        "-m", "seizure", "train", "CACHE", str(tmp_path / "run"), "--resume", "--set", "a=1",
    ]]  # fmt: skip


def test_train_on_two_nodes_starts_one_agent_per_node_at_a_c10d_rendezvous(fake, tmp_path):
    env, calls = fake
    env.update(SLURM_GPUS_ON_NODE="8", SLURM_JOB_ID="1234", SLURM_NNODES="2",
               SLURM_JOB_NODELIST="gpu[07-08]", SLURM_CPUS_PER_TASK="64", FAKE_MODE="complete",
               FAKE_SUMMARY=str(tmp_path / "run" / "summary.json"))  # fmt: skip
    proc = run([SCRIPTS / "slurm_train.sh", "CACHE", "RUN", "--config", "train/h100"], env,
               tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert calls("scontrol") == [["show", "hostnames", "gpu[07-08]"]]
    srun = calls("srun")
    assert len(srun) == 1
    assert srun[0][:4] == ["--nodes=2", "--ntasks-per-node=1", "--kill-on-bad-exit=1",
                           "--cpus-per-task=64"]  # fmt: skip
    assert srun[0][4:] == [env["SEIZURE_PYTHON"], *calls("trainer")[0]]
    assert calls("trainer") == [[
        "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=8",
        "--rdzv_backend=c10d", f"--rdzv_endpoint=gpu07:{29500 + 1234 % 1000}",
        "--rdzv_id=1234", "-m", "seizure", "train", "CACHE", "RUN", "--resume",
        "--config", "train/h100",
    ]]  # fmt: skip
    assert "2 nodes x 8 GPU(s), rendezvous gpu07:29734" in proc.stdout
    env["SEIZURE_RDZV_PORT"] = "31000"
    run([SCRIPTS / "slurm_train.sh", "CACHE", "RUN"], env, tmp_path)
    assert "--rdzv_endpoint=gpu07:31000" in calls("trainer")[1]


@pytest.mark.parametrize("nodes", ["1", "2"])
def test_train_requeues_only_when_this_job_saved_an_interrupted_run(fake, tmp_path, nodes):
    env, calls = fake
    summary = tmp_path / "run" / "summary.json"
    env.update(SLURM_GPUS_ON_NODE="2", SLURM_JOB_ID="55", SLURM_NNODES=nodes,
               SLURM_JOB_NODELIST="n[1-2]", FAKE_SUMMARY=str(summary))  # fmt: skip
    args = [SCRIPTS / "slurm_train.sh", "CACHE", tmp_path / "run"]
    proc = run(args, {**env, "FAKE_MODE": "interrupt"}, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert ["requeue", "55"] in calls("scontrol")
    assert "requeueing job 55" in proc.stdout
    # a crash leaves the (old) interrupted summary as it was: no requeue, the status stays
    proc = run(args, {**env, "FAKE_MODE": "crash"}, tmp_path)
    assert proc.returncode == 1
    assert calls("scontrol").count(["requeue", "55"]) == 1
    # outside SLURM nothing is requeued
    env.pop("SLURM_JOB_ID")
    if nodes == "1":
        proc = run(args, {**env, "FAKE_MODE": "interrupt"}, tmp_path)
        assert proc.returncode == 143
        assert calls("scontrol").count(["requeue", "55"]) == 1


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


@pytest.mark.parametrize("script", ["slurm_train.sh", "slurm_experiment.sh"])
def test_sigterm_to_the_batch_shell_reaches_the_run_and_requeues(fake, tmp_path, script):
    env, calls = fake
    env.update(SLURM_GPUS_ON_NODE="1", SLURM_JOB_ID="91", SLURM_ARRAY_JOB_ID="90",
               SLURM_ARRAY_TASK_ID="2", FAKE_MODE="wait")  # fmt: skip
    if script == "slurm_train.sh":
        args, summary = ["CACHE", tmp_path / "run"], tmp_path / "run" / "summary.json"
        requeued = ["requeue", "91"]
    else:
        args = ["GRID", "CACHE", tmp_path / "out"]
        summary = tmp_path / "out" / "runs" / "c" / "train" / "summary.json"
        requeued = ["requeue", "90_2"]
    env["FAKE_SUMMARY"] = str(summary)
    proc = subprocess.Popen(["bash", str(SCRIPTS / script), *map(str, args)], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        _wait_for(Path(env["FAKE_LOG"] + ".started"), proc)
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    assert "SIGTERM: asking" in out
    assert json.loads(summary.read_text())["status"] == "interrupted"
    assert calls("scontrol") == [requeued]


def write_finished(out: Path, name: str) -> None:
    run_dir = out / "runs" / name
    (run_dir / "eval").mkdir(parents=True)
    (run_dir / "eval" / "scores.json").write_text("{}\n")
    record = {"run": {"complete": True, "status": "finished"}}
    (run_dir / "stages.json").write_text(json.dumps(record, indent=1) + "\n")


def test_experiment_submits_the_unfinished_runs_and_a_collect_job(fake, tmp_path):
    env, calls = fake
    out = tmp_path / "out"
    write_finished(out, "b")
    # a run folder whose record is not complete is submitted again
    (out / "runs" / "c").mkdir(parents=True)
    (out / "runs" / "c" / "stages.json").write_text('{"run": {"complete": false}}\n')
    script = SCRIPTS / "slurm_experiment.sh"
    proc = run([script, "GRID", "CACHE", out, "--only", "*"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert calls("trainer") == [["experiment", "GRID", "--list", "--only", "*"]]
    array, collect = calls("sbatch")
    assert array == ["--parsable", "--array=0,2-3", str(script), "GRID", "CACHE", str(out),
                     "--only", "*"]  # fmt: skip
    assert collect[:2] == ["--parsable", "--dependency=afterany:4001"]
    assert "--collect" in collect
    assert "3 of 4 runs: 0,2-3" in proc.stdout

    env["SEIZURE_ARRAY_LIMIT"] = "2"
    write_finished(out, "a")
    run([script, "GRID", "CACHE", out], env, tmp_path)
    assert calls("sbatch")[2][1] == "--array=2-3%2"
    write_finished(out, "c")
    write_finished(out, "d")
    proc = run([script, "GRID", "CACHE", out], env, tmp_path)
    assert proc.returncode == 0 and "all 4 runs" in proc.stdout
    assert len(calls("sbatch")) == 4  # nothing more submitted


def test_experiment_task_runs_its_index_skips_finished_runs_requeues_interrupted(fake, tmp_path):
    env, calls = fake
    out = tmp_path / "out"
    summary = out / "runs" / "b" / "train" / "summary.json"
    env.update(SLURM_JOB_ID="12", SLURM_ARRAY_JOB_ID="10", SLURM_ARRAY_TASK_ID="1",
               FAKE_SUMMARY=str(summary))  # fmt: skip
    script = SCRIPTS / "slurm_experiment.sh"
    proc = run([script, "GRID", "CACHE", out, "--quick"], {**env, "FAKE_MODE": "interrupt"},
               tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert calls("trainer")[1] == ["experiment", "GRID", "CACHE", str(out), "--index", "1",
                                   "--device", "auto", "--quick"]  # fmt: skip
    assert calls("scontrol") == [["requeue", "10_1"]]
    # a crash: the old interrupted summary is not this job's, so no requeue
    proc = run([script, "GRID", "CACHE", out], {**env, "FAKE_MODE": "crash"}, tmp_path)
    assert proc.returncode == 1
    assert len(calls("scontrol")) == 1
    # a finished run: nothing is started
    write_finished(out, "b")
    n = len(calls("trainer"))
    proc = run([script, "GRID", "CACHE", out], {**env, "FAKE_MODE": "crash"}, tmp_path)
    assert proc.returncode == 0 and "already finished" in proc.stdout
    assert len(calls("trainer")) == n + 1  # the listing only
    # an index past the grid
    env["SLURM_ARRAY_TASK_ID"] = "4"
    proc = run([script, "GRID", "CACHE", out], env, tmp_path)
    assert proc.returncode == 2 and "has no run 4" in proc.stderr


@pytest.mark.parametrize(
    ("status", "finished"),
    [("completed", True), ("early_stopped", True), ("max_steps", True),
     ("interrupted", False), ("failed", False)],
)  # fmt: skip
def test_array_task_leaves_a_finished_run_alone_and_trains_any_other(fake, tmp_path, status,
                                                                     finished):  # fmt: skip
    env, calls = fake
    grid = tmp_path / "grid.txt"
    grid.write_text("only --set train.epochs=1\n")
    summary = tmp_path / "runs" / "only" / "summary.json"
    summary.parent.mkdir(parents=True)
    summary.write_text(json.dumps({"status": status}, indent=1) + "\n")
    env.update(SLURM_ARRAY_TASK_ID="0", FAKE_MODE="complete", FAKE_SUMMARY=str(summary))
    proc = run([SCRIPTS / "slurm_array.sh", "CACHE", tmp_path / "runs", grid], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert ("already finished" in proc.stdout) is finished
    assert len(calls("trainer")) == (0 if finished else 1)


def test_experiment_task_requeues_a_run_interrupted_in_its_evaluation(fake, tmp_path):
    """A run whose training finished: only its record (stages.json) says interrupted."""
    env, calls = fake
    out = tmp_path / "out"
    record = out / "runs" / "b" / "stages.json"
    env.update(SLURM_JOB_ID="12", SLURM_ARRAY_JOB_ID="10", SLURM_ARRAY_TASK_ID="1",
               FAKE_SUMMARY=str(out / "runs" / "b" / "train" / "summary.json"),
               FAKE_RECORD=str(record))  # fmt: skip
    script = SCRIPTS / "slurm_experiment.sh"
    proc = run([script, "GRID", "CACHE", out], {**env, "FAKE_MODE": "interrupt_eval"}, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert calls("scontrol") == [["requeue", "10_1"]]
    assert "interrupted: requeueing 10_1" in proc.stdout
    # a failed evaluation, or a crash that leaves the old record: no requeue
    proc = run([script, "GRID", "CACHE", out], {**env, "FAKE_MODE": "fail_eval"}, tmp_path)
    assert proc.returncode == 1
    record.write_text('{"run": {"status": "interrupted"}}\n')
    proc = run([script, "GRID", "CACHE", out], {**env, "FAKE_MODE": "crash"}, tmp_path)
    assert proc.returncode == 1
    assert len(calls("scontrol")) == 1


def test_sigterm_during_the_evaluation_of_an_experiment_run_requeues(fake, tmp_path):
    env, calls = fake
    record = tmp_path / "out" / "runs" / "c" / "stages.json"
    env.update(SLURM_GPUS_ON_NODE="1", SLURM_JOB_ID="91", SLURM_ARRAY_JOB_ID="90",
               SLURM_ARRAY_TASK_ID="2", FAKE_MODE="wait_eval", FAKE_RECORD=str(record),
               FAKE_SUMMARY=str(record.parent / "train" / "summary.json"))  # fmt: skip
    args = [SCRIPTS / "slurm_experiment.sh", "GRID", "CACHE", tmp_path / "out"]
    proc = subprocess.Popen(["bash", *map(str, args)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        _wait_for(Path(env["FAKE_LOG"] + ".started"), proc)
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    assert json.loads(record.read_text())["run"]["status"] == "interrupted"
    assert calls("scontrol") == [["requeue", "90_2"]]
