#!/usr/bin/env python3
"""Writes the files the reader and command tests read: .npy in every header version, byte order
and memory order, .pt files from torch.save, and deliberately broken files."""
import importlib.util
import os
import sys

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)


def path(name):
    return os.path.join(out, name)


# The similarity reference pairs and their numpy values, in similarity/.
spec = importlib.util.spec_from_file_location(
    "make_reference_data", os.path.join(os.path.dirname(__file__), "make_reference_data.py"))
reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference)
sys.argv = [sys.argv[0], os.path.join(out, "similarity")]
reference.main()

# The probing reference data (a logistic regression fitted by Newton's method), in probe/.
spec = importlib.util.spec_from_file_location(
    "make_probe_data", os.path.join(os.path.dirname(__file__), "make_probe_data.py"))
probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(probe)
probe.main(os.path.join(out, "probe"))

a = rng.standard_normal((300, 6)).astype(np.float32)
np.save(path("a_f32.npy"), a)
np.save(path("a_f64.npy"), a.astype(np.float64))
np.save(path("a_fortran.npy"), np.asfortranarray(a))
np.save(path("a_bigendian.npy"), a.astype(">f8"))
for version in [(1, 0), (2, 0), (3, 0)]:
    with open(path(f"a_v{version[0]}.npy"), "wb") as f:
        np.lib.format.write_array(f, a, version=version)
b = (a @ rng.standard_normal((6, 4)) + 0.5 * rng.standard_normal((300, 4))).astype(np.float32)
np.save(path("b_f32.npy"), b)
np.save(path("b_short.npy"), b[:200])
np.save(path("ints.npy"), np.arange(12).reshape(3, 4))
np.save(path("one_d.npy"), np.arange(5, dtype=np.float32))
nan = a.copy()
nan[5, 2] = np.nan
np.save(path("a_nan.npy"), nan)
conv = rng.standard_normal((20, 3, 5, 5)).astype(np.float32)
np.save(path("conv_a.npy"), conv)
np.save(path("conv_b.npy"), np.maximum(conv, 0) + 0.1 * rng.standard_normal(conv.shape).astype(np.float32))
with open(path("a_f32.npy"), "rb") as f:
    whole = f.read()
with open(path("truncated.npy"), "wb") as f:
    f.write(whole[: len(whole) // 2])
with open(path("header_only.npy"), "wb") as f:
    f.write(whole[:40])
with open(path("garbage.npy"), "wb") as f:
    f.write(b"this is not an array file\n")
open(path("empty.npy"), "wb").close()

try:
    import torch
except ImportError:
    print("python3-torch missing: .pt test files not written", file=sys.stderr)
    sys.exit(0)
torch.save(torch.from_numpy(a), path("a.pt"))
torch.save(torch.from_numpy(b).double(), path("b_f64.pt"))
torch.save(torch.from_numpy(a).half(), path("a_half.pt"))
torch.save(torch.from_numpy(a)[:, ::2], path("a_strided.pt"))  # non-contiguous view
torch.save(torch.from_numpy(conv), path("conv_a.pt"))
torch.save({"acts": torch.from_numpy(a)}, path("dict.pt"))
torch.save(torch.arange(10), path("ints.pt"))
with open(path("a.pt"), "rb") as f:
    whole = f.read()
with open(path("truncated.pt"), "wb") as f:
    f.write(whole[: len(whole) // 2])
print(f"test data written to {out}")
