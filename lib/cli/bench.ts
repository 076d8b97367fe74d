// `minimonkey bench [vision|llm|scm|all] [options]`: runs the compiled benchmarks (dist/bench/*.js),
// passing the options through. Each benchmark writes its synthetic model on first use
// and needs the llama.cpp anchors built (`npm run build:tools`); it says so when they are not.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const USAGE = `usage: minimonkey bench [vision|llm|scm|all] [options passed to the benchmark]

Runs the benchmarks beside llama.cpp built from the same pinned source (build the anchors first:
npm run build:tools -- mm-clip-bench llama-bench). With no target, all run in this order.

  vision   ms per tile of our vision tower vs llama.cpp's clip encoder
           options: --tiles 2 --threads N --types f16,q8_0
  llm      prefill and decode tokens/s of our chat path vs llama-bench
           options: --types q4_0,q8_0 --threads N --prompt 512 --gen 32 --reps 2
  scm      time to first token with and without SCM on a 1344x896 page (ocr preset)
           options: --preset ocr --text-type q4_0 --vision-type f16 --threads N --keep 0.5
  --shape internvl2-2b|tiny
           the synthetic pair: real InternVL2-2B dimensions (default; the figures in README)
           or the tiny test shape (seconds; checks that a benchmark runs, not how fast)
  -h, --help   this help
`;

const TARGETS = ['vision', 'llm', 'scm'] as const;
type Target = (typeof TARGETS)[number];

// From dist/lib/cli/ the compiled benchmarks are in dist/bench/.
const script = (t: Target) => path.join(__dirname, '..', '..', 'bench', `${t}.js`);

/** Runs one benchmark with stdio passed through; resolves to its exit code (130 when Ctrl-C ended it). */
function runScript(file: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { stdio: 'inherit' });
    // Ctrl-C reaches the child through the terminal's process group; we only wait for it to end.
    const ignore = () => undefined;
    process.on('SIGINT', ignore);
    child.on('error', (e) => {
      process.off('SIGINT', ignore);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      resolve(code ?? (signal === 'SIGINT' ? 130 : 1));
    });
  });
}

export async function runBench(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '-h' || first === '--help' || first === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  let targets: readonly Target[] = TARGETS;
  let passthrough = argv;
  if (first !== undefined && !first.startsWith('-')) {
    if (first !== 'all' && !(TARGETS as readonly string[]).includes(first)) {
      process.stderr.write(`minimonkey bench: unknown benchmark '${first}'\n\n${USAGE}`);
      return 2;
    }
    targets = first === 'all' ? TARGETS : [first as Target];
    passthrough = rest;
  }
  for (const t of targets) {
    const file = script(t);
    if (!fs.existsSync(file)) {
      process.stderr.write(`minimonkey bench: ${file} not found (compile with \`npm run build:ts\`)\n`);
      return 1;
    }
    const code = await runScript(file, passthrough);
    if (code !== 0) return code;
  }
  return 0;
}
