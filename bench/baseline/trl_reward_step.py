#!/usr/bin/env python3
"""An eager PyTorch reward-model step as TRL's RewardTrainer computes it (the baseline of bench_reward_step).

The model, the safetensors reader and the LoRA layers are trl_dpo_step.py's (HF-style eager Llama), here
with transformers' sequence-classification head: score = Linear(H, 1, bias=False) applied at every
position ([B, T, 1]), then pooled at each row's last real token. The step: chosen rows then rejected rows
([prompt+chosen] x B ; [prompt+rejected] x B) right-padded to the longest into one batch, one forward,
rewards split in two (torch.chunk), loss = -logsigmoid(r_c - r_r).mean() over the pairs, backward,
clip_grad_norm_(1.0), torch.optim.AdamW, zero_grad. With --mode lora the score head trains whole beside
the adapters (PEFT's SEQ_CLS modules_to_save). Prints one JSON object: per step loss and accuracy, step
times, RSS at start and peak. Written from the documented semantics of transformers and TRL; no code was
copied from either project.
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


def collate(pairs):
    rows = [p["prompt_ids"] + p[side] for side in ("chosen_ids", "rejected_ids") for p in pairs]
    T = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), T, dtype=torch.long)
    am = torch.zeros(len(rows), T, dtype=torch.long)
    for r, row in enumerate(rows):
        ids[r, :len(row)] = torch.tensor(row)
        am[r, :len(row)] = 1
    return ids, am


def main():
    ap = base.step_arguments(lr=1e-4, model_help="an HF folder with score.weight (XForSequenceClassification)",
                             batch_help='JSON: {"pairs": [{prompt_ids, chosen_ids, rejected_ids}, ...]}')
    a = base.parse_step_arguments(ap)
    rss_start = base.rss_kb()
    with open(a.batch) as f:
        pairs = json.load(f)["pairs"]
    model = base.load_model(a.model, torch.float64 if a.precision == "fp64" else torch.float32)
    if not hasattr(model, "score"):
        raise SystemExit("%s has no score.weight: not a sequence classifier" % a.model)
    if a.mode == "lora":
        params = base.attach_lora(model, a.lora_r, a.lora_alpha)
        model.score.weight.requires_grad_(True)
        params.append(model.score.weight)
    else:
        params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    model.train()
    ids, am = collate(pairs)
    last = am.sum(1) - 1  # right padding: each row's last real token

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            logits = model.score(model.hidden_states(ids, am))  # [2B, T, 1]
        rewards = logits[torch.arange(ids.size(0)), last].squeeze(-1)
        r_c, r_r = torch.chunk(rewards, 2)
        loss = -F.logsigmoid(r_c - r_r).mean()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, a.max_grad_norm).item()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return {"loss": loss.item(), "accuracy": (r_c > r_r).float().mean().item(), "grad_norm": grad_norm}

    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "steps": [], "step_seconds": []}
    for _ in range(a.steps):
        t0 = time.perf_counter()
        out["steps"].append(step())
        out["step_seconds"].append(time.perf_counter() - t0)
    out["tokens"] = int(am.sum())
    out["rss_start_mb"] = rss_start / 1024.0
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
