"""The training loop's own hook: progress, the training log, epoch ends."""

import math
import time

import tensorflow as tf
from tqdm import tqdm


class ProgressHook(tf.compat.v1.train.SessionRunHook):
  """tqdm per epoch, a train-log line per step, end-of-epoch work, and the
  stop at max_steps.

  Without a `log` and `on_epoch_end` (a cluster's other workers) only the
  bar. With `read_global_step` (a cluster) the step is read after each run,
  since other workers' runs also move it; so is the stop (StopAtStepHook
  adds one to the step read before the run, and missed the last step when
  other workers had moved it on: the chief then waited for ever).
  """

  def __init__(self, scalars, steps_per_epoch, max_steps, batch_size, log,
               on_epoch_end, read_global_step=False):
    self._read_global_step = read_global_step
    self._scalars = scalars
    self._steps_per_epoch = steps_per_epoch
    self._max_steps = max_steps
    self._batch_size = batch_size
    self._log = log
    self._on_epoch_end = on_epoch_end
    self._bar = None
    self._step = None

  def after_create_session(self, session, coord):
    del coord
    step = int(session.run(tf.compat.v1.train.get_global_step()))
    if self._step is not None:
      # A session re-created after an error (in a cluster, a parameter
      # server that restarted): the chief restored its latest checkpoint,
      # and the steps logged past it will be run and logged again.
      self._bar.close()
      if self._log is not None:
        self._log.truncate(step)
    self._step = step
    self._open_bar()

  def _open_bar(self):
    epoch = self._step // self._steps_per_epoch + 1
    end = min(epoch * self._steps_per_epoch, self._max_steps)
    self._epoch_start = time.time()
    self._epoch_first_step = self._step
    self._bar = tqdm(total=(end - self._step) * self._batch_size,
                     desc=f"epoch {epoch}", unit="img", unit_scale=True,
                     dynamic_ncols=True)

  def before_run(self, run_context):
    return tf.compat.v1.train.SessionRunArgs(self._scalars)

  def after_run(self, run_context, run_values):
    previous = self._step
    if self._read_global_step:
      self._step = int(run_context.session.run(
          tf.compat.v1.train.get_global_step()))
    else:
      # Each run is one step of this process: no need to read the global step.
      self._step += 1
    if self._step >= self._max_steps:
      run_context.request_stop()
    if self._step == previous:
      # The run returned before its step was applied (a restarted chief
      # takes a sync token left over from before it was killed): that step
      # is logged by the run that sees it.
      return
    values = {k: float(v) for k, v in run_values.results.items()}
    epoch = (self._step - 1) // self._steps_per_epoch + 1
    if self._log is not None:
      self._log.write("batch", step=self._step, epoch=epoch, **values)
    self._bar.update((self._step - previous) * self._batch_size)
    if self._step % 10 == 0:
      self._bar.set_postfix(loss=f"{values['loss']:.3f}",
                            acc=f"{values['accuracy']:.3f}", refresh=False)
    if (self._step // self._steps_per_epoch > previous // self._steps_per_epoch
        or self._step >= self._max_steps):
      self._bar.close()
      if self._on_epoch_end is None:
        if self._step < self._max_steps:
          self._open_bar()
        return
      seconds = time.time() - self._epoch_start
      images = (self._step - self._epoch_first_step) * self._batch_size
      # The epoch that ended: in a cluster a step aggregated without this
      # task's batch (after a chief restart) can skip the boundary step.
      ended = (math.ceil(self._step / self._steps_per_epoch)
               if self._step >= self._max_steps
               else self._step // self._steps_per_epoch)
      self._on_epoch_end(run_context.session, int(self._step), ended,
                         images / max(seconds, 1e-9))
      if self._step < self._max_steps:
        self._open_bar()

  def end(self, session):
    del session
    if self._bar is not None:
      self._bar.close()
