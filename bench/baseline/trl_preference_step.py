#!/usr/bin/env python3
"""Eager PyTorch training steps as TRL's ORPOTrainer, CPOTrainer (loss_type simpo) and KTOTrainer compute
them (the baseline of bench_preference_step).

Written from the documented semantics of TRL (not copied); the model, the safetensors reader and the
LoRA layers are trl_dpo_step.py's (an HF-style eager Llama).
  orpo   rows [prompt+chosen] x B then [prompt+rejected] x B, right-padded; full [2B, T, V] logits; the NLL
         is the cross-entropy over the whole chosen rows (prompt included, padding ignored); the odds use
         the per-token average completion log-probs; loss = nll - beta * mean(logsigmoid(log-odds ratio))
  simpo  the same forward; loss = mean(-logsigmoid(beta * (avg_c - avg_r) - gamma)) (cpo_alpha 0: no NLL)
  kto    B unpaired rows (prompt+completion, a label each) and their KL rows (each prompt with the
         previous row's completion), right-padded; the policy on the rows (grad) and on the KL rows
         (no_grad); the reference live under no_grad on both (adapters off for LoRA, a second copy for full
         fine-tuning): TRL's default precompute_ref_log_probs=False; kl = clamp(mean(KL_pol - KL_ref), 0);
         desirable 1 - sigmoid(beta (r - kl)), undesirable 1 - sigmoid(beta (kl - r)); loss = mean.
Then backward, clip_grad_norm_(1.0), torch.optim.AdamW, zero_grad. Reads the batch file bench_preference_step
writes: {"pairs": [{"prompt_ids", "chosen_ids", "rejected_ids"}], "unpaired": [{"prompt_ids",
"completion_ids", "label"}], "step_batch": [i, ...]}. Prints one JSON object (per-step losses, step times,
peak RSS).
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


def pad(rows, masks):
    T = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), T, dtype=torch.long)
    am = torch.zeros(len(rows), T, dtype=torch.long)
    cm = torch.zeros(len(rows), T, dtype=torch.long)
    for r, (row, m) in enumerate(zip(rows, masks)):
        ids[r, :len(row)] = torch.tensor(row)
        am[r, :len(row)] = 1
        cm[r, :len(row)] = torch.tensor(m)
    return ids, am, cm


def token_logps(logits, ids, cm):
    """Per-token log-probs of the completion tokens [R, T-1] (0 elsewhere) and the mask."""
    labels = ids[:, 1:].clone()
    mask = cm[:, 1:].bool()
    labels[~mask] = 0
    lp = base.selective_log_softmax(logits[:, :-1], labels)
    return lp.masked_fill(~mask, 0), mask


def main():
    ap = base.step_arguments(lr=1e-5, precisions=("fp32", "bf16"))
    ap.add_argument("--method", choices=["orpo", "simpo", "kto"], required=True)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--gamma", type=float, default=0.5)
    a = base.parse_step_arguments(ap)
    with open(a.batch) as f:
        data = json.load(f)
    policy = base.load_model(a.model, torch.float32)
    ref = None
    if a.mode == "lora":
        params = base.attach_lora(policy, a.lora_r, a.lora_alpha)
    else:
        params = list(policy.parameters())
        if a.method == "kto":  # only KTO has a reference
            ref = base.load_model(a.model, torch.float32)
            for p in ref.parameters():
                p.requires_grad_(False)
            ref.eval()
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    policy.train()
    autocast = a.precision == "bf16"

    def pair_step(idx):
        pairs = data["pairs"]
        B = len(idx)
        rows, masks = [], []
        for side in ("chosen_ids", "rejected_ids"):
            for i in idx:
                p = pairs[i]
                rows.append(p["prompt_ids"] + p[side])
                masks.append([0] * len(p["prompt_ids"]) + [1] * len(p[side]))
        ids, am, cm = pad(rows, masks)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            logits = policy(ids, am)  # [2B, T, V]
            lp, mask = token_logps(logits, ids, cm)
        avg = lp.float().sum(-1) / mask.sum(-1)
        ac, ar = avg[:B], avg[B:]
        if a.method == "orpo":
            labels = ids[:B, 1:].masked_fill(am[:B, 1:] == 0, -100)  # the whole chosen row
            nll = F.cross_entropy(logits[:B, :-1].float().reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100)
            log_odds = (ac - ar) - (torch.log1p(-torch.exp(ac)) - torch.log1p(-torch.exp(ar)))
            loss = nll - a.beta * F.logsigmoid(log_odds).mean()
        else:
            loss = (-F.logsigmoid(a.beta * (ac - ar) - a.gamma)).mean()
        return loss

    def kto_step(idx):
        ex = data["unpaired"]
        B = len(idx)
        rows = [ex[i]["prompt_ids"] + ex[i]["completion_ids"] for i in idx]
        masks = [[0] * len(ex[i]["prompt_ids"]) + [1] * len(ex[i]["completion_ids"]) for i in idx]
        kl_rows, kl_masks = [], []
        for k, i in enumerate(idx):  # each prompt with the previous row's completion
            c = ex[idx[(k - 1) % B]]["completion_ids"]
            kl_rows.append(ex[i]["prompt_ids"] + c)
            kl_masks.append([0] * len(ex[i]["prompt_ids"]) + [1] * len(c))
        ids, am, cm = pad(rows, masks)
        kids, kam, kcm = pad(kl_rows, kl_masks)
        label = torch.tensor([bool(ex[i]["label"]) for i in idx])

        def sums(model, i_, a_, c_):
            lp, _ = token_logps(model(i_, a_), i_, c_)
            return lp.float().sum(-1)

        # Separate autocast regions: autocast caches its weight casts, and a cast made under no_grad would
        # be reused without a grad_fn by the policy's forward.
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            kl_pol = sums(policy, kids, kam, kcm)
            if ref is None:
                policy.set_adapters(False)
                ref_s, kl_ref = sums(policy, ids, am, cm), sums(policy, kids, kam, kcm)
                policy.set_adapters(True)
            else:
                ref_s, kl_ref = sums(ref, ids, am, cm), sums(ref, kids, kam, kcm)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            pol = sums(policy, ids, am, cm)
        kl = (kl_pol - kl_ref).mean().clamp(min=0)
        r = pol - ref_s
        losses = torch.where(label, 1 - torch.sigmoid(a.beta * (r - kl)), 1 - torch.sigmoid(a.beta * (kl - r)))
        return losses.mean()

    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "steps": [], "step_seconds": []}
    for _ in range(a.steps):
        t0 = time.perf_counter()
        loss = (kto_step if a.method == "kto" else pair_step)(data["step_batch"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        out["step_seconds"].append(time.perf_counter() - t0)
        out["steps"].append({"loss": loss.item()})
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
