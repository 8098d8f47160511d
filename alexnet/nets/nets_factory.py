"""Looks up a network function by name, as tf-slim's nets_factory does."""

import functools

from alexnet.core.errors import UserError
from alexnet.nets import alexnet

networks_map = {"alexnet": alexnet.alexnet}


def get_network_fn(name, num_classes, is_training=False, **options):
  """Returns network_fn(images, **more) -> (logits, end_points).

  The returned function has the network's `default_image_size`. `options`
  (dropout_rate, normalization, weight_decay, input_standardization,
  fc_units, spatial_transformer, scope)
  are bound now; more may be passed at call time.
  """
  if name not in networks_map:
    raise UserError(f"unknown network {name!r}: choose one of "
                    f"{', '.join(sorted(networks_map))}")
  func = networks_map[name]

  @functools.wraps(func)
  def network_fn(images, **more):
    return func(images, num_classes=num_classes, is_training=is_training,
                **options, **more)

  network_fn.default_image_size = func.default_image_size
  return network_fn
