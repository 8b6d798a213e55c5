#!/usr/bin/env python3
# The bf16 GEMMs of a 135M (SmolLM) DPO step at prefer's batch shape, timed alone in eager PyTorch (the
# same LibTorch and oneDNN as prefer's C++), against the 2048-cube matmul that bench_dpo_step calls the
# roofline; and each group of projections that read the same input (q/k/v, gate/up) as separate GEMMs
# against one GEMM over the concatenated weights, forward and input gradient (the separate ones plus
# the adds that sum their input gradients). Answers whether a step's GEMMs run slow for their shapes and
# what fusing the projections would save.
#
# Usage: /usr/bin/python3 bench/gemm_shapes.py [--rows 2496] [--threads 2] [--reps 20]
import argparse
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--rows", type=int, default=2496, help="tokens in a batch (prefer's aligned 4-pair batch: 2496)")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--reps", type=int, default=20)
a = p.parse_args()
torch.set_num_threads(a.threads)
M, H, I, KV = a.rows, 576, 1536, 192  # rows, hidden, MLP size, k/v width (3 of 9 heads x 64)


def timed(fn):
    for _ in range(3):
        fn()
    t = time.perf_counter()
    for _ in range(a.reps):
        fn()
    return (time.perf_counter() - t) / a.reps


def forward(i, o):  # F.linear(x [M, i], W [o, i])
    x, w = torch.randn(M, i).bfloat16(), torch.randn(o, i).bfloat16()
    return timed(lambda: torch.nn.functional.linear(x, w))


def input_grad(i, o):  # dy [M, o] @ W [o, i]
    dy, w = torch.randn(M, o).bfloat16(), torch.randn(o, i).bfloat16()
    return timed(lambda: dy.mm(w))


def add(i):
    x, y = torch.randn(M, i).bfloat16(), torch.randn(M, i).bfloat16()
    return timed(lambda: x + y)


n = 2048
x, y = torch.randn(n, n).bfloat16(), torch.randn(n, n).bfloat16()
roof = 2 * n**3 / timed(lambda: x.mm(y)) / 1e9
print(f"LibTorch {torch.__version__}, {a.threads} threads, {M} rows; bf16 roofline (2048^3 matmul) {roof:.1f} GFLOP/s")
print(f"{'GEMMs':10s} {'pass':10s} {'separate ms':>12s} {'GFLOP/s':>8s} {'% roof':>7s} {'fused ms':>9s} {'GFLOP/s':>8s} {'x':>5s}")
for name, outs in [("q,k,v", [H, KV, KV]), ("gate,up", [I, I])]:
    flops = sum(2 * M * H * o for o in outs)
    sep = sum(forward(H, o) for o in outs)
    fused = forward(H, sum(outs))
    print(f"{name:10s} {'forward':10s} {sep*1e3:12.2f} {flops/sep/1e9:8.1f} {100*flops/sep/1e9/roof:7.1f} {fused*1e3:9.2f} {flops/fused/1e9:8.1f} {sep/fused:5.2f}")
    sep = sum(input_grad(H, o) for o in outs) + (len(outs) - 1) * add(H)
    fused = input_grad(H, sum(outs))
    print(f"{name:10s} {'input grad':10s} {sep*1e3:12.2f} {flops/sep/1e9:8.1f} {100*flops/sep/1e9/roof:7.1f} {fused*1e3:9.2f} {flops/fused/1e9:8.1f} {sep/fused:5.2f}")
for name, i, o in [("o", H, H), ("down", I, H)]:
    flops = 2 * M * i * o
    t = forward(i, o)
    print(f"{name:10s} {'forward':10s} {t*1e3:12.2f} {flops/t/1e9:8.1f} {100*flops/t/1e9/roof:7.1f}")
