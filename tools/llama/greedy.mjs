// The real llama.cpp (node-llama-cpp's prebuilt binary, CPU) on GGUF files: loads each, continues token
// sequences greedily, tokenizes texts with the file's own vocabulary, and reads the metadata back with
// @huggingface/gguf. One process for many files (llama.cpp's start-up is paid once). Prints JSON.
// Usage: node greedy.mjs REQUEST.json
//   {"runs": [{"model": "m.gguf", "cases": [{"ids": [1, 5, 9], "n": 12}], "texts": ["Hello"], "lora": "a.gguf"?}]}
//   -> {"runs": [{"cases": [{"tokens": [...], "confidence": [...]}], "tokenized": [[...]], "metadata": {...}, "tensors": N}]}
import fs from 'node:fs';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import { gguf } from '@huggingface/gguf';

const req = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
const runs = [];
for (const run of req.runs) {
  const { metadata, tensorInfos } = await gguf(run.model, { allowLocalFile: true });
  const model = await llama.loadModel({ modelPath: run.model });
  const context = await model.createContext({
    contextSize: 256, batchSize: 256, threads: 1,
    ...(run.lora ? { lora: { adapters: [{ filePath: run.lora }] } } : {}),
  });
  const sequence = context.getSequence();
  const cases = [];
  for (const c of run.cases ?? []) {
    await sequence.clearHistory();
    const tokens = [], confidence = [];
    for await (const out of sequence.evaluateWithMetadata(c.ids, { confidence: true }, { temperature: 0 })) {
      tokens.push(out.token);
      confidence.push(out.confidence);
      if (tokens.length >= c.n) break;
    }
    cases.push({ tokens, confidence });
  }
  const tokenized = (run.texts ?? []).map((t) => model.tokenize(t, false));
  const meta = {};
  for (const [k, v] of Object.entries(metadata))
    meta[k] = Array.isArray(v) ? { length: v.length, first: v.slice(0, 8) } : typeof v === 'bigint' ? Number(v) : v;
  runs.push({ cases, tokenized, metadata: meta, tensors: tensorInfos.length });
  await context.dispose();
  await model.dispose();
}
console.log(JSON.stringify({ runs }));
await llama.dispose();
