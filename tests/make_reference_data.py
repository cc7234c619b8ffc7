#!/usr/bin/env python3
"""Writes the project's own similarity reference data: pairs of activation matrices and, in
expected.json, every index computed here with numpy by the textbook formulas (SVD bases for
CCA, Gram matrices for CKA), independently of the C++ code's whitening and factorizations.
Same layout and keys as the shared fixtures, so one test reads either.

Usage: make_reference_data.py OUT_DIR"""
import json
import os
import sys

import numpy as np


def centre(x):
    return x - x.mean(axis=0, keepdims=True)


def basis(x, keep=None, tolerance=1e-10):
    """Orthonormal basis of the centred data's column space, optionally only the fewest top
    singular directions whose singular values sum to >= keep of the total."""
    u, s, _ = np.linalg.svd(centre(x), full_matrices=False)
    rank = int(np.sum(s**2 > tolerance * s[0] ** 2))
    k = rank
    if keep is not None:
        mass = np.cumsum(s[:rank])
        k = int(np.searchsorted(mass, keep * mass[-1] - 1e-12) + 1)
    return u[:, :k]


def canonical(x, y, keep=None):
    bx, by = basis(x, keep), basis(y, keep)
    p, rho, qt = np.linalg.svd(bx.T @ by, full_matrices=False)
    count = min(bx.shape[1], by.shape[1])
    return bx, by, p[:, :count], rho[:count], qt.T[:, :count]


def pwcca(x, y):
    # Weights from the side with fewer features (the first on a tie): alpha_i is the sum over
    # its centred features x_j of |<h_i, x_j>|, h_i its unit-norm canonical variates.
    bx, by, p, rho, q = canonical(x, y)
    if x.shape[1] <= y.shape[1]:
        h, features = bx @ p, centre(x)
    else:
        h, features = by @ q, centre(y)
    alpha = np.abs(h.T @ features).sum(axis=1)
    return float(alpha @ rho / alpha.sum())


def unbiased_hsic(k, l):
    n = k.shape[0]
    k = k.copy()
    l = l.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l, 0)
    ones = np.ones(n)
    return (np.trace(k @ l) + (ones @ k @ ones) * (ones @ l @ ones) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * (ones @ k @ l @ ones)) / (n * (n - 3))


def centred_gram(k):
    n = k.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    return h @ k @ h


def cka_from_grams(k, l, debiased):
    if debiased:
        return unbiased_hsic(k, l) / np.sqrt(unbiased_hsic(k, k) * unbiased_hsic(l, l))
    kc, lc = centred_gram(k), centred_gram(l)
    return np.sum(kc * lc) / (np.linalg.norm(kc) * np.linalg.norm(lc))


def rbf_gram(x, threshold):
    squared = np.sum(x * x, axis=1)
    d2 = squared[:, None] + squared[None, :] - 2 * x @ x.T
    sigma2 = threshold**2 * np.median(d2)
    return np.exp(-d2 / (2 * sigma2))


def procrustes(x, y):
    xc, yc = centre(x), centre(y)
    xc = xc / np.linalg.norm(xc)
    yc = yc / np.linalg.norm(yc)
    return float(2 - 2 * np.linalg.svd(xc.T @ yc, compute_uv=False).sum())


def expected_values(x, y, with_rbf, with_svcca):
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    _, _, _, rho, _ = canonical(x, y)
    xc, yc = centre(x), centre(y)
    out = {
        "mean_cca": float(rho.mean()),
        "r2_cca": float(np.mean(rho**2)),
        "pwcca": pwcca(x, y),
        "linear_cka": float(np.linalg.norm(yc.T @ xc) ** 2
                            / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))),
        "linear_cka_debiased": float(cka_from_grams(xc @ xc.T, yc @ yc.T, True)),
        "procrustes": procrustes(x, y),
    }
    if with_rbf:
        k, l = rbf_gram(xc, 0.5), rbf_gram(yc, 0.5)
        out["rbf_cka_threshold_0.5"] = float(cka_from_grams(k, l, False))
        out["rbf_cka_threshold_0.5_debiased"] = float(cka_from_grams(k, l, True))
    if with_svcca:
        bx, by, _, rho_sv, _ = canonical(x, y, keep=0.99)
        out["svcca_singular_0.99"] = float(rho_sv.mean())
        out["svcca_kept_dims"] = [int(bx.shape[1]), int(by.shape[1])]
    return out


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    expected = {}

    # Small, float64, equal widths: every index including RBF CKA.
    x = rng.standard_normal((100, 10))
    y = x @ rng.standard_normal((10, 10)) + 1.5 * rng.standard_normal((100, 10))
    y[:, 3] = np.tanh(y[:, 3])
    np.save(os.path.join(out, "gaussian_x.npy"), x)
    np.save(os.path.join(out, "gaussian_y.npy"), y)
    expected["gaussian"] = {"x": "gaussian_x.npy", "y": "gaussian_y.npy", "dtype": "float64"}
    expected["gaussian"].update(expected_values(x, y, with_rbf=True, with_svcca=False))

    # Layer-like, float32, different widths (the first narrower) with a decaying spectrum, so
    # SVCCA keeps fewer directions than there are features on both sides.
    n, latent = 2000, 24
    z = rng.standard_normal((n, latent)) * np.geomspace(3.0, 0.02, latent)
    relu = np.maximum(z @ rng.standard_normal((latent, 48)), 0) + 0.05 * rng.standard_normal((n, 48))
    tanh = np.tanh(z @ rng.standard_normal((latent, 80)) * 0.4) + 0.05 * rng.standard_normal((n, 80))
    relu, tanh = relu.astype(np.float32), tanh.astype(np.float32)
    np.save(os.path.join(out, "relu_a.npy"), relu)
    np.save(os.path.join(out, "tanh_b.npy"), tanh)
    expected["relu_tanh"] = {"x": "relu_a.npy", "y": "tanh_b.npy", "dtype": "float32"}
    expected["relu_tanh"].update(expected_values(relu, tanh, with_rbf=False, with_svcca=True))

    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(f"reference data written to {out}")


if __name__ == "__main__":
    main()
