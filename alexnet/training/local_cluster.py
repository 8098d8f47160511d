"""A cluster on 127.0.0.1 for trying distributed training on one machine.

Free of TensorFlow, so that scripts/train_local_cluster.sh picks its ports
without the seconds of a TensorFlow import.
"""

import socket


def local_hosts(num_workers, num_ps=1):
  """ClusterConfig host lists of a cluster on 127.0.0.1, on ports free now:
  {"ps_hosts": (...), "worker_hosts": (...)}."""
  sockets = [socket.socket() for _ in range(num_workers + num_ps)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  hosts = tuple(f"127.0.0.1:{s.getsockname()[1]}" for s in sockets)
  for s in sockets:
    s.close()
  return {"ps_hosts": hosts[:num_ps], "worker_hosts": hosts[num_ps:]}


def host_flags(num_workers, num_ps=1):
  """The --ps_hosts and --worker_hosts flags of local_hosts, as one line."""
  return " ".join(f"--{name}={','.join(hosts)}" for name, hosts in
                  local_hosts(num_workers, num_ps).items())
