#!/usr/bin/env python3
"""Data-parallel training on 1 to 64 machines, on paper (docs/cluster.md): from a measured step time
on one machine and the bytes summed a step, the time of a ring allreduce at 10 and 25 Gbit/s and the
efficiency it leaves.

A ring allreduce of B bytes over N machines sends and receives 2 (N - 1) / N * B bytes per machine
and takes 2 (N - 1) message latencies (Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce
algorithms for clusters of workstations"); each machine computes its own share of the batch in the
measured time, so a step takes compute + sums.

  python3 tools/cluster_model.py train --step 6.53 --per-machine 4
  python3 tools/cluster_model.py gan --step 1.32

train: TransformerNet, 1,679,235 float gradients, one sum a step. gan: a CycleGAN (resnet_9blocks and
the basic PatchGAN, twice: 2 x (11,378,179 + 2,764,737) floats), 8 sums a step (the four networks'
gradients and the fakes for the history pools), the fakes 2 x N pictures of 3 x 128 x 128 floats summed
as a buffer of the whole batch (mostly zeros: it costs as much as a full one).
"""
import argparse

TRAIN_FLOATS = 1679235
GAN_FLOATS = 2 * (11378179 + 2764737)
FAKE_BYTES = 3 * 128 * 128 * 4
MACHINES = (1, 2, 4, 8, 16, 32, 64)


def ring_seconds(nbytes, n, gbit, sums, latency):
    if n == 1:
        return 0.0
    return 2 * (n - 1) / n * nbytes / (gbit * 1e9 / 8) + sums * 2 * (n - 1) * latency


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=["train", "gan"])
    ap.add_argument("--step", type=float, required=True, help="measured seconds of one machine's step")
    ap.add_argument("--per-machine", type=int, default=1, help="pictures per machine per step")
    ap.add_argument("--latency", type=float, default=50e-6, help="seconds per message (TCP: 50 us)")
    a = ap.parse_args()
    print("| machines | global batch | sums at 10 Gbit/s | at 25 Gbit/s | efficiency (10 / 25) | pictures/s |")
    print("|---|---|---|---|---|---|")
    for n in MACHINES:
        if a.kind == "train":
            nbytes, sums = TRAIN_FLOATS * 4, 1
        else:
            nbytes, sums = GAN_FLOATS * 4 + 2 * n * a.per_machine * FAKE_BYTES, 8
        t10 = ring_seconds(nbytes, n, 10, sums, a.latency)
        t25 = ring_seconds(nbytes, n, 25, sums, a.latency)
        e10, e25 = a.step / (a.step + t10), a.step / (a.step + t25)
        rate = n * a.per_machine / (a.step + t10)
        print("| %d | %d | %s | %s | %.1f%% / %.1f%% | %.2f |" % (
            n, n * a.per_machine, "0" if n == 1 else "%.1f ms" % (t10 * 1e3),
            "0" if n == 1 else "%.1f ms" % (t25 * 1e3), 100 * e10, 100 * e25, rate))


if __name__ == "__main__":
    main()
