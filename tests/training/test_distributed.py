"""Distributed training on TensorFlow's runtime, on 127.0.0.1: one synchronous
step equals one step at the workers' total batch, a 2-worker + 1-ps run with a
worker killed and restarted, chief-only outputs, and each bad cluster input."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from alexnet.core.config import ClusterConfig
from alexnet.core.errors import UserError
from alexnet.datasets import tfrecord_reader
from alexnet.estimator import checkpoints
from alexnet.estimator import train_log
from alexnet.estimator.model_dir import CONFIG_NAME
from alexnet.training import cluster as cluster_lib
from alexnet.training import hooks
from alexnet.training import local_cluster
from alexnet.training import trainer
from tests import builders

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _hosts(workers=2, ps=1):
  return local_cluster.local_hosts(workers, ps)


def _task(hosts, job_name, task_index, **config):
  return cluster_lib.resolve(ClusterConfig(
      **hosts, job_name=job_name, task_index=task_index, **config))


def _start_from(tiny_model, model_dir):
  """A model_dir at tiny_model's last checkpoint (step 6), with its log."""
  os.makedirs(model_dir)
  for name in os.listdir(tiny_model):
    if name.startswith("model.ckpt-6") or name in (CONFIG_NAME,
                                                   train_log.LOG_NAME):
      shutil.copy(os.path.join(tiny_model, name), model_dir)
  with open(os.path.join(model_dir, "checkpoint"), "w") as f:
    f.write('model_checkpoint_path: "model.ckpt-6"\n')
  return model_dir


def _in_threads(*calls, timeout=240):
  """Runs each call in its own thread; re-raises the first error."""
  errors = []

  def run(call):
    try:
      call()
    except BaseException as e:  # pylint: disable=broad-except
      errors.append(e)

  threads = [threading.Thread(target=run, args=(c,), daemon=True)
             for c in calls]
  for t in threads:
    t.start()
  deadline = time.time() + timeout
  for t in threads:
    t.join(max(0, deadline - time.time()))
  assert not errors, errors
  assert not any(t.is_alive() for t in threads), "the cluster did not end"


def test_running_tells_a_fresh_cluster_from_one_that_has_trained():
  # Two parameter servers: the step is found wherever it was placed.
  hosts = _hosts(workers=1, ps=2)
  for index in (0, 1):
    cluster_lib.start_server(_task(hosts, "ps", index))
  worker = _task(hosts, "worker", 0)
  server = cluster_lib.start_server(worker)
  assert not cluster_lib.running(worker, server)
  with tf.Graph().as_default():
    with tf.device("/job:ps/task:1"):
      step = tf.compat.v1.train.get_or_create_global_step()
    with tf.compat.v1.Session(
        server.target, config=cluster_lib.session_config(worker)) as sess:
      sess.run(step.initializer)
  assert cluster_lib.running(worker, server)


@pytest.mark.slow
def test_one_synchronous_step_is_one_step_at_the_total_batch(
    tiny_model, pattern_gtsrb, tmp_path):
  data_dir = pattern_gtsrb["tfrecords"]
  shards = tfrecord_reader.read_manifest(data_dir)["splits"]["train"]
  # Each worker's batch is its whole shard, so both runs see the same images.
  assert len(shards["shards"]) == 2 and shards["count"] == 48
  model = builders.COLORS.model
  # No dropout, LRN (no batch statistics), no augmentation: deterministic.
  run = builders.COLORS.train.replace(max_steps=7, dropout_rate=0.0,
                                      augment=False, num_threads=1)
  single = _start_from(tiny_model, str(tmp_path / "single"))
  trainer.train(data_dir, single, model, run.replace(batch_size=48))

  distributed = _start_from(tiny_model, str(tmp_path / "distributed"))
  hosts = _hosts()
  ps = _task(hosts, "ps", 0)
  _in_threads(
      lambda: cluster_lib.serve(ps),
      lambda: trainer.train(data_dir, distributed, model,
                            run.replace(batch_size=24),
                            _task(hosts, "worker", 0)),
      lambda: trainer.train(data_dir, str(tmp_path / "worker1"), model,
                            run.replace(batch_size=24),
                            _task(hosts, "worker", 1)))

  start = os.path.join(tiny_model, "model.ckpt-6")
  ends = [os.path.join(d, "model.ckpt-7") for d in (single, distributed)]
  # The same checkpoint format: the same variables, nothing added.
  assert (tf.train.list_variables(ends[0]) ==
          tf.train.list_variables(ends[1]))
  names = [n for n, _ in tf.train.list_variables(start)
           if n.startswith("alexnet/")]
  assert len(names) >= 16  # every layer's weights, biases and Adam slots
  for name in names:
    before = tf.train.load_variable(start, name)
    step_single, step_distributed = (
        tf.train.load_variable(end, name) - before for end in ends)
    scale = np.abs(step_single).max()
    assert scale > 0, name
    # Two half-batch gradients summed are not bitwise one whole-batch
    # gradient, and Adam divides by sqrt(v), which magnifies that rounding
    # where v is tiny: a few elements in a million land past 1e-3 of the
    # largest change (one did, at 1.03e-3); a wrong batch moves most of them.
    off = np.abs(step_distributed - step_single)
    assert (off > 1e-3 * scale).mean() < 1e-4, name
    np.testing.assert_allclose(step_distributed, step_single,
                               atol=1e-2 * scale, err_msg=name)
  # The other worker wrote nothing.
  assert not os.path.exists(tmp_path / "worker1")


def _train_tool(*args):
  return [sys.executable, os.path.join(REPO_ROOT, "tools", "train.py"),
          *map(str, args)]


def _wait_for(condition, what, procs=(), timeout=300):
  deadline = time.time() + timeout
  while not condition():
    for p in procs:
      assert p.poll() is None, f"{what}: {p.args[-2:]} exited {p.returncode}"
    assert time.time() < deadline, f"no {what} within {timeout} s"
    time.sleep(0.2)


SCRIPT = os.path.join(REPO_ROOT, "scripts", "train_local_cluster.sh")


class _Script:
  """scripts/train_local_cluster.sh running, its output read as it comes."""

  def __init__(self, *flags, **env):
    self.proc = subprocess.Popen(
        ["bash", SCRIPT, *flags], cwd=REPO_ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, **env})
    self.lines = []
    self._reader = threading.Thread(target=self._read, daemon=True)
    self._reader.start()

  def _read(self):
    for line in self.proc.stdout:
      self.lines.append(line.rstrip("\n"))

  def pids(self):
    """{task name: pid} of the tasks it has started."""
    found = (re.match(r"\[cluster\] \[(\w+)\] is pid (\d+)", line)
             for line in list(self.lines))
    return {m[1]: int(m[2]) for m in found if m}

  def host_flags(self):
    return self.lines[0].split()[1:]

  def wait(self, timeout):
    self.proc.wait(timeout=timeout)
    self._reader.join(10)
    return self.proc.returncode

  def stop(self):
    if self.proc.poll() is None:
      self.proc.kill()  # A test failed: the tasks with it.
      for pid in self.pids().values():
        _kill(pid)


def _kill(pid):
  try:
    os.kill(pid, signal.SIGKILL)
  except ProcessLookupError:
    pass


def _alive(pid):
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  return True


@pytest.mark.slow
def test_local_cluster_with_a_worker_and_the_chief_killed_and_restarted(
    pattern_gtsrb, tmp_path):
  """scripts/train_local_cluster.sh starts 1 ps and 2 workers; worker 1 is
  killed with kill -9 after the first step and restarted, then the chief
  after a checkpoint: restarted, it resumes from its latest checkpoint, and
  the cluster ends by itself with one checkpoint series by the chief."""
  model_dir = tmp_path / "model"
  flags = [f"--data_dir={pattern_gtsrb['tfrecords']}",
           f"--model_dir={model_dir}",
           f"--image_size={builders.PATTERNS.image_size}",
           f"--fc_units={builders.PATTERNS.model.fc_units}", "--batch_size=8",
           "--max_steps=6", "--save_checkpoints_steps=2", "--seed=1",
           "--num_threads=1", "--log_every_n_steps=1", "--noexport"]
  script = _Script(*flags, NUM_WORKERS="2", NUM_PS="1", GRACE_SECS="60")
  restarted, logs = {}, {}

  def restart(name, task_index):
    logs[name] = open(tmp_path / f"{name}.log", "w")
    restarted[name] = subprocess.Popen(
        _train_tool(*flags, *script.host_flags(), "--job_name=worker",
                    f"--task_index={task_index}"),
        cwd=REPO_ROOT, stdout=logs[name], stderr=subprocess.STDOUT)

  def running():
    assert script.proc.poll() is None, "\n".join(script.lines[-40:])
    for name, proc in restarted.items():
      assert proc.poll() is None, f"{name} exited {proc.returncode}"
    return True

  log_path = train_log.log_path(str(model_dir))
  try:
    _wait_for(lambda: running() and len(script.pids()) == 3, "3 tasks")
    pids = script.pids()
    _wait_for(lambda: running() and train_log.read(log_path)[0],
              "a first step")
    os.kill(pids["worker1"], signal.SIGKILL)
    restart("worker1", 1)

    def checkpoint_step():
      latest = checkpoints.latest(str(model_dir))
      return checkpoints.global_step(latest) if latest else 0

    _wait_for(lambda: running() and checkpoint_step() >= 2,
              "a checkpoint after the restart")
    os.kill(pids["worker0"], signal.SIGKILL)
    while _alive(pids["worker0"]):
      time.sleep(0.1)
    resume_step = checkpoint_step()
    logged_step = train_log.read(log_path)[0][-1]["step"]
    restart("chief", 0)
    assert script.wait(timeout=300) == 0, "\n".join(script.lines[-40:])
    for proc in restarted.values():
      proc.wait(timeout=60)
  finally:
    script.stop()
    for proc in restarted.values():
      if proc.poll() is None:
        proc.kill()
    for f in logs.values():
      f.close()
  outputs = {name: (tmp_path / f"{name}.log").read_text() for name in logs}
  for name, proc in restarted.items():
    assert proc.returncode == 0, outputs[name][-3000:]

  # Every line is the script's or a task's, named.
  unnamed = [line for line in script.lines
             if not re.match(r"\[(cluster|ps0|worker0|worker1)\] ", line)]
  assert not unnamed
  tasks = {name: [line for line in script.lines
                  if line.startswith(f"[{name}] ")]
           for name in ("ps0", "worker0", "worker1")}
  assert any("every worker finished" in line for line in tasks["ps0"])
  assert any("reads 1 of the 2 training shards" in line
             for line in tasks["worker1"])
  assert "[cluster] [worker0] was killed (signal 9)" in "\n".join(
      script.lines)
  assert "trained to step 6 as /job:worker/task:1" in outputs["worker1"]
  # The chief lost at most the one checkpoint interval (2 steps) since its
  # latest checkpoint, and resumed from it.
  assert 2 <= resume_step <= logged_step < resume_step + 2
  assert (f"Restoring parameters from {model_dir}/model.ckpt-{resume_step}"
          in outputs["chief"])
  assert f"trained to step 6 in {model_dir}" in outputs["chief"]

  # One checkpoint series, by the chief, in the one-process format.
  # Each step is logged once, in order. After the restart steps can be
  # aggregated from worker 1's gradients alone (SyncReplicasOptimizer counts
  # gradients, not workers): the chief ran no batch of them, so they have no
  # line, and the epoch that ended there is logged at the chief's next step.
  batches, epochs = train_log.read(log_path)
  steps = [r["step"] for r in batches]
  assert steps == sorted(set(steps)) and steps[-1] == 6
  assert steps[:resume_step] == list(range(1, resume_step + 1))
  assert batches[-1]["cross_entropy"] < batches[0]["cross_entropy"]
  # An epoch is logged once, at the first step the chief saw past its end;
  # if that was the last step (the chief saw none of 3-5), only the last
  # epoch has a row: no checkpoint of epoch 1's end exists to validate.
  assert epochs[-1]["epoch"] == 2 and epochs[-1]["step"] == 6
  if any(3 <= step < 6 for step in steps):
    assert [r["epoch"] for r in epochs] == [1, 2]
    assert 3 <= epochs[0]["step"] < 6
  else:
    assert len(epochs) == 1
  assert epochs[-1]["val_loss"] is not None
  assert checkpoints.global_step(checkpoints.latest(str(model_dir))) == 6
  assert checkpoints.read_best(str(model_dir)) is not None
  # One events file per start of the chief, as a resumed single process;
  # none from the other worker, which was given the same --model_dir.
  assert len([n for n in os.listdir(model_dir)
              if n.startswith("events.out")]) == 2


@pytest.mark.slow
def test_local_cluster_stops_every_task_on_ctrl_c(pattern_gtsrb, tmp_path):
  script = _Script(f"--data_dir={pattern_gtsrb['tfrecords']}",
                   f"--model_dir={tmp_path / 'model'}", NUM_WORKERS="2")
  try:
    # Once every task prints (they are importing TensorFlow).
    _wait_for(lambda: {line.split()[0] for line in list(script.lines)} >= {
        "[ps0]", "[worker0]", "[worker1]"}, "3 tasks", [script.proc], 120)
    pids = script.pids()
    assert len(pids) == 3
    script.proc.send_signal(signal.SIGINT)
    assert script.wait(timeout=30) == 130
  finally:
    script.stop()
  assert not [name for name, pid in pids.items() if _alive(pid)]
  assert "[cluster] interrupted" in script.lines


@pytest.mark.parametrize("config,tf_config,message", [
    ({"ps_hosts": ("127.0.0.1:1",), "worker_hosts": ("localhost",),
      "job_name": "worker", "task_index": 0}, None,
     "--worker_hosts: 'localhost' is not host:port"),
    ({"ps_hosts": ("127.0.0.1:1",), "worker_hosts": ("127.0.0.1:2",),
      "job_name": "worker", "task_index": 1}, None,
     "task index 1 is out of range: --worker_hosts lists 1 worker task"),
    ({"ps_hosts": ("127.0.0.1:1",), "worker_hosts": ("127.0.0.1:2",),
      "task_index": 0}, None, "need --job_name=ps or --job_name=worker"),
    ({"worker_hosts": ("127.0.0.1:2",), "job_name": "worker",
      "task_index": 0}, None, "--ps_hosts is empty"),
    ({}, '{"cluster": {"worker": ["a:1"]', "TF_CONFIG is not valid JSON"),
    ({}, '{"cluster": {"worker": ["a:1"]}}', 'needs a "cluster" object and'),
    ({}, '{"cluster": {"worker": "a:1", "ps": ["b:2"]}, "task": {}}',
     "TF_CONFIG's cluster 'worker' must be a list of host:port"),
    ({}, json.dumps({"cluster": {"worker": ["a:1"], "ps": ["b:2"]},
                     "task": {"type": "ps", "index": 1}}),
     "task index 1 is out of range: TF_CONFIG's cluster 'ps' lists 1"),
    ({}, json.dumps({"cluster": {"worker": ["a:1"], "ps": ["b:2"],
                                 "evaluator": ["c:3"]},
                     "task": {"type": "worker", "index": 0}}),
     "TF_CONFIG's cluster has job 'evaluator'"),
    ({"worker_hosts": ("a:1", "x:9")},
     json.dumps({"cluster": {"worker": ["a:1"], "ps": ["b:2"]},
                 "task": {"type": "worker", "index": 0}}),
     "--worker_hosts=a:1,x:9 disagrees with TF_CONFIG, which says a:1"),
])
def test_bad_cluster_input_is_one_line(config, tf_config, message):
  with pytest.raises(UserError) as e:
    cluster_lib.resolve(ClusterConfig(**config), tf_config)
  assert message in str(e.value) and "\n" not in str(e.value)


def test_tf_config_chief_is_worker_zero_and_agrees_with_the_flags():
  tf_config = json.dumps({
      "cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"], "ps": ["d:1"]},
      "task": {"type": "worker", "index": 1}})
  cluster = cluster_lib.resolve(ClusterConfig(
      worker_hosts=("a:1", "b:1", "c:1"), job_name="worker", task_index=2),
      tf_config)
  assert cluster.worker_index == 2 and not cluster.is_chief
  assert cluster.num_workers == 3
  assert cluster_lib.resolve(ClusterConfig()) is None


def test_worker_with_another_image_size_or_class_count_is_refused(
    tiny_model, pattern_gtsrb, tmp_path):
  """Refused before it joins the cluster, against the chief's model_dir."""
  model_dir = str(tmp_path / "model")
  os.makedirs(model_dir)
  shutil.copy(os.path.join(tiny_model, CONFIG_NAME), model_dir)
  worker = _task(_hosts(), "worker", 1)
  run = builders.COLORS.train
  with pytest.raises(UserError, match="--image_size=67, not 99"):
    trainer.train(pattern_gtsrb["tfrecords"], model_dir,
                  builders.COLORS.model.replace(image_size=99), run, worker)
  path = os.path.join(model_dir, CONFIG_NAME)
  with open(path) as f:
    config = json.load(f)
  config.update(num_classes=10, class_names=config["class_names"][:10])
  with open(path, "w") as f:
    json.dump(config, f)
  with pytest.raises(UserError, match="has 43 classes but the model in .* "
                     "has 10"):
    trainer.train(pattern_gtsrb["tfrecords"], model_dir,
                  builders.COLORS.model, run, worker)


@pytest.mark.parametrize("dataset", ["tiny_gtsrb", "pattern_gtsrb"])
def test_each_worker_reads_its_own_part_of_the_training_split(dataset,
                                                              request):
  """By shard file with as many shards as workers (pattern_gtsrb: 2), by
  record within each shard with fewer (tiny_gtsrb: 1)."""
  data_dir = request.getfixturevalue(dataset)["tfrecords"]

  def images(shard=None):
    dataset = tfrecord_reader.make_dataset(data_dir, "train", 67, 64,
                                           shard=shard).unbatch()
    return sorted(float(x.sum()) for x, _ in dataset.as_numpy_iterator())

  parts = [images((i, 2)) for i in range(2)]
  assert all(parts) and not set(parts[0]) & set(parts[1])
  assert sorted(parts[0] + parts[1]) == images()


def test_unreachable_parameter_server_is_one_line_after_the_timeout(
    pattern_gtsrb, tmp_path):
  worker = _task(_hosts(), "worker", 1, cluster_timeout_secs=1)
  start = time.time()
  with pytest.raises(UserError, match=r"^/job:worker/task:1: cannot reach "
                     r"/job:ps/task:0 at 127\.0\.0\.1:\d+ after 1 s"):
    trainer.train(pattern_gtsrb["tfrecords"], str(tmp_path / "m"),
                  builders.COLORS.model, builders.COLORS.train, worker)
  assert time.time() - start < 30
  assert not (tmp_path / "m").exists()


def test_worker_without_its_chief_is_one_line_after_the_timeout(
    tiny_gtsrb, tmp_path, capsys):
  """The parameter server answers, the chief never comes. (On tiny_gtsrb's
  one shard, which the worker says it shares.)"""
  hosts = _hosts()
  cluster_lib.start_server(_task(hosts, "ps", 0))  # Lives on in this process.
  worker = _task(hosts, "worker", 1, cluster_timeout_secs=1)
  start = time.time()
  with pytest.raises(UserError, match=r"^/job:worker/task:1: the chief "
                     r"/job:worker/task:0 has not initialized the model "
                     r"after 1 s") as e:
    trainer.train(tiny_gtsrb["tfrecords"], str(tmp_path / "m"),
                  builders.COLORS.model, builders.COLORS.train, worker)
  assert "\n" not in str(e.value)
  assert time.time() - start < 60
  assert ("/job:worker/task:1 of 2 workers and 1 parameter servers: 1 "
          "training shard(s) for 2 workers: reads 1 record in 2 of each\n"
          in capsys.readouterr().out)
  assert not (tmp_path / "m").exists()


def test_a_recreated_session_logs_again_from_its_restored_step(tmp_path):
  """After a parameter server restarts, MonitoredTrainingSession re-creates
  the chief's session from its latest checkpoint (seen by hand, too slow for
  the suite): the log's steps past it go, so each step is logged once."""
  path = str(tmp_path / train_log.LOG_NAME)
  with tf.Graph().as_default():
    step = tf.compat.v1.train.get_or_create_global_step()
    with train_log.Writer(path) as log, tf.compat.v1.Session() as sess:
      hook = hooks.ProgressHook({}, 10, 20, 1, log, None)
      sess.run(step.assign(4))
      hook.after_create_session(sess, None)
      for logged in (5, 6, 7):
        log.write("batch", step=logged, epoch=1)
      sess.run(step.assign(5))  # The checkpoint the new session restored.
      hook.after_create_session(sess, None)
      log.write("batch", step=6, epoch=1)
      hook.end(sess)
  assert [r["step"] for r in train_log.read(path)[0]] == [5, 6]
