// An Electron utility process that answers questions about images (README, "Electron").
// The main process forks it with utilityProcess.fork('vlm.js') and posts
// { model, mmproj, image, question }; it answers with { piece } messages, then { done, result }
// or { error, code }. The model is loaded once and kept for later questions.
import { MiniMonkey, MiniMonkeyError, type AskResult } from 'minimonkey';

interface Question {
  model: string;
  mmproj: string;
  image: string;
  question: string;
}

type Reply = { piece: string } | { done: true; result: AskResult } | { error: string; code: string };

// Electron adds process.parentPort in a utility process; @types/node does not know it.
interface ParentPort {
  on(event: 'message', listener: (e: { data: Question }) => void): void;
  postMessage(message: Reply): void;
}
const port = (process as unknown as { parentPort: ParentPort }).parentPort;

let loading: Promise<MiniMonkey> | undefined;

port.on('message', async ({ data }) => {
  try {
    loading ??= MiniMonkey.load({ model: data.model, mmproj: data.mmproj });
    const model = await loading;
    const chat = await model.chat();
    const reply = chat.ask([{ type: 'image', image: data.image }, data.question], { crop: 'document', scm: true });
    for await (const piece of reply) port.postMessage({ piece });
    port.postMessage({ done: true, result: await reply });
  } catch (err) {
    if (err instanceof MiniMonkeyError && err.code === 'MODEL_LOAD') loading = undefined; // let a later message retry
    port.postMessage({ error: (err as Error).message, code: err instanceof MiniMonkeyError ? err.code : 'INTERNAL' });
  }
});
