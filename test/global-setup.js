// Worker-thread and CLI tests run the compiled package (dist/), so compile it first: a stale
// dist/ would test old code.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async () => {
  // The CLI and server keep image embeddings in MINIMONKEY_HOME/page-cache by default. Test files
  // share tiny pairs of the same bytes, so one file's entries would answer another's asks: off for
  // the suite; test/page-cache.test.ts turns it on in its own folders.
  if (process.env.MINIMONKEY_PAGE_CACHE === undefined) process.env.MINIMONKEY_PAGE_CACHE = 'off';
  const root = path.join(__dirname, '..');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], {
    cwd: root,
    stdio: 'inherit',
  });
};
