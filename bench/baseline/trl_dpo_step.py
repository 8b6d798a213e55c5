#!/usr/bin/env python3
"""An eager PyTorch DPO training step as TRL v1.x's DPOTrainer computes it (the baseline of bench_dpo_step).

Written from the documented semantics of transformers' eager Llama modeling and TRL's DPOTrainer (not
copied): chosen and rejected rows of a batch are concatenated ([prompt+chosen] x B, then
[prompt+rejected] x B), right-padded to the longest row; the model produces the full [2B, T, V] logits;
TRL's selective_log_softmax picks each next token's log-prob; the completion log-probs are summed per
row; the reference runs live under no_grad (the PEFT model with its adapters disabled for LoRA, a second
copy of the model for full fine-tuning); loss = -logsigmoid(beta * (policy margin - reference margin)),
averaged over the pairs; backward; clip_grad_norm_(1.0); torch.optim.AdamW; zero_grad.

Needs only torch (Debian: `apt-get install -y python3-torch`). Reads the model folder
(config.json + model.safetensors, parsed by hand) and a batch file written by bench_dpo_step:
  {"pairs": [{"prompt_ids": [...], "chosen_ids": [...], "rejected_ids": [...]}, ...],
   "step_batch": [i, ...], "epoch_batches": [[i, ...], ...]}
Prints one JSON object on stdout (losses and rewards per step, step times, epoch time, peak RSS).
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


# ---------------------------------------------------------------- the flags every step baseline takes
def step_arguments(lr, model_help=None, batch_help=None, precisions=("fp32", "bf16", "fp64")):
    """An ArgumentParser with the flags the step baselines share; each script adds its own."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help=model_help)
    ap.add_argument("--batch", required=True, help=batch_help)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--precision", choices=list(precisions), default="fp32",
                    help="fp64: the whole step in float64 (the trajectory fixtures of tests/fixtures/trajectories)")
    ap.add_argument("--mode", choices=["lora", "full"], default="lora")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--lora_r", type=int, default=16)
    ap.add_argument("--lora_alpha", type=float, default=32.0)
    ap.add_argument("--lr", type=float, default=lr)
    ap.add_argument("--max_grad_norm", type=float, default=1.0)
    return ap


def parse_step_arguments(ap):
    """Parses, then sets the thread count and the seed (0) as every baseline does before loading."""
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    return a


# ---------------------------------------------------------------- safetensors without the package
_DT = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "F64": torch.float64}


def iter_safetensors(path):
    """(name, tensor) pairs, read one tensor at a time (the file is never held whole in memory, as the
    safetensors package's memory map does not hold it)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        base = 8 + n
        for name, info in header.items():
            if name == "__metadata__":
                continue
            a, b = info["data_offsets"]
            f.seek(base + a)
            buf = bytearray(f.read(b - a))
            t = torch.frombuffer(buf, dtype=_DT[info["dtype"]]) if b > a else torch.empty(0, dtype=_DT[info["dtype"]])
            yield name, t.reshape(info["shape"])


def load_safetensors(path):
    return dict(iter_safetensors(path))


# ---------------------------------------------------------------- HF-style eager Llama
class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        dt = x.dtype
        x = x if dt == torch.float64 else x.to(torch.float32)  # fp64: no rounding (trajectory fixtures)
        var = x.pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(var + self.eps)
        return self.weight * x.to(dt)


class LoraLinear(nn.Module):
    """nn.Linear with an optional PEFT-style adapter: y = W x + scale * B(A(dropout(x)))."""

    def __init__(self, i, o, bias):
        super().__init__()
        self.base = nn.Linear(i, o, bias=bias)
        self.lora_A = None
        self.lora_B = None
        self.scale = 1.0
        self.adapters = True

    def add_lora(self, r, alpha):
        self.lora_A = nn.Linear(self.base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, self.base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))  # PEFT's init of A
        nn.init.zeros_(self.lora_B.weight)
        self.scale = alpha / r

    def forward(self, x):
        y = self.base(x)
        if self.lora_A is not None and self.adapters:
            y = y + self.lora_B(self.lora_A(x)) * self.scale
        return y


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh = c["num_attention_heads"]
        self.nkv = c["num_key_value_heads"]
        self.hd = c.get("head_dim") or c["hidden_size"] // self.nh
        H = c["hidden_size"]
        b = c.get("attention_bias", False)
        self.q_proj = LoraLinear(H, self.nh * self.hd, b)
        self.k_proj = LoraLinear(H, self.nkv * self.hd, b)
        self.v_proj = LoraLinear(H, self.nkv * self.hd, b)
        self.o_proj = LoraLinear(self.nh * self.hd, H, b)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv  # repeat_kv
        k = k[:, :, None].expand(B, self.nkv, rep, T, self.hd).reshape(B, self.nh, T, self.hd)
        v = v[:, :, None].expand(B, self.nkv, rep, T, self.hd).reshape(B, self.nh, T, self.hd)
        w = torch.matmul(q, k.transpose(2, 3)) * (self.hd ** -0.5)
        w = w + mask
        sdt = torch.float64 if q.dtype == torch.float64 else torch.float32
        w = F.softmax(w, dim=-1, dtype=sdt).to(q.dtype)  # eager attention: softmax in fp32
        o = torch.matmul(w, v).transpose(1, 2).reshape(B, T, self.nh * self.hd)
        return self.o_proj(o)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        H, I = c["hidden_size"], c["intermediate_size"]
        b = c.get("mlp_bias", False)
        self.gate_proj = LoraLinear(H, I, b)
        self.up_proj = LoraLinear(H, I, b)
        self.down_proj = LoraLinear(I, H, b)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.tied = bool(c.get("tie_word_embeddings", False))
        if not self.tied:
            self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        hd = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
        theta = c.get("rope_theta", 10000.0)
        self.register_buffer("inv_freq", 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd)), persistent=False)

    def lm_weight(self):
        return self.embed_tokens.weight if self.tied else self.lm_head.weight

    def forward(self, ids, attention_mask):
        return F.linear(self.hidden_states(ids, attention_mask), self.lm_weight())  # full [B, T, V] logits

    def hidden_states(self, ids, attention_mask):
        """The final norm's output [B, T, H] (what a sequence classifier's score head reads)."""
        B, T = ids.shape
        x = self.embed_tokens(ids)
        pos = torch.arange(T).unsqueeze(0).expand(B, T)  # HF: cache_position (right padding)
        with torch.autocast("cpu", enabled=False):  # HF computes RoPE in fp32
            fdt = torch.float64 if x.dtype == torch.float64 else torch.float32  # fp64: angles in float64
            f = (self.inv_freq[None, :, None].to(fdt) @ pos[:, None, :].to(fdt)).transpose(1, 2)
            emb = torch.cat((f, f), dim=-1)
            cos, sin = emb.cos().to(x.dtype)[:, None], emb.sin().to(x.dtype)[:, None]
        # 4D causal + padding mask, the dtype's lowest value where masked (HF eager).
        dt = x.dtype if not torch.is_autocast_cpu_enabled() else torch.get_autocast_cpu_dtype()
        neg = torch.finfo(dt).min
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        allowed = causal[None] & attention_mask.bool()[:, None, :]
        mask = torch.zeros(B, 1, T, T, dtype=dt).masked_fill(~allowed[:, None], neg)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.norm(x)

    def set_adapters(self, on):
        for m in self.modules():
            if isinstance(m, LoraLinear):
                m.adapters = on


def load_model(d, dtype=torch.float32):
    with open(os.path.join(d, "config.json")) as f:
        c = json.load(f)
    m = LlamaForCausalLM(c)
    if any(a.endswith("ForSequenceClassification") for a in c.get("architectures", [])):
        # transformers' sequence classifier: the score head [num_labels, H] instead of lm_head
        if not m.tied:
            del m.lm_head
            m.tied = True
        m.score = nn.Linear(c["hidden_size"], c.get("num_labels", 1), bias=False)
    own = {}
    for k, p in m.named_parameters():
        hf = k.replace(".base.", ".")
        hf = ("model." + hf) if not hf.startswith(("lm_head", "score")) else hf
        own[hf] = p
    seen = set()
    with torch.no_grad():
        for k, t in iter_safetensors(os.path.join(d, "model.safetensors")):
            if k not in own:
                raise SystemExit("unexpected tensor: %s" % k)
            own[k].copy_(t.to(own[k].dtype))
            seen.add(k)
    if set(own) - seen:
        raise SystemExit("missing tensors: %s" % sorted(set(own) - seen)[:5])
    return m.to(dtype)


def attach_lora(model, r, alpha):
    """Freezes the model, adds LoRA to q/k/v/o of every layer, returns the adapter parameters."""
    for p in model.parameters():
        p.requires_grad_(False)
    for layer in model.layers:
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            getattr(layer.self_attn, name).add_lora(r, alpha)
    return [p for n, p in model.named_parameters() if "lora_" in n]


# ---------------------------------------------------------------- TRL's DPO step
def selective_log_softmax(logits, index):
    """TRL's selective_log_softmax: log_softmax(logits).gather(index) without the full log_softmax."""
    if logits.dtype in (torch.float32, torch.float64):
        selected = torch.gather(logits, dim=-1, index=index.unsqueeze(-1)).squeeze(-1)
        lse = torch.stack([torch.logsumexp(lg, dim=-1) for lg in logits])  # row by row: less peak memory
        return selected - lse
    out = []
    for lg, ix in zip(logits, index):  # bf16/fp16: logsumexp is unstable, use log_softmax per row
        lp = F.log_softmax(lg, dim=-1)
        out.append(lp.gather(dim=-1, index=ix.unsqueeze(-1)).squeeze(-1))
    return torch.stack(out)


def collate(pairs, idx):
    """Concatenated rows: [prompt+chosen] x B then [prompt+rejected] x B, right-padded; completion mask."""
    rows, comp = [], []
    for side in ("chosen_ids", "rejected_ids"):
        for i in idx:
            p = pairs[i]
            rows.append(p["prompt_ids"] + p[side])
            comp.append([0] * len(p["prompt_ids"]) + [1] * len(p[side]))
    T = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), T, dtype=torch.long)
    am = torch.zeros(len(rows), T, dtype=torch.long)
    cm = torch.zeros(len(rows), T, dtype=torch.long)
    for r, (row, c) in enumerate(zip(rows, comp)):
        ids[r, :len(row)] = torch.tensor(row)
        am[r, :len(row)] = 1
        cm[r, :len(row)] = torch.tensor(c)
    return ids, am, cm


def sequence_logps(model, ids, am, cm):
    logits = model(ids, am)                       # [2B, T, V]
    logits = logits[:, :-1]
    labels = ids[:, 1:].clone()
    mask = cm[:, 1:].bool()
    labels[~mask] = 0
    per_token = selective_log_softmax(logits, labels)
    per_token = per_token.masked_fill(~mask, 0)
    return per_token.sum(-1), logits, mask


def main():
    ap = step_arguments(lr=1e-5)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--adapter", default=None, help="PEFT adapter folder whose lora_A/lora_B to start from")
    ap.add_argument("--epoch", action="store_true", help="also run one epoch over epoch_batches")
    a = parse_step_arguments(ap)
    rss_start = rss_kb()
    with open(a.batch) as f:
        data = json.load(f)
    pairs = data["pairs"]

    wdtype = torch.float64 if a.precision == "fp64" else torch.float32
    policy = load_model(a.model, wdtype)
    ref = None
    if a.mode == "lora":
        for p in policy.parameters():
            p.requires_grad_(False)
        for layer in policy.layers:
            for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
                getattr(layer.self_attn, name).add_lora(a.lora_r, a.lora_alpha)
        if a.adapter:  # the same initial A (and B = 0) as the other side, for the equality check
            sd = load_safetensors(os.path.join(a.adapter, "adapter_model.safetensors"))
            with torch.no_grad():
                for i, layer in enumerate(policy.layers):
                    for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
                        lin = getattr(layer.self_attn, name)
                        pre = "base_model.model.model.layers.%d.self_attn.%s." % (i, name)
                        lin.lora_A.weight.copy_(sd[pre + "lora_A.weight"].to(wdtype))
                        lin.lora_B.weight.copy_(sd[pre + "lora_B.weight"].to(wdtype))
        params = [p for n, p in policy.named_parameters() if "lora_" in n]
    else:
        ref = load_model(a.model, wdtype)  # TRL loads the reference from the same path
        for p in ref.parameters():
            p.requires_grad_(False)
        ref.eval()
        params = list(policy.parameters())
    # transformers: no weight decay by default; torch.optim.AdamW (adamw_torch) with Trainer's betas/eps.
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    policy.train()
    autocast = a.precision == "bf16"

    def step(idx):
        B = len(idx)
        ids, am, cm = collate(pairs, idx)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            with torch.no_grad():  # the live reference forward
                if ref is None:
                    policy.set_adapters(False)
                    ref_sum, _, _ = sequence_logps(policy, ids, am, cm)
                    policy.set_adapters(True)
                else:
                    ref_sum, _, _ = sequence_logps(ref, ids, am, cm)
            pol_sum, logits, mask = sequence_logps(policy, ids, am, cm)
        acc = torch.float64 if a.precision == "fp64" else torch.float32
        pc, pr = pol_sum[:B].to(acc), pol_sum[B:].to(acc)
        rc, rr = ref_sum[:B].to(acc), ref_sum[B:].to(acc)
        logits_diff = a.beta * ((pc - pr) - (rc - rr))
        loss = (-F.logsigmoid(logits_diff)).mean()
        chosen_rewards = a.beta * (pc - rc).detach()
        rejected_rewards = a.beta * (pr - rr).detach()
        with torch.no_grad():  # TRL's logits/chosen, logits/rejected metrics
            ml_c = logits[:B][mask[:B]].to(acc).mean().item()
            ml_r = logits[B:][mask[B:]].to(acc).mean().item()
        del logits
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, a.max_grad_norm).item()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return {"loss": loss.item(), "rewards_chosen": chosen_rewards.mean().item(),
                "rewards_rejected": rejected_rewards.mean().item(),
                "margins": (chosen_rewards - rejected_rewards).mean().item(), "grad_norm": grad_norm,
                "logits_chosen": ml_c, "logits_rejected": ml_r}

    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "steps": [], "step_seconds": []}
    rss_loaded = rss_kb()
    for _ in range(a.steps):
        t0 = time.perf_counter()
        r = step(data["step_batch"])
        out["step_seconds"].append(time.perf_counter() - t0)
        out["steps"].append(r)
    if a.epoch:
        t0 = time.perf_counter()
        for b in data["epoch_batches"]:
            step(b)
        out["epoch_seconds"] = time.perf_counter() - t0
        out["epoch_steps"] = len(data["epoch_batches"])
    out["rss_start_mb"] = rss_start / 1024.0
    out["rss_loaded_mb"] = rss_loaded / 1024.0
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
