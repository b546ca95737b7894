#!/usr/bin/env python3
"""The same Gatys step as stylize, written with PyTorch, for the GPU comparison in BENCHMARKS.md.

Per iteration: VGG19 forward to relu5_1 (the same safetensors weights, BGR 0..255 minus the
VGG mean), content loss at relu4_2, Gram style losses at relu1_1…relu5_1 with layer weights
1, 0.75, 0.2, 0.2, 0.2, TV loss, backward to the image, Adam (lr 4) and a clamp to the pixel
range — README "The loss, exactly", α=1, β=30, τ=20. Random content/style images (speed does not
depend on pixel values). Timed like `stylize bench`: one warm-up iteration, then the mean of K
iterations, each synchronised.

    python3 tools/bench_torch.py --weights assets/vgg19-conv-f16.safetensors --sizes 256,512,1024 \
        --iterations 10 [--tf32] [--device cuda]

Prints one line per size: `torch SIZE DEVICE tf32=on|off: MS ms/iteration`.
"""
import argparse
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

BLOCKS = [2, 2, 4, 4, 1]
STYLE = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
STYLE_W = [1.0, 0.75, 0.2, 0.2, 0.2]
MEAN = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)


def load(path, device):
    t = load_file(path)
    convs = []
    for b, n in enumerate(BLOCKS):
        for j in range(1, n + 1):
            name = f"conv{b + 1}_{j}"
            convs.append((f"relu{b + 1}_{j}", t[f"{name}.weight"].float().to(device), t[f"{name}.bias"].float().to(device)))
    return convs


def features(convs, x):
    out, k = {}, 0
    for b, n in enumerate(BLOCKS):
        if b > 0:
            x = F.max_pool2d(x, 2)
        for _ in range(n):
            name, w, bias = convs[k]
            x = F.relu(F.conv2d(x, w, bias, padding=1))
            out[name] = x
            k += 1
    return out


def gram(f):
    _, c, h, w = f.shape
    m = f.reshape(c, h * w)
    return m @ m.t() / (c * h * w)


def bench(convs, size, iterations, device):
    g = torch.Generator().manual_seed(0)
    rand = lambda: (torch.rand(1, 3, size, size, generator=g) * 255 - MEAN).to(device)
    content, style = rand(), rand()
    with torch.no_grad():
        p = features(convs, content)["relu4_2"]
        a = [gram(features(convs, style)[l]) for l in STYLE]
    x = content.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=4.0)
    lo, hi = (-MEAN).to(device), (255 - MEAN).to(device)

    def step():
        opt.zero_grad(set_to_none=True)
        f = features(convs, x)
        content_loss = F.mse_loss(f["relu4_2"], p)
        style_loss = sum(w * F.mse_loss(gram(f[l]), t) for w, l, t in zip(STYLE_W, STYLE, a))
        tv = ((x[:, :, 1:, :] - x[:, :, :-1, :]) ** 2).sum() + ((x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2).sum()
        total = content_loss + 30.0 * style_loss + 20.0 * tv / (3 * size * size)
        total.backward()
        opt.step()
        with torch.no_grad():
            x.copy_(torch.maximum(torch.minimum(x, hi), lo))

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    step()
    sync()
    t = time.perf_counter()
    for _ in range(iterations):
        step()
        sync()
    return (time.perf_counter() - t) / iterations * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--tf32", action="store_true", help="allow TF32 in matmuls and convolutions")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cudnn.benchmark = True
    convs = load(args.weights, args.device)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    for s in (int(v) for v in args.sizes.split(",")):
        ms = bench(convs, s, args.iterations, args.device)
        print(f"torch {s} {name} tf32={'on' if args.tf32 else 'off'}: {ms:.2f} ms/iteration", flush=True)


if __name__ == "__main__":
    main()
