#!/usr/bin/env bash
# The monitor's cost on a real training run: the Fashion-MNIST example with the monitor attached
# (policy none: probes and analysis, nothing frozen) against the same run without it
# (--no-monitor), alternating, and the ratio of the mean epoch times (goal: at most +5 %).
#
#   bench/monitor_overhead.sh [--pairs 2] [extra fashion_mnist_freeze options, e.g. --epochs 2]
exec "$(dirname "$0")/epoch_time_ab.sh" --name monitor_overhead \
  --label-a "without monitor" --a "--no-monitor" --label-b "with monitor" --b "" "$@"
