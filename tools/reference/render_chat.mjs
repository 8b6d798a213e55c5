// Reference side of prefer's chat-template checks: renders chat templates with @huggingface/jinja
// (Hugging Face's JavaScript Jinja, configured like transformers: trim_blocks and lstrip_blocks).
// Usage: node render_chat.mjs input.json > output.json
// Input:  {"template": "...", "cases": [{"messages": [...], "add_generation_prompt": bool,
//          "bos_token": "...", "eos_token": "...", "tools": [...] | null, "extra_context": {...},
//          "now": <unix seconds>}]}  (bos/eos are left undefined when absent, as transformers does
//          for a tokenizer without them; "now" fixes what strftime_now() sees)
// Output: a JSON array with one entry per case: {"text": "..."} or {"error": "message"}.
import { readFileSync } from "node:fs";
import { Template } from "@huggingface/jinja";

const input = JSON.parse(readFileSync(process.argv[2], "utf8"));
const template = new Template(input.template);

const RealDate = globalThis.Date;
// strftime_now() formats `new Date()`; a Date whose no-argument form is a fixed instant pins it.
function pinDate(seconds) {
  globalThis.Date = class extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(seconds * 1000);
      else super(...args);
    }
  };
}

const results = input.cases.map((c) => {
  const context = {
    messages: c.messages,
    tools: c.tools ?? null,
    documents: null,
    add_generation_prompt: Boolean(c.add_generation_prompt),
    ...(c.bos_token != null ? { bos_token: c.bos_token } : {}),
    ...(c.eos_token != null ? { eos_token: c.eos_token } : {}),
    ...(c.extra_context ?? {}),
  };
  if (c.now != null) pinDate(c.now);
  try {
    return { text: template.render(context) };
  } catch (e) {
    return { error: String(e && e.message !== undefined ? e.message : e) };
  } finally {
    globalThis.Date = RealDate;
  }
});
process.stdout.write(JSON.stringify(results));
