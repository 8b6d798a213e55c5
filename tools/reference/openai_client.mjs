// Drives `prefer serve` with the official `openai` npm client, unchanged: chat (greedy, sampled with a
// seed, n choices, a stop string), chat streaming, completions (plain and streaming), models, and a
// refused request. Usage: node openai_client.mjs BASE_URL API_KEY; prints one JSON object.
import OpenAI from "openai";

const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 120000 });
const messages = [{ role: "user", content: "hi" }];
const out = {};

const greedy = await client.chat.completions.create({ model: "whatever", messages, max_tokens: 8, temperature: 0 });
out.chat = { text: greedy.choices[0].message.content, finish: greedy.choices[0].finish_reason, usage: greedy.usage,
             model: greedy.model, object: greedy.object, role: greedy.choices[0].message.role };

const sampled = [];
for (let k = 0; k < 2; ++k) {
  const r = await client.chat.completions.create({ model: "m", messages, max_tokens: 8, temperature: 1, seed: 11, n: 2 });
  sampled.push(r.choices.map((c) => c.message.content));
}
out.sampled = sampled;

const stream = await client.chat.completions.create({ model: "m", messages, max_tokens: 8, temperature: 0, stream: true,
                                                      stream_options: { include_usage: true } });
let text = "", finish = null, usage = null, role = null, chunks = 0;
for await (const chunk of stream) {
  ++chunks;
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    if (c.delta.role) role = c.delta.role;
    if (c.delta.content) text += c.delta.content;
    if (c.finish_reason) finish = c.finish_reason;
  }
}
out.stream = { text, finish, usage, role, chunks };

const comp = await client.completions.create({ model: "m", prompt: "The answer is", max_tokens: 6, temperature: 0 });
out.completion = { text: comp.choices[0].text, finish: comp.choices[0].finish_reason, object: comp.object };
const cstream = await client.completions.create({ model: "m", prompt: "The answer is", max_tokens: 6, temperature: 0, stream: true });
let ctext = "";
for await (const chunk of cstream) for (const c of chunk.choices) ctext += c.text;
out.completion_stream = ctext;

const models = await client.models.list();
out.models = models.data.map((m) => m.id);

try {
  await client.chat.completions.create({ model: "m", messages: [{ role: "wizard", content: "x" }] });
  out.refused = null;
} catch (e) {
  out.refused = { status: e.status, param: e.param ?? e.error?.param ?? null, message: e.message };
}
console.log(JSON.stringify(out));
