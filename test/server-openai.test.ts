// The official `openai` npm client against `minimonkey serve`: what it sends (image parts, seeds,
// stream_options, response_format) is answered as the library answers the same ask on the same
// model, streamed and not, and what it parses (usage, finish reasons, errors) is in OpenAI's shape.
import OpenAI from 'openai';
import { literalGrammar } from '../lib/server/history-replay';
import { pageImage, startServer, TestServer } from './helpers/server';

let srv: TestServer;
let client: OpenAI;
let page: Awaited<ReturnType<typeof pageImage>>;

beforeAll(async () => {
  srv = await startServer({ parallel: 2 });
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  page = await pageImage();
});
afterAll(() => srv?.close());

const question = 'What is the total amount?';

async function streamed(body: OpenAI.Chat.ChatCompletionCreateParamsStreaming) {
  const stream = await client.chat.completions.create(body);
  let text = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  let ext: any;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const c = chunk.choices[0];
    if (!c) continue;
    text += c.delta.content ?? '';
    if (c.finish_reason) finish = c.finish_reason;
    if ((chunk as any).minimonkey) ext = (chunk as any).minimonkey;
  }
  return { text, finish, usage, ext };
}

describe('openai client', () => {
  it('an image part: the non-streamed and streamed answers are the library ask() answer, with its usage and crop plan', async () => {
    const lib = await (await srv.model.chat()).ask([{ type: 'image', image: page.bytes }, question], { crop: 'fast', maxTokens: 12 });
    expect(lib.text.length).toBeGreaterThan(0);
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
      { role: 'user', content: [{ type: 'image_url', image_url: { url: page.dataUrl } }, { type: 'text', text: question }] },
    ];
    const body = { model: 'minimonkey', messages, max_tokens: 12, minimonkey: { crop: 'fast' } } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming;
    const whole = await client.chat.completions.create(body);
    expect(whole.object).toBe('chat.completion');
    expect(whole.choices[0].message.content).toBe(lib.text);
    expect(whole.choices[0].finish_reason).toBe(lib.finishReason === 'maxTokens' ? 'length' : 'stop');
    expect(whole.usage!.completion_tokens).toBe(lib.tokens.generated);
    expect(whole.usage!.prompt_tokens).toBe(lib.tokens.prompt);
    expect((whole.usage as any).prompt_tokens_details.image_tokens).toBe(lib.images[0].imageTokens);
    const ext = (whole as any).minimonkey;
    expect(ext.images[0]).toMatchObject({ width: 800, height: 600, detail: lib.images[0].detail, imageTokens: lib.images[0].imageTokens });

    const s = await streamed({ ...body, stream: true, stream_options: { include_usage: true } } as OpenAI.Chat.ChatCompletionCreateParamsStreaming);
    expect(s.text).toBe(lib.text);
    expect(s.finish).toBe(whole.choices[0].finish_reason);
    expect(s.usage).toEqual(whole.usage);
    expect(s.ext.images[0].imageTokens).toBe(lib.images[0].imageTokens);
    expect(s.ext.image_cache_hits).toBe(1); // the same picture again: its embeddings came from the cache
  });

  it('sampling with a seed: the same seed gives the same text streamed and not, and the library ask() gives it too', async () => {
    const opts = { temperature: 0.9, top_p: 0.95, seed: 1234, max_tokens: 10 };
    const lib = await (await srv.model.chat()).ask('Tell me a story', { temperature: 0.9, topP: 0.95, seed: 1234, maxTokens: 10 });
    const greedy = await (await srv.model.chat()).ask('Tell me a story', { maxTokens: 10 });
    expect(lib.text).not.toBe(greedy.text); // sampling really happened
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Tell me a story' }];
    const whole = await client.chat.completions.create({ model: 'minimonkey', messages, ...opts });
    expect(whole.choices[0].message.content).toBe(lib.text);
    const s = await streamed({ model: 'minimonkey', messages, ...opts, stream: true });
    expect(s.text).toBe(lib.text);
  });

  it('a system message, a stop string and a follow-up whose history a slot holds: the library two-turn chat, only the new turn prefilled', async () => {
    const chat = await srv.model.chat({ system: 'You read invoices.' });
    const first = await chat.ask('Hello', { maxTokens: 8 });
    const second = await chat.ask('And more?', { maxTokens: 8 });
    const sys = { role: 'system' as const, content: 'You read invoices.' };
    const r1 = await client.chat.completions.create({ model: 'm', messages: [sys, { role: 'user', content: 'Hello' }], max_tokens: 8 });
    expect(r1.choices[0].message.content).toBe(first.text);
    const r2 = await client.chat.completions.create({
      model: 'm', max_tokens: 8,
      messages: [sys, { role: 'user', content: 'Hello' }, { role: 'assistant', content: r1.choices[0].message.content }, { role: 'user', content: 'And more?' }],
    });
    expect(r2.choices[0].message.content).toBe(second.text);
    expect((r2.usage as any).prompt_tokens_details.cached_tokens).toBe(first.tokens.prompt + first.tokens.generated);
    expect((r2 as any).minimonkey.slot).toBe((r1 as any).minimonkey.slot);

    // A history no slot holds is replayed (its assistant turn forced by a grammar) and still answered.
    const other = await client.chat.completions.create({
      model: 'm', max_tokens: 4,
      messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello "there"\n' }, { role: 'user', content: 'Go on' }],
    });
    expect(other.usage!.prompt_tokens).toBeGreaterThan(r1.usage!.prompt_tokens);
    expect((other.usage as any).prompt_tokens_details.cached_tokens).toBe(0);
    // ... exactly as a library chat whose first reply was that text: the replay prefilled the same.
    const replayed = await srv.model.chat();
    const forced = await replayed.ask('Hi', { grammar: literalGrammar('Hello "there"\n'), maxTokens: 40 });
    expect(forced.text).toBe('Hello "there"\n');
    expect(other.choices[0].message.content).toBe((await replayed.ask('Go on', { maxTokens: 4 })).text);

    const cut = first.text.slice(2, 4);
    const stopped = await client.chat.completions.create({ model: 'm', messages: [sys, { role: 'user', content: 'Hello' }], max_tokens: 8, stop: [cut] });
    expect(stopped.choices[0].message.content).toBe(first.text.slice(0, first.text.indexOf(cut)));
    expect(stopped.choices[0].finish_reason).toBe('stop');
  });

  it('response_format json_schema: the reply is JSON of the schema, parsed in minimonkey.json', async () => {
    const schema = { type: 'object', properties: { total: { type: 'number' } }, required: ['total'], additionalProperties: false };
    const r = await client.chat.completions.create({
      model: 'm', max_tokens: 40, messages: [{ role: 'user', content: 'The total?' }],
      response_format: { type: 'json_schema', json_schema: { name: 'total', schema } },
    });
    const text = r.choices[0].message.content!;
    if (r.choices[0].finish_reason === 'stop') {
      expect(typeof JSON.parse(text).total).toBe('number');
      expect((r as any).minimonkey.json).toEqual(JSON.parse(text));
    } else {
      expect(text.startsWith('{')).toBe(true); // ran out of tokens inside the object
    }
  });

  it("errors are the client's own typed errors: 400 with the field at fault, 404", async () => {
    const bad = client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 0 });
    await expect(bad).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(bad).rejects.toMatchObject({ status: 400, param: 'max_tokens', type: 'invalid_request_error' });
    const url = client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] });
    await expect(url).rejects.toMatchObject({ status: 400, code: 'image_url_not_allowed' });
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['minimonkey']);
    await expect(client.models.retrieve('x')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});
