// A local batch worker process (pool.ts forks it): loads the model once, then answers the pages it
// is sent, one at a time. A process, not a thread, so that a crash (out of memory, a native abort)
// takes down only this worker: the pool restarts it and retries the page.
import { MiniMonkey, MiniMonkeyLoadOptions } from '../model';
import { errorRecord, runPage } from './task';
import type { ChildMessage, ParentMessage } from './pool-protocol';

let model: MiniMonkey | undefined;
let init: Extract<ParentMessage, { type: 'init' }> | undefined;

const send = (m: ChildMessage) => process.send!(m);

process.on('message', (m: ParentMessage) => {
  if (m.type === 'init') {
    init = m;
    MiniMonkey.load(m.load as MiniMonkeyLoadOptions).then(
      (mm) => {
        model = mm;
        send({ type: 'ready' });
      },
      (e) => send({ type: 'fatal', error: errorRecord(e) }),
    );
  } else if (m.type === 'page') {
    runPage(model!, m.job, init!.task, { password: init!.password }).then(
      (result) => send({ type: 'result', result }),
      (e) => send({ type: 'result', result: { key: m.job.key, file: m.job.file, page: m.job.page, error: errorRecord(e) } }),
    );
  }
});
// The parent gone (killed, or closed the channel): nothing more will come.
process.on('disconnect', () => {
  model?.dispose();
  process.exit(0);
});
