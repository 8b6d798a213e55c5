#!/usr/bin/env bash
# prefer eval's wall time for 200 prompts on the tiny fixtures (llama-tiny against qwen2-tiny, 32 new
# tokens each, greedy), against its baseline in the same run: the two `prefer generate` runs that make
# the same answers. The ratio is what judging (both orders, 400 verdicts), caching and the reports add.
# Judges: a scripted one (cmd:, a Node.js program) and a reward model (rm:, the llama-tiny-rm fixture).
# Usage: bash bench/eval_wall_time.sh [build_dir]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
prefer="${1:-$root/build}/prefer"
fx="$root/tests/fixtures/models"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for i in $(seq 1 200); do echo "{\"prompt\": \"Question $i: tell me something about the number $((i * 7)).\"}"; done > "$tmp/prompts.jsonl"
cat > "$tmp/judge.mjs" <<'JS'
import readline from "node:readline";
readline.createInterface({ input: process.stdin }).on("line", (l) => {
  const o = JSON.parse(l);
  console.log(o.answer_a.length > o.answer_b.length ? "A" : o.answer_b.length > o.answer_a.length ? "B" : "C");
});
JS
now() { date +%s.%N; }
t0=$(now)
"$prefer" generate --threads 2 --model "$fx/llama-tiny" --data "$tmp/prompts.jsonl" --output "$tmp/a.jsonl" --max_new_tokens 32 >/dev/null 2>&1
"$prefer" generate --threads 2 --model "$fx/qwen2-tiny" --data "$tmp/prompts.jsonl" --output "$tmp/b.jsonl" --max_new_tokens 32 >/dev/null 2>&1
t1=$(now)
"$prefer" eval --threads 2 --model "$fx/llama-tiny" --reference "$fx/qwen2-tiny" --prompts "$tmp/prompts.jsonl" \
  --judge "cmd:node $tmp/judge.mjs" --no_judge_cache --max_new_tokens 32 --output_dir "$tmp/e1" >/dev/null 2>&1
t2=$(now)
"$prefer" eval --threads 2 --model "$fx/llama-tiny" --reference "$fx/qwen2-tiny" --prompts "$tmp/prompts.jsonl" \
  --judge "rm:$fx/llama-tiny-rm" --no_judge_cache --max_new_tokens 32 --output_dir "$tmp/e2" >/dev/null 2>&1
t3=$(now)
PREFER_CACHE_DIR="$tmp/cache" "$prefer" eval --threads 2 --model "$fx/llama-tiny" --reference "$fx/qwen2-tiny" --prompts "$tmp/prompts.jsonl" \
  --judge "cmd:node $tmp/judge.mjs" --max_new_tokens 32 --output_dir "$tmp/e3" >/dev/null 2>&1
t4=$(now)
PREFER_CACHE_DIR="$tmp/cache" "$prefer" eval --threads 2 --model "$fx/llama-tiny" --reference "$fx/qwen2-tiny" --prompts "$tmp/prompts.jsonl" \
  --judge "cmd:node $tmp/judge.mjs" --max_new_tokens 32 --output_dir "$tmp/e4" >/dev/null 2>&1
t5=$(now)
awk -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" -v t4="$t4" -v t5="$t5" 'BEGIN {
  g = t1 - t0; c = t2 - t1; r = t3 - t2; w = t5 - t4;
  printf "prefer eval, 200 prompts, 32 new tokens, tiny fixtures, 2 threads\n\n";
  printf "%-44s %7.2f s\n", "baseline: two prefer generate runs", g;
  printf "%-44s %7.2f s  %5.2fx the baseline\n", "eval, scripted judge (400 verdicts)", c, c / g;
  printf "%-44s %7.2f s  %5.2fx the baseline\n", "eval, reward-model judge (400 verdicts)", r, r / g;
  printf "%-44s %7.2f s  %5.2fx the baseline\n", "eval again, every verdict from the cache", w, w / g;
}'
