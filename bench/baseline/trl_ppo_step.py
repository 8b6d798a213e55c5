#!/usr/bin/env python3
"""An eager PyTorch PPO update as TRL's PPOTrainer computes it (the baseline of bench_ppo_step).

Written from the documented semantics of transformers' generate (sampling with a dynamic KV cache,
left-padded prompts, position ids from the attention mask) and TRL's PPOTrainer (trl/experimental/ppo),
not copied. Four separate models as TRL builds them: the policy (LoRA on q/k/v/o, the reference being the
policy with adapters disabled; or a full copy plus a frozen reference copy), a value model and a reward
model (AutoModelForSequenceClassification: the same body plus a score head [1, H]; the value model is
trained in full, as TRL's PolicyAndValueWrapper does). One update:
  1. generate: temperature + 1e-7, top_k 0, top_p 1, max_new_tokens = response_length, in chunks of
     local_rollout_forward_batch_size; log-probs from the generation scores
  2. reference log-probs (a full forward, logits / temperature), values (value model on every slot,
     [P - 1 : -1]), scores (reward model at the last real token)
  3. k1 KL penalty, score on the last token, GAE, whitened advantages
  4. num_ppo_epochs x mini-batches: value forward + policy forward (full logits / temperature), clipped
     surrogate + vf_coef x clipped value loss, backward, clip_grad_norm_, AdamW
Needs only torch. Input (written by bench_ppo_step): {"prompts": [[ids], ...]}. Prints one JSON object:
rollout and update seconds per update, generated tokens, peak RSS, and kv_cache_check (the largest
difference between the sampler's log-probs and a full forward's on the first rollout: the cache's sanity).
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trl_dpo_step import load_model, rotate_half, rss_kb  # noqa: E402  (the same eager Llama)


def hidden_states(model, ids, pos, key_mask, cache=None):
    """Final hidden states [B, T, H] for new tokens `ids` at positions `pos`; `key_mask` [B, cached + T]
    marks real keys. `cache`: a list of (k, v) per layer, extended in place (HF's DynamicCache)."""
    B, T = ids.shape
    x = model.embed_tokens(ids)
    f = (model.inv_freq[None, :, None].float() @ pos[:, None, :].float()).transpose(1, 2)
    emb = torch.cat((f, f), dim=-1)
    cos, sin = emb.cos().to(x.dtype)[:, None], emb.sin().to(x.dtype)[:, None]
    past = 0 if cache is None or cache[0] is None else cache[0][0].shape[2]
    Tk = past + T
    causal = torch.ones(T, Tk, dtype=torch.bool).tril(diagonal=past)
    allowed = causal[None] & key_mask.bool()[:, None, :]
    mask = torch.zeros(B, 1, T, Tk, dtype=x.dtype).masked_fill(~allowed[:, None], torch.finfo(x.dtype).min)
    for li, layer in enumerate(model.layers):
        a = layer.self_attn
        h = layer.input_layernorm(x)
        q = a.q_proj(h).view(B, T, a.nh, a.hd).transpose(1, 2)
        k = a.k_proj(h).view(B, T, a.nkv, a.hd).transpose(1, 2)
        v = a.v_proj(h).view(B, T, a.nkv, a.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if cache[li] is not None:
                k = torch.cat((cache[li][0], k), dim=2)
                v = torch.cat((cache[li][1], v), dim=2)
            cache[li] = (k, v)
        rep = a.nh // a.nkv
        kk = k[:, :, None].expand(B, a.nkv, rep, Tk, a.hd).reshape(B, a.nh, Tk, a.hd)
        vv = v[:, :, None].expand(B, a.nkv, rep, Tk, a.hd).reshape(B, a.nh, Tk, a.hd)
        w = torch.matmul(q, kk.transpose(2, 3)) * (a.hd ** -0.5) + mask
        w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        x = x + a.o_proj(torch.matmul(w, vv).transpose(1, 2).reshape(B, T, a.nh * a.hd))
        x = x + layer.mlp(layer.post_attention_layernorm(x))
    return model.norm(x)


def positions_from_mask(m):
    return (m.long().cumsum(-1) - 1).masked_fill(m == 0, 1)


def generate(policy, prompts, mask, n_new, temperature, pad, eos, gen):
    """HF-style sampling with a dynamic KV cache; finished rows get pad tokens. Returns responses [B, n]
    and the log-probs of the sampled tokens from the processed scores."""
    B = prompts.shape[0]
    cache = [None] * len(policy.layers)
    pos = positions_from_mask(mask)
    keys = mask.clone()
    h = hidden_states(policy, prompts, pos, keys, cache)[:, -1]
    next_pos = pos[:, -1] + 1
    done = torch.zeros(B, dtype=torch.bool)
    out, lps = [], []
    for _ in range(n_new):
        logits = F.linear(h, policy.lm_weight()).float() / (temperature + 1e-7)
        logp = logits.log_softmax(-1)
        tok = torch.multinomial(logp.exp(), 1, generator=gen).squeeze(1)
        tok = torch.where(done, torch.full_like(tok, pad), tok)
        out.append(tok)
        lps.append(logp.gather(1, tok[:, None]).squeeze(1))
        done = done | (tok == eos)
        if bool(done.all()):
            break
        keys = torch.cat((keys, torch.ones(B, 1, dtype=keys.dtype)), 1)
        h = hidden_states(policy, tok[:, None], next_pos[:, None], keys, cache)[:, -1]
        next_pos = next_pos + 1
    return torch.stack(out, 1), torch.stack(lps, 1)


def selective_logprobs(model, qr, am, P, temperature):
    h = hidden_states(model, qr, positions_from_mask(am), am)
    logits = F.linear(h, model.lm_weight())[:, P - 1:-1].float() / (temperature + 1e-7)  # full [B, T, V]
    resp = qr[:, P:]
    return torch.stack([lg.log_softmax(-1).gather(-1, r[:, None]).squeeze(-1) for lg, r in zip(logits, resp)])


def masked_mean(x, m):
    return (x * m).sum() / m.sum()


def masked_whiten(x, m):
    mean = masked_mean(x, m)
    var = masked_mean((x - mean) ** 2, m) * (m.sum() / (m.sum() - 1))
    return (x - mean) * torch.rsqrt(var + 1e-8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", required=True)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--mode", choices=["lora", "full"], default="lora")
    ap.add_argument("--updates", type=int, default=2)
    ap.add_argument("--response_length", type=int, default=53)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--micro", type=int, default=8, help="per_device_train_batch_size")
    ap.add_argument("--forward_batch", type=int, default=64, help="local_rollout_forward_batch_size")
    ap.add_argument("--num_ppo_epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--lora_r", type=int, default=16)
    ap.add_argument("--lora_alpha", type=float, default=32.0)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with open(a.batch) as f:
        prompts_list = json.load(f)["prompts"]
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    H, pad, eos = cfg["hidden_size"], 0, cfg.get("eos_token_id", 2)

    policy = load_model(a.model)
    if a.mode == "lora":
        for p in policy.parameters():
            p.requires_grad_(False)
        for layer in policy.layers:
            for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
                getattr(layer.self_attn, name).add_lora(a.lora_r, a.lora_alpha)
        ref = None
        pol_params = [p for n, p in policy.named_parameters() if "lora_" in n]
    else:
        ref = load_model(a.model)
        for p in ref.parameters():
            p.requires_grad_(False)
        pol_params = list(policy.parameters())
    value = load_model(a.model)
    value_head = torch.nn.Parameter(torch.randn(1, H) * 0.02)
    reward = load_model(a.model)
    for p in reward.parameters():
        p.requires_grad_(False)
    reward_head = torch.randn(1, H) * 0.02
    params = pol_params + list(value.parameters()) + [value_head]
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)

    B = len(prompts_list)
    P = max(len(p) for p in prompts_list)
    prompts = torch.full((B, P), pad, dtype=torch.long)
    pmask = torch.zeros(B, P, dtype=torch.long)
    for i, p in enumerate(prompts_list):
        prompts[i, P - len(p):] = torch.tensor(p)
        pmask[i, P - len(p):] = 1
    gen = torch.Generator().manual_seed(1)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "rollout_seconds": [], "update_seconds": [],
           "generated_tokens": [], "update_tokens": []}
    for _ in range(a.updates):
        t0 = time.perf_counter()
        with torch.no_grad():
            resp, lps = [], []
            for s in range(0, B, a.forward_batch):
                r, lp = generate(policy, prompts[s:s + a.forward_batch], pmask[s:s + a.forward_batch], a.response_length,
                                 a.temperature, pad, eos, gen)
                resp.append(r)
                lps.append(lp)
            T = max(r.shape[1] for r in resp)
            responses = torch.cat([F.pad(r, (0, T - r.shape[1]), value=pad) for r in resp])
            logprobs = torch.cat([F.pad(lp, (0, T - lp.shape[1])) for lp in lps])
            qr = torch.cat((prompts, responses), 1)
            rmask = torch.ones_like(responses)
            for b in range(B):  # truncate after the first EOS, as TRL's postprocessing does
                hit = (responses[b] == eos).nonzero()
                if len(hit):
                    rmask[b, hit[0, 0] + 1:] = 0
            am = torch.cat((pmask, rmask), 1)
            ref_lp, vals, scores = [], [], []
            for s in range(0, B, a.forward_batch):
                sl = slice(s, s + a.forward_batch)
                if ref is None:
                    policy.set_adapters(False)
                    ref_lp.append(selective_logprobs(policy, qr[sl], am[sl], P, a.temperature))
                    policy.set_adapters(True)
                else:
                    ref_lp.append(selective_logprobs(ref, qr[sl], am[sl], P, a.temperature))
                hv = hidden_states(value, qr[sl], positions_from_mask(am[sl]), am[sl])
                vals.append((hv @ value_head.t()).squeeze(-1)[:, P - 1:-1])
                hr = hidden_states(reward, qr[sl], positions_from_mask(am[sl]), am[sl])
                last = am[sl].shape[1] - 1 - am[sl].flip(1).argmax(1)
                scores.append((hr[torch.arange(hr.shape[0]), last] @ reward_head.t()).squeeze(-1))
            ref_lp, vals, scores = torch.cat(ref_lp), torch.cat(vals), torch.cat(scores)
            m = rmask.float()
            kl = (logprobs - ref_lp) * m
            rewards = -0.05 * kl
            lengths = rmask.sum(1) - 1
            rewards[torch.arange(B), lengths] += scores
            vals = vals * m
            adv_rev, last = [], 0.0
            for t in reversed(range(T)):
                nxt = vals[:, t + 1] if t < T - 1 else 0.0
                delta = rewards[:, t] + nxt - vals[:, t]
                last = delta + 0.95 * last
                adv_rev.append(last)
            adv = torch.stack(adv_rev[::-1], 1)
            returns = adv + vals
            adv = masked_whiten(adv, m) * m
        t1 = time.perf_counter()
        if "kv_cache_check" not in out:  # untimed: the sampler's log-probs against a full forward (cache sanity)
            with torch.no_grad():
                full = selective_logprobs(policy, qr, am, P, a.temperature)
            out["kv_cache_check"] = float(((full - logprobs) * m).abs().max())
            t1 = time.perf_counter()
        for _ in range(a.num_ppo_epochs):
            perm = torch.randperm(B, generator=gen)
            for s in range(0, B, a.micro):
                idx = perm[s:s + a.micro]
                hv = hidden_states(value, qr[idx], positions_from_mask(am[idx]), am[idx])
                vpred = (hv @ value_head.t()).squeeze(-1)[:, P - 1:-1]
                new_lp = selective_logprobs(policy, qr[idx], am[idx], P, a.temperature)
                mm = m[idx]
                vclip = torch.clamp(vpred, vals[idx] - 0.2, vals[idx] + 0.2)
                vf = 0.5 * masked_mean(torch.max((vpred - returns[idx]) ** 2, (vclip - returns[idx]) ** 2), mm)
                ratio = torch.exp(new_lp - logprobs[idx])
                pg = masked_mean(torch.max(-adv[idx] * ratio, -adv[idx] * torch.clamp(ratio, 0.8, 1.2)), mm)
                loss = pg + 0.1 * vf
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
        t2 = time.perf_counter()
        out["rollout_seconds"].append(t1 - t0)
        out["update_seconds"].append(t2 - t1)
        out["generated_tokens"].append(int(rmask.sum()))
        out["update_tokens"].append(int(am.sum()) * a.num_ppo_epochs)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out["rss_mb"] = rss_kb() / 1024.0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
