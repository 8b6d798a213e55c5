// Reference side of prefer's tokenizer checks: encodes every line of a JSONL corpus with
// @huggingface/tokenizers and prints one JSON line per input:
//   {"ids": [...], "ids_no_special": [...], "decoded": "...", "decoded_skip_special": "..."}
// Usage: node encode.mjs tokenizer.json tokenizer_config.json corpus.jsonl > out.jsonl
// Each corpus line is {"text": "..."}. With --time, prints only {"seconds": s, "bytes": n} for a timed
// encode of the whole corpus (used by bench/tokenizer_encode).
import { readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";

const args = process.argv.slice(2);
const timed = args.includes("--time");
const [tokPath, cfgPath, corpusPath] = args.filter((a) => a !== "--time");
const tokenizer = new Tokenizer(JSON.parse(readFileSync(tokPath, "utf8")), JSON.parse(readFileSync(cfgPath, "utf8")));
const texts = readFileSync(corpusPath, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l).text);

const decode = (ids, skip) => (ids.length === 0 ? "" : tokenizer.decode(ids, { skip_special_tokens: skip }));

if (timed) {
  let bytes = 0;
  for (const t of texts) bytes += Buffer.byteLength(t, "utf8");
  for (const t of texts.slice(0, 50)) tokenizer.encode(t);  // warm-up (JIT)
  const start = process.hrtime.bigint();
  let count = 0;
  for (const t of texts) count += tokenizer.encode(t, { add_special_tokens: false }).ids.length;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  process.stdout.write(JSON.stringify({ seconds, bytes, tokens: count }) + "\n");
} else {
  const out = [];
  for (const t of texts) {
    const ids = tokenizer.encode(t).ids;
    const plain = tokenizer.encode(t, { add_special_tokens: false }).ids;
    out.push(JSON.stringify({ ids, ids_no_special: plain, decoded: decode(ids, false), decoded_skip_special: decode(ids, true) }));
  }
  process.stdout.write(out.join("\n") + "\n");
}
