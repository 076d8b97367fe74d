// Child of test/platform-win32.test.ts, run by the Windows Node under Wine and by this machine's
// Node for the reference. Everything it is given and finds goes through files, never argv or a pipe
// (non-ASCII argv depends on Wine's locale, and Node's stdout on a Wine pipe fails):
//   node platform-child.js <job.json>
// job: { out, index (dist/lib/index.js), ask?, model, mmproj, image, question }. It writes to `out`:
// the platform, runtimeInfo(), the greedy tokens of one ask, what an abort mid-generation gives, and
// that a model disposed twice stays disposed.
const fs = require('fs');

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const result = { platform: process.platform, arch: process.arch, execPath: process.execPath };
const save = () => fs.writeFileSync(job.out, JSON.stringify(result, null, 2));

(async () => {
  const mm = require(job.index);
  const info = mm.runtimeInfo();
  result.runtime = { addonPath: info.addonPath, cpu: info.cpu, napiVersion: info.napiVersion };
  if (job.ask) {
    const model = await mm.MiniMonkey.load({ model: job.model, mmproj: job.mmproj, threads: 2, contextSize: 2048 });
    const parts = [{ type: 'image', image: job.image }, job.question];
    const chat = await model.chat();
    const r = await chat.ask(parts, { crop: 'fast', maxTokens: 8, temperature: 0 });
    result.tokens = r.tokenIds;

    // Abort after the second generated token: an AbortError, and the session is left usable.
    const ac = new AbortController();
    let seen = 0;
    const aborting = await model.chat();
    try {
      await aborting.ask(parts, { crop: 'fast', maxTokens: 200, temperature: 0, signal: ac.signal,
        onToken: () => { if (++seen === 2) ac.abort(); } });
      result.abort = { code: 'finished', seen };
    } catch (e) {
      result.abort = { code: e.code, seen };
    }
    const again = await aborting.ask(parts, { crop: 'fast', maxTokens: 8, temperature: 0 });
    result.afterAbortTokens = again.tokenIds;

    model.dispose();
    model.dispose();
    try {
      await model.chat();
      result.afterDispose = 'usable';
    } catch (e) {
      result.afterDispose = e.code;
    }
  }
  save();
})().catch((e) => {
  result.error = { code: e.code, message: e.message, stack: e.stack };
  save();
  process.exitCode = 1;
});
