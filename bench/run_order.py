#!/usr/bin/env python3
"""The order in which bench/freeze_benchmark.sh runs one seed's arms: a shuffle drawn from the
seed, so a rerun of a seed repeats its order and different seeds get different orders (which
keeps an arm's position in the sequence, and the machine's drift over it, from standing in for
the arm).

    python3 bench/run_order.py SEED ARM...    # prints the arms in their order, one per line
"""
import random
import sys


def run_order(seed, arms):
    """The arms in the order seed `seed` runs them. The seed is hashed whole (as text), so seeds
    that share their leading digits still get independent orders."""
    order = list(arms)
    random.Random(f"freeze-benchmark-order:{seed}").shuffle(order)
    return order


def main(argv):
    if len(argv) < 2:
        print("usage: run_order.py SEED ARM...", file=sys.stderr)
        return 2
    print("\n".join(run_order(argv[0], argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
