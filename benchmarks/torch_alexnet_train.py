"""PyTorch CPU training throughput of the same AlexNet, for bench_training.py.

Runs in the benchmark's own environment (`torch==2.13.0`, CPU build; see
BENCHMARKS.md), never as a project dependency. Same layers, sizes, LRN, Adam,
batch and thread count as alexnet/nets/alexnet.py; prints one JSON line.
--precision=bfloat16 runs the forward pass and the loss under
torch.autocast("cpu", torch.bfloat16) (PyTorch's mixed precision: float32
weights, bfloat16 convolutions and matrix multiplies, their gradients too).

  python benchmarks/torch_alexnet_train.py --image_size=227 --batch_size=64 \
      --steps=10 --warmup=3 --threads=2 --precision=bfloat16
"""

import argparse
import json
import time

import torch
from torch import nn


def alexnet(num_classes, image_size):
  pool5 = image_size
  for k, s in ((11, 4), (3, 2), (3, 2), (3, 2)):  # conv1, pool1, pool2, pool5
    pool5 = (pool5 - k) // s + 1
  lrn = lambda: nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0)
  return nn.Sequential(
      nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
      nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
      nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
      nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
      nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
      nn.Flatten(),
      nn.Linear(256 * pool5 * pool5, 4096), nn.ReLU(), nn.Dropout(0.5),
      nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
      nn.Linear(4096, num_classes))


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--image_size", type=int, default=227)
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--threads", type=int, default=2)
  parser.add_argument("--precision", choices=("float32", "bfloat16"),
                      default="float32")
  args = parser.parse_args()
  torch.set_num_threads(args.threads)
  torch.manual_seed(0)
  model = alexnet(43, args.image_size)
  optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
  # Held in memory, like the other "from memory" rows: no input pipeline.
  images = torch.rand(args.batch_size, 3, args.image_size, args.image_size) * 255
  images = (images - images.mean()) / images.std()
  labels = torch.randint(0, 43, (args.batch_size,))
  loss_fn = nn.CrossEntropyLoss()

  autocast = torch.autocast("cpu", dtype=torch.bfloat16,
                            enabled=args.precision == "bfloat16")

  def step():
    optimizer.zero_grad(set_to_none=True)
    with autocast:
      loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()

  for _ in range(args.warmup):
    step()
  start, cpu = time.perf_counter(), time.process_time()
  for _ in range(args.steps):
    step()
  seconds = time.perf_counter() - start
  cpu_seconds = time.process_time() - cpu
  print(json.dumps({"framework": f"pytorch {torch.__version__}",
                    "precision": args.precision,
                    "images_per_s": args.steps * args.batch_size / seconds,
                    "images_per_cpu_s":
                        args.steps * args.batch_size / cpu_seconds}))


if __name__ == "__main__":
  main()
