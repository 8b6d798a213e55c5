#!/usr/bin/env python3
"""An eager PyTorch SFT step as TRL's SFTTrainer computes it (padded rows, full logits, cross-entropy).

The model, the safetensors reader and the LoRA layers are trl_dpo_step.py's (HF-style eager Llama). The
step: rows prompt + completion right-padded to the longest, the full [B, T, V] logits, transformers'
causal-LM loss (labels shifted by one, -100 on padding and, with --completion_only, on prompt tokens,
cross-entropy summed in float32 and divided by the number of labelled tokens: num_items_in_batch), then
clip_grad_norm_ and torch.optim.AdamW. Prints one JSON object: per step loss, grad_norm and
mean_token_accuracy, step times, tokens per step, RSS at start and peak. Written from the documented
semantics of transformers and TRL; no code was copied from either project.
"""
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trl_dpo_step as base  # noqa: E402


def collate(examples, idx, completion_only):
    rows = [examples[i]["prompt_ids"] + examples[i]["completion_ids"] for i in idx]
    T = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), T, dtype=torch.long)
    am = torch.zeros(len(rows), T, dtype=torch.long)
    labels = torch.full((len(rows), T), -100, dtype=torch.long)
    for r, i in enumerate(idx):
        row = rows[r]
        ids[r, :len(row)] = torch.tensor(row)
        am[r, :len(row)] = 1
        start = len(examples[i]["prompt_ids"]) if completion_only else 0
        labels[r, start:len(row)] = torch.tensor(row[start:])
    return ids, am, labels


def main():
    ap = base.step_arguments(lr=2e-5, batch_help='JSON: {"examples": [{prompt_ids, completion_ids}], "step_batch": [i, ...]}')
    ap.add_argument("--completion_only", type=int, default=1)
    a = base.parse_step_arguments(ap)
    rss_start = base.rss_kb()
    with open(a.batch) as f:
        data = json.load(f)
    examples = data["examples"]
    wdtype = torch.float64 if a.precision == "fp64" else torch.float32
    model = base.load_model(a.model, wdtype)
    if a.mode == "lora":
        params = base.attach_lora(model, a.lora_r, a.lora_alpha)
    else:
        params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    model.train()
    acc_dtype = torch.float64 if a.precision == "fp64" else torch.float32

    def step(idx):
        ids, am, labels = collate(examples, idx, bool(a.completion_only))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            logits = model(ids, am)  # [B, T, V]
        shift = logits[:, :-1].to(acc_dtype)
        target = labels[:, 1:]
        n = (target != -100).sum()
        loss = F.cross_entropy(shift.reshape(-1, shift.size(-1)), target.reshape(-1), ignore_index=-100, reduction="sum") / n
        with torch.no_grad():  # TRL's mean_token_accuracy
            keep = target != -100
            acc = (shift.argmax(-1)[keep] == target[keep]).float().mean().item()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, a.max_grad_norm).item()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return {"loss": loss.item(), "grad_norm": grad_norm, "mean_token_accuracy": acc, "tokens": int(am.sum())}

    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "steps": [], "step_seconds": []}
    for _ in range(a.steps):
        t0 = time.perf_counter()
        out["steps"].append(step(data["step_batch"]))
        out["step_seconds"].append(time.perf_counter() - t0)
    out["rss_start_mb"] = rss_start / 1024.0
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
