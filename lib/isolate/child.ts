// The process a model runs in with `isolate: 'process'` (isolated-model.ts forks it): loads the
// pair, then runs the chat sessions, asks and encodes it is sent, reporting tokens and progress
// by message. A native fault here (SIGSEGV, abort, out of memory) ends only this process; the
// parent turns it into a WORKER error. The parent gone (killed, channel closed) ends it too.
import type { ChatSession } from '../llm/session';
import { MiniMonkey, MiniMonkeyLoadOptions } from '../model';
import { toRecord } from './error-record';
import type { ChildState, FromChild, ToChild } from './protocol';
import { testCrash } from './test-crash';
import { parentChannel } from '../util/child-process';

const { send } = parentChannel<FromChild, ToChild>((m) => onMessage(m));

let model: MiniMonkey | undefined;
const sessions = new Map<number, ChatSession>();
const aborts = new Map<number, AbortController>();
const crash = testCrash(process.env.MINIMONKEY_TEST_CRASH);

function state(sessionId?: number): ChildState {
  const s: ChildState = { imageCache: model ? model.imageCache : { entries: 0, hits: 0, misses: 0 } };
  if (model?.sequences) s.sequences = model.sequences;
  const session = sessionId !== undefined ? sessions.get(sessionId) : undefined;
  if (session && !session.disposed) s.session = { id: sessionId!, used: session.contextUsed, size: session.contextSize };
  return s;
}

function load(options: Record<string, unknown>): void {
  let reported = false;
  MiniMonkey.load({
    ...(options as unknown as MiniMonkeyLoadOptions),
    onProgress: (p) => {
      send({ t: 'loadProgress', phase: p.phase, fraction: p.fraction });
      if (!reported) crash('load');
      reported = true;
    },
  }).then(
    (m) => {
      model = m;
      send({ t: 'ready', family: m.family, device: m.device, state: state() });
    },
    (e) => send({ t: 'loadFailed', error: toRecord(e) }),
  );
}

async function call(m: Extract<ToChild, { t: 'call' }>, signal: AbortSignal): Promise<{ value: unknown; session?: number }> {
  if (!model) throw new Error('the model is not loaded');
  switch (m.op) {
    case 'chat': {
      const s = await model.chat({ ...m.options, signal });
      sessions.set(m.id, s);
      return { value: { session: m.id, system: s.system }, session: m.id };
    }
    case 'ask': {
      const s = sessions.get(m.session);
      if (!s) throw new Error('no such session in this process');
      let tokens = 0;
      const value = await s.ask(m.content as never, {
        ...m.options,
        signal,
        onToken: (text, token) => {
          if (m.tokens) send({ t: 'token', id: m.id, text, token });
          if (tokens++ === 0) crash('generate');
        },
        onProgress: (p) => {
          if (m.progress) send({ t: 'progress', id: m.id, p });
          if (p.phase === 'encode' || p.phase === 'prefill') crash(p.phase);
        },
      });
      return { value, session: m.session };
    }
    case 'reset': {
      const s = sessions.get(m.session);
      await s?.reset();
      return { value: undefined, session: m.session };
    }
    case 'encodeImage':
      return { value: await model.encodeImage(m.image as never, { ...m.options, signal }) };
  }
}

function onMessage(m: ToChild): void {
  switch (m.t) {
    case 'load':
      load(m.options);
      break;
    case 'call': {
      const abort = new AbortController();
      aborts.set(m.id, abort);
      call(m, abort.signal).then(
        (r) => send({ t: 'done', id: m.id, value: r.value, state: state(r.session) }),
        (e) => send({ t: 'failed', id: m.id, error: toRecord(e), state: state(m.op === 'chat' ? undefined : (m as { session?: number }).session) }),
      ).finally(() => aborts.delete(m.id));
      break;
    }
    case 'abort':
      aborts.get(m.id)?.abort();
      break;
    case 'disposeSession':
      sessions.get(m.session)?.dispose();
      sessions.delete(m.session);
      break;
    case 'dispose':
      model?.dispose();
      process.exit(0);
  }
}
