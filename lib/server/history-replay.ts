// The turns of a chat request that a slot's context does not hold yet, put into it as if they had
// been asked there: each old user turn is asked again and its assistant reply is forced token by
// token with a grammar that admits exactly the text the client sent (temperature 0), so the KV
// holds that history and the next turn is asked on top of it. OpenAI's API is stateless: a client
// sends the whole conversation each time, and a slot may have held another conversation.
import { LIMITS } from '../limits';
import type { ChatRequest } from './request';
import type { Slot } from './slots';

/** A GBNF grammar that admits exactly `text`: replays an assistant message the context lacks. */
export function literalGrammar(text: string): string {
  const esc = [...text]
    .map((c) => {
      if (c === '"' || c === '\\') return `\\${c}`;
      if (c === '\n') return '\\n';
      if (c === '\r') return '\\r';
      if (c === '\t') return '\\t';
      const code = c.codePointAt(0)!;
      return code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : c;
    })
    .join('');
  return `root ::= "${esc}"`;
}

/**
 * Replays `req`'s turns after the first `held` keys the slot already holds (keys: system, then user
 * and assistant of each turn), all but the last turn. Returns the positions prefilled and the
 * image tokens among them.
 */
export async function replayHistory(slot: Slot, req: ChatRequest, held: number, signal: AbortSignal): Promise<{ prompt: number; image: number }> {
  let prompt = 0;
  let image = 0;
  // keys: [system, user 0, assistant 0, user 1, ...]: turn i's user is key 1 + 2i.
  for (let i = (Math.max(held, 1) - 1) / 2; i < req.turns.length - 1; i++) {
    const t = req.turns[i];
    const text = t.assistant!;
    const r = await slot.session.ask(t.user, {
      ...req.options, temperature: 0, stop: undefined, json: undefined,
      grammar: literalGrammar(text), maxTokens: Math.min(LIMITS.maxTokens.max, Buffer.byteLength(text) + 1), signal,
    });
    prompt += r.tokens.prompt + r.tokens.generated;
    image += r.tokens.image;
    slot.keys!.push(req.keys[1 + 2 * i], req.keys[2 + 2 * i]);
  }
  return { prompt, image };
}
