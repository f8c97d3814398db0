// Sends one plain and one streaming chat completion with the official openai package and
// prints what came back as one JSON line. Usage: node openai-test.mjs URL KEY IMAGE PROMPT N
import OpenAI from 'openai';
import fs from 'node:fs';

const [url, apiKey, image, prompt, maxTokens] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey, timeout: 300000, maxRetries: 0 });
const models = await client.models.list();
const model = models.data[0].id;
const b64 = fs.readFileSync(image).toString('base64');
const messages = [{
  role: 'user',
  content: [
    { type: 'image_url', image_url: { url: `data:image/png;base64,${b64}` } },
    { type: 'text', text: prompt },
  ],
}];
const plain = await client.chat.completions.create({
  model, messages, max_tokens: Number(maxTokens), temperature: 0,
});
const stream = await client.chat.completions.create({
  model, messages, max_tokens: Number(maxTokens), temperature: 0, stream: true,
});
let streamed = '';
let finish = null;
for await (const chunk of stream) {
  streamed += chunk.choices[0]?.delta?.content ?? '';
  finish = chunk.choices[0]?.finish_reason ?? finish;
}
console.log(JSON.stringify({
  model,
  plain: plain.choices[0].message.content,
  plain_finish: plain.choices[0].finish_reason,
  usage: plain.usage,
  stream: streamed,
  stream_finish: finish,
}));
