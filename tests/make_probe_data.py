#!/usr/bin/env python3
"""Writes the probing reference data: a small classification problem with its L2-regularised
multinomial logistic regression fitted here by Newton's method on the full Hessian (an
independent solver of the same strictly convex objective the C++ probe minimises by L-BFGS),
and activations with class logits whose multiple correlations are computed by least squares.

Usage: make_probe_data.py OUT_DIR"""
import json
import os
import sys

import numpy as np


def softmax_fit(z, y, classes, l2, iterations=100):
    """argmin (1/n) sum_i [logsumexp(z_i W + b) - (z_i W + b)_{y_i}] + l2/2 ||W||^2."""
    n, p = z.shape
    zt = np.hstack([z, np.ones((n, 1))])  # bias as the last row of theta
    onehot = np.eye(classes)[y]
    theta = np.zeros((p + 1, classes))
    penalty = np.ones(p + 1)
    penalty[-1] = 0.0
    for _ in range(iterations):
        s = zt @ theta
        s -= s.max(axis=1, keepdims=True)
        prob = np.exp(s)
        prob /= prob.sum(axis=1, keepdims=True)
        grad = zt.T @ (prob - onehot) / n + l2 * penalty[:, None] * theta
        # Hessian over vec(theta) in column-major order (feature fastest, then class).
        h = np.zeros(((p + 1) * classes, (p + 1) * classes))
        for c in range(classes):
            for d in range(classes):
                w = prob[:, c] * ((c == d) - prob[:, d])
                block = zt.T @ (w[:, None] * zt) / n
                if c == d:
                    block += l2 * np.diag(penalty)
                h[c * (p + 1):(c + 1) * (p + 1), d * (p + 1):(d + 1) * (p + 1)] = block
        # The bias is identified only up to a common shift: pinv picks the least-norm step.
        step = np.linalg.pinv(h) @ grad.reshape(-1, order="F")
        theta -= step.reshape((p + 1, classes), order="F")
        if np.abs(grad).max() < 1e-13:
            break
    s = zt @ theta
    top = s.max(axis=1, keepdims=True)
    loss = np.mean(np.log(np.exp(s - top).sum(axis=1)) + top[:, 0] - s[np.arange(n), y])
    loss += 0.5 * l2 * np.sum(theta[:-1] ** 2)
    return theta[:-1], theta[-1], loss


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(3)
    n, p, classes = 240, 6, 3
    centres = 1.2 * rng.standard_normal((classes, p))
    labels = rng.integers(0, classes, n)
    features = centres[labels] + rng.standard_normal((n, p)) * np.linspace(0.5, 3.0, p)
    features[:, 2] += 40.0  # an offset the standardisation must remove
    order = rng.permutation(n)
    held_out, train = np.sort(order[:72]), np.sort(order[72:])
    mean = features[train].mean(axis=0)
    scale = features[train].std(axis=0)
    expected = {}
    for l2 in [0.01, 0.2]:
        w, b, loss = softmax_fit((features[train] - mean) / scale, labels[train], classes, l2)

        def accuracy(rows):
            scores = ((features[rows] - mean) / scale) @ w + b
            return float(np.mean(scores.argmax(axis=1) == labels[rows]))

        expected[f"l2_{l2}"] = {
            "l2": l2, "weights": w.tolist(), "bias_centred": (b - b.mean()).tolist(),
            "loss": float(loss), "accuracy": accuracy(held_out),
            "train_accuracy": accuracy(train)}
    np.save(os.path.join(out, "features.npy"), features)
    expected["labels"] = labels.tolist()
    expected["train"] = train.tolist()
    expected["held_out"] = held_out.tolist()

    # Class-logit CCA: activations and logits, and each logit's multiple correlation with the
    # activations, R = sqrt(1 - SS_res / SS_tot) of the least-squares fit with an intercept.
    acts = rng.standard_normal((300, 8))
    logits = acts @ rng.standard_normal((8, 4)) * np.array([0.2, 1.0, 3.0, 0.0]) \
        + rng.standard_normal((300, 4))
    design = np.hstack([acts, np.ones((300, 1))])
    correlations = []
    for c in range(4):
        coef, *_ = np.linalg.lstsq(design, logits[:, c], rcond=None)
        residual = logits[:, c] - design @ coef
        total = logits[:, c] - logits[:, c].mean()
        correlations.append(float(np.sqrt(1 - residual @ residual / (total @ total))))
    np.save(os.path.join(out, "activations.npy"), acts)
    np.save(os.path.join(out, "logits.npy"), logits)
    expected["multiple_correlation"] = correlations
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
