"""The TensorFlow cluster a training task belongs to, and its parameter servers.

Synchronous data-parallel training on TensorFlow's own distributed runtime,
as TF1's mnist_replica.py did it: `tf.compat.v1.train.Server` per task,
variables on the parameter servers (`replica_device_setter`), gradients
averaged by `SyncReplicasOptimizer` (alexnet.estimator.model_fn) so that one
global step is one update from every worker's batch.

The cluster comes from ClusterConfig (--ps_hosts, --worker_hosts, --job_name,
--task_index) or from the TF_CONFIG environment variable that cluster
schedulers (Kubeflow's TFJob) set:

  {"cluster": {"chief": ["h0:2222"], "worker": ["h1:2222"], "ps": ["h2:2222"]},
   "task": {"type": "worker", "index": 0}}

TF_CONFIG's "chief" is worker 0 and its "worker" tasks follow; without a
"chief" job worker 0 is the chief, as with the flags. Given both, they must
agree. Every fault is a one-line UserError saying which.

A parameter server `serve`s until every worker has reported `finish`: the
cluster ends by itself when training does.
"""

import dataclasses
import json
import socket
import threading
import time
import typing

import tensorflow as tf

from alexnet.core.config import ClusterConfig
from alexnet.core.errors import UserError

TF_CONFIG = "TF_CONFIG"
_JOBS = ("chief", "worker", "ps")


@dataclasses.dataclass(frozen=True)
class Cluster:
  """The cluster's jobs {name: (host:port, ...)} and this task in it."""
  jobs: typing.Mapping[str, typing.Tuple[str, ...]]
  job_name: str
  task_index: int
  timeout_secs: int = ClusterConfig().cluster_timeout_secs

  @property
  def spec(self):
    return tf.train.ClusterSpec({k: list(v) for k, v in self.jobs.items()})

  @property
  def is_ps(self):
    return self.job_name == "ps"

  @property
  def workers(self):
    """The training tasks, chief first: ["/job:chief/task:0", ...]."""
    return [f"/job:{job}/task:{i}" for job in ("chief", "worker")
            for i in range(len(self.jobs.get(job, ())))]

  @property
  def num_workers(self):
    return len(self.workers)

  @property
  def device(self):
    return f"/job:{self.job_name}/task:{self.task_index}"

  @property
  def worker_index(self):
    """This worker's position in `workers` (0: the chief)."""
    return self.workers.index(self.device)

  @property
  def is_chief(self):
    return not self.is_ps and self.worker_index == 0

  def __str__(self):
    return (f"{self.device} of {self.num_workers} workers and "
            f"{len(self.jobs['ps'])} parameter servers")


def _hosts(values, what):
  """The host:port list as a tuple; UserError naming `what` if malformed."""
  if isinstance(values, str) or not isinstance(values, (list, tuple)):
    raise UserError(f"{what} must be a list of host:port, not {values!r}")
  for value in values:
    host, _, port = str(value).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
      raise UserError(f"{what}: {value!r} is not host:port (e.g. "
                      "10.0.0.1:2222)")
  return tuple(str(v) for v in values)


def _from_tf_config(text):
  """(jobs, job_name, task_index) of a TF_CONFIG value."""
  try:
    value = json.loads(text)
  except json.JSONDecodeError as e:
    raise UserError(f"{TF_CONFIG} is not valid JSON ({e}): set it to "
                    '{"cluster": {...}, "task": {"type": ..., "index": ...}}'
                    ) from None
  if not isinstance(value, dict) or not isinstance(
      value.get("cluster"), dict) or not isinstance(value.get("task"), dict):
    raise UserError(f"{TF_CONFIG} needs a \"cluster\" object and a \"task\" "
                    'object {"type": ..., "index": ...}')
  unknown = sorted(set(value["cluster"]) - set(_JOBS))
  if unknown:
    raise UserError(f"{TF_CONFIG}'s cluster has job {unknown[0]!r}: only "
                    f"{', '.join(_JOBS)} are supported (the chief validates)")
  jobs = {job: _hosts(hosts, f"{TF_CONFIG}'s cluster {job!r}")
          for job, hosts in value["cluster"].items()}
  task = value["task"]
  index = task.get("index", 0)
  if not isinstance(index, int) or isinstance(index, bool):
    raise UserError(f"{TF_CONFIG}'s task index {index!r} is not an integer")
  return jobs, task.get("type"), index


def _from_flags(config):
  jobs = {"worker": _hosts(list(config.worker_hosts), "--worker_hosts"),
          "ps": _hosts(list(config.ps_hosts), "--ps_hosts")}
  if config.job_name is None:
    raise UserError("--ps_hosts/--worker_hosts need --job_name=ps or "
                    "--job_name=worker")
  if config.task_index is None:
    raise UserError("--ps_hosts/--worker_hosts need --task_index (this "
                    "task's position in its job's list)")
  return jobs, config.job_name, config.task_index


def _check_agree(config, jobs, job_name, task_index):
  """UserError if a cluster flag that was given disagrees with TF_CONFIG
  (whose chief is the flags' worker 0)."""
  chiefs = jobs.get("chief", ())
  if job_name == "worker":
    task_index += len(chiefs)
  elif job_name == "chief":
    job_name = "worker"
  expected = {"ps_hosts": ",".join(jobs.get("ps", ())),
              "worker_hosts": ",".join(chiefs + jobs.get("worker", ())),
              "job_name": job_name, "task_index": task_index}
  given = {"ps_hosts": ",".join(config.ps_hosts) or None,
           "worker_hosts": ",".join(config.worker_hosts) or None,
           "job_name": config.job_name, "task_index": config.task_index}
  for flag, value in given.items():
    if value is not None and value != expected[flag]:
      raise UserError(f"--{flag}={value} disagrees with {TF_CONFIG}, which "
                      f"says {expected[flag]}: give the cluster one way, or "
                      "make them agree")


def resolve(config, tf_config=None):
  """The Cluster of ClusterConfig and a TF_CONFIG value, or None (one
  process) when neither names one."""
  has_flags = bool(config.ps_hosts or config.worker_hosts)
  if tf_config and tf_config.strip():
    jobs, job_name, task_index = _from_tf_config(tf_config)
    if has_flags or config.job_name is not None or (
        config.task_index is not None):
      _check_agree(config, jobs, job_name, task_index)
    names = {job: f"{TF_CONFIG}'s cluster {job!r}" for job in _JOBS}
    names["task"] = f"{TF_CONFIG}'s task type"
  elif has_flags:
    jobs, job_name, task_index = _from_flags(config)
    names = {"ps": "--ps_hosts", "worker": "--worker_hosts",
             "task": "--job_name"}
  else:
    if config.job_name is not None or config.task_index is not None:
      raise UserError("--job_name/--task_index need --ps_hosts and "
                      f"--worker_hosts (or {TF_CONFIG})")
    return None
  jobs = {job: hosts for job, hosts in jobs.items() if hosts}
  if "ps" not in jobs:
    raise UserError(f"{names['ps']} is empty: synchronous training keeps the "
                    "variables on parameter servers; name at least one")
  if "chief" not in jobs and "worker" not in jobs:
    raise UserError(f"{names['worker']} is empty: name at least one worker")
  if job_name not in jobs:
    raise UserError(f"{names['task']} {job_name!r} is not a job of the "
                    f"cluster ({', '.join(sorted(jobs))})")
  count = len(jobs[job_name])
  if not 0 <= task_index < count:
    raise UserError(f"task index {task_index} is out of range: "
                    f"{names[job_name]} lists {count} {job_name} task(s), "
                    f"0..{count - 1}")
  return Cluster(jobs, job_name, task_index, config.cluster_timeout_secs)


def start_server(cluster):
  """This task's tf.compat.v1.train.Server (started)."""
  return tf.compat.v1.train.Server(cluster.spec, job_name=cluster.job_name,
                                   task_index=cluster.task_index,
                                   config=session_config(cluster), start=True)


def session_config(cluster, base=None):
  """`base` (a ConfigProto) with device filters: a task talks only to the
  parameter servers and itself, so a dead or restarting worker never stalls
  another's session."""
  config = tf.compat.v1.ConfigProto() if base is None else base
  config.device_filters[:] = ["/job:ps", cluster.device]
  # A distributed session refuses a pool of its own (InvalidArgument); its
  # ops run on the server's.
  config.use_per_session_threads = False
  return config


def device_setter(cluster):
  """Variables round-robin on the parameter servers, every other op on this
  worker (no device type: a worker's GPU is used when it has one)."""
  return tf.compat.v1.train.replica_device_setter(
      worker_device=cluster.device, cluster=cluster.spec)


def wait_for_cluster(cluster):
  """Blocks until every parameter server accepts connections; UserError
  after cluster.timeout_secs naming the one that does not."""
  deadline = time.time() + cluster.timeout_secs
  for index, address in enumerate(cluster.jobs["ps"]):
    host, _, port = address.rpartition(":")
    while True:
      try:
        socket.create_connection((host, int(port)), timeout=2).close()
        break
      except OSError:
        if time.time() > deadline:
          raise UserError(
              f"{cluster.device}: cannot reach /job:ps/task:{index} at "
              f"{address} after {cluster.timeout_secs} s: start it, or check "
              "--ps_hosts / TF_CONFIG (--cluster_timeout_secs sets the wait)"
          ) from None
        time.sleep(0.5)


def running(cluster, server):
  """Whether a parameter server already holds an initialized global step:
  this task joins a cluster that was training (a restarted chief), not a
  fresh one. Every ps is asked, so the answer does not depend on where the
  round-robin placement put the step."""
  for index in range(len(cluster.jobs["ps"])):
    with tf.Graph().as_default():
      with tf.device(f"/job:ps/task:{index}"):
        initialized = tf.compat.v1.is_variable_initialized(
            tf.compat.v1.train.get_or_create_global_step())
      with tf.compat.v1.Session(server.target,
                                config=session_config(cluster)) as sess:
        if sess.run(initialized):
          return True
  return False


def _done_queue(cluster, ps_index):
  """The queue on a parameter server that each worker reports `finish` to."""
  with tf.device(f"/job:ps/task:{ps_index}"):
    return tf.queue.FIFOQueue(cluster.num_workers, tf.int32, shapes=(),
                              shared_name=f"alexnet_done_{ps_index}")


def serve(cluster):
  """A parameter server: serves the variables until every worker finished."""
  server = start_server(cluster)
  with tf.Graph().as_default():
    done = _done_queue(cluster, cluster.task_index).dequeue_many(
        cluster.num_workers)
    with tf.compat.v1.Session(server.target,
                              config=session_config(cluster)) as sess:
      print(f"{cluster}: serving until the {cluster.num_workers} workers "
            "finish", flush=True)
      sess.run(done)
  print(f"{cluster}: every worker finished", flush=True)


def finish(cluster, server):
  """Reports this worker done to every parameter server. (A worker still
  waiting for a step when the chief ends is released by the chief closing
  SyncReplicasOptimizer's token queue.)"""
  with tf.Graph().as_default():
    ops = [_done_queue(cluster, i).enqueue(1)
           for i in range(len(cluster.jobs["ps"]))]
    with tf.compat.v1.Session(server.target,
                              config=session_config(cluster)) as sess:
      sess.run(ops)


def quiet_sync_thread():
  """Drops one traceback, for the rest of the process: closing the chief's
  session cancels SyncReplicasOptimizer's sync thread, which is waiting for
  the gradients of a step that will not come, and that thread re-raises the
  cancellation after the session has ended."""
  previous = threading.excepthook
  if getattr(previous, "quiet_sync_thread", False):
    return

  def hook(args):
    if not (issubclass(args.exc_type, tf.errors.CancelledError) and
            args.thread is not None and
            args.thread.name.startswith("QueueRunnerThread-sync_token_q")):
      previous(args)

  hook.quiet_sync_thread = True
  threading.excepthook = hook


def wait_for_chief(cluster, server, config):
  """A worker's wait, in the default graph, until the chief has initialized
  or restored every variable; UserError after cluster.timeout_secs.

  (MonitoredTrainingSession's own wait polls only every 30 s.)
  """
  uninitialized = tf.compat.v1.report_uninitialized_variables(
      tf.compat.v1.global_variables())
  deadline = time.time() + cluster.timeout_secs
  with tf.compat.v1.Session(server.target, config=config) as sess:
    while len(sess.run(uninitialized)):
      if time.time() > deadline:
        raise UserError(
            f"{cluster.device}: the chief {cluster.workers[0]} has not "
            f"initialized the model after {cluster.timeout_secs} s: start "
            "it, or raise --cluster_timeout_secs")
      time.sleep(0.5)


class SameModelHook(tf.compat.v1.train.SessionRunHook):
  """A worker's check, once the chief has made the variables, that they are
  this worker's model: UserError naming the first variable that differs (an
  image size or class count other than the chief's). `then` runs after it
  (the chief's model_dir, when this worker sees it)."""

  def __init__(self, variables, then=None):
    self._then = then
    self._shapes = []
    for v in variables:
      with tf.compat.v1.colocate_with(v):  # Only the shape travels.
        self._shapes.append((v.op.name, v.shape.as_list(), tf.shape(v)))

  def after_create_session(self, session, coord):
    del coord
    held = session.run([shape for _, _, shape in self._shapes])
    for (name, needed, _), shape in zip(self._shapes, held):
      if list(shape) != needed:
        raise UserError(
            f"the cluster's model holds {name} as {list(shape)} but this "
            f"worker's needs {needed}: start every worker with the chief's "
            "--image_size and network flags, on a dataset with its class "
            "count")
    if self._then is not None:
      self._then()
