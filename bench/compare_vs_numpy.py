#!/usr/bin/env python3
"""Times the whole `layerwatch compare --metric cca` process on float32 .npy files against a
plain numpy CCA (centre, covariances, eigendecompositions for whitening, SVD) run in the same
script on the same files, and prints the ratio. Both read the files from disk.

    /usr/bin/python3 bench/compare_vs_numpy.py build/bin/layerwatch [--n 10000 --p 1024]
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np


def numpy_cca(path_x, path_y):
    x = np.load(path_x).astype(np.float64)
    y = np.load(path_y).astype(np.float64)
    x -= x.mean(0)
    y -= y.mean(0)
    cxx, cyy, cxy = x.T @ x, y.T @ y, x.T @ y

    def inv_sqrt(c):
        w, v = np.linalg.eigh(c)
        keep = w > 1e-10 * w.max()
        return (v[:, keep] / np.sqrt(w[keep])) @ v[:, keep].T

    rho = np.linalg.svd(inv_sqrt(cxx) @ cxy @ inv_sqrt(cyy), compute_uv=False)
    return float(np.clip(rho, 0, 1)[: min(x.shape[1], y.shape[1])].mean())


def best_of(runs, fn):
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("layerwatch")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--p", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        x = rng.standard_normal((args.n, args.p), dtype=np.float32)
        y = (x @ rng.standard_normal((args.p, args.p), dtype=np.float32) / np.sqrt(args.p)
             + rng.standard_normal((args.n, args.p), dtype=np.float32))
        px, py = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
        np.save(px, x)
        np.save(py, y.astype(np.float32))
        del x, y
        results = {}
        for precision in ["float64", "float32"]:
            cmd = [args.layerwatch, "compare", px, py, "--metric", "cca", "--json",
                   "--precision", precision]
            t, out = best_of(args.runs, lambda: subprocess.run(cmd, check=True, capture_output=True).stdout)
            results[precision] = (t, json.loads(out)["metrics"]["cca"]["value"])
        t_np, v_np = best_of(args.runs, lambda: numpy_cca(px, py))
    print(f"CCA of two float32 .npy files, n={args.n}, p=q={args.p}, best of {args.runs}:")
    print(f"  numpy covariance + eigh + svd (this run) {t_np:7.2f} s   mean rho {v_np:.6f}")
    for precision, (t, v) in results.items():
        print(f"  layerwatch compare --precision {precision}  {t:7.2f} s   mean rho {v:.6f}"
              f"   numpy/layerwatch = {t_np / t:.2f}x   |diff| {abs(v - v_np):.1e}")
    print("  (google/svcca get_cca_similarity took about 4.3 s for this size on this class of"
          " machine; not run here)")


if __name__ == "__main__":
    main()
