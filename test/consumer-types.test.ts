// The published declarations, as a TypeScript user gets them: the packed tarball installed into an
// empty project and compiled there with `strict` and `skipLibCheck: false` (tsc then checks every
// .d.ts the program reaches, ours and our dependencies'), for each module resolution a project uses
// (NodeNext, Node16, Bundler) and for ESM and CommonJS files. A deep import into a dependency that its
// `exports` map forbids, or a type that only compiles with skipLibCheck, fails here.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { tempDir } from './helpers/models';

const root = path.join(__dirname, '..');

// Children get no npm_* variables from the `npm test` that runs us (they would steer npm install).
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));

function npm(args: string[], cwd: string): string {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', env: cleanEnv(), maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// What a user writes first: load, ask, stream, extract, errors, runtime facts, pull.
const CONSUMER = `import { MiniMonkey, MiniMonkeyError, runtimeInfo, pullModel } from 'minimonkey';
import type { AskResult } from 'minimonkey';

export async function main(): Promise<string> {
  const info = runtimeInfo();
  const pulled = await pullModel({ repo: 'example/model', signal: AbortSignal.timeout(1000) });
  const model = await MiniMonkey.load({ model: pulled.model, mmproj: pulled.mmproj });
  try {
    const chat = await model.chat();
    const reply = chat.ask([{ type: 'image', image: 'receipt.png' }, 'What is the total?'], { maxTokens: 32 });
    for await (const piece of reply) process.stdout.write(piece);
    const result: AskResult = await reply;
    return \`\${result.text} \${info.cpu.variant}\`;
  } catch (e) {
    if (e instanceof MiniMonkeyError) return e.code;
    throw e;
  } finally {
    model.dispose();
  }
}
`;

type Mode = { name: string; module: ts.ModuleKind; resolution: ts.ModuleResolutionKind; file: string };
const MODES: Mode[] = [
  { name: 'NodeNext, ESM', module: ts.ModuleKind.NodeNext, resolution: ts.ModuleResolutionKind.NodeNext, file: 'esm.mts' },
  { name: 'NodeNext, CommonJS', module: ts.ModuleKind.NodeNext, resolution: ts.ModuleResolutionKind.NodeNext, file: 'cjs.cts' },
  { name: 'Node16, ESM', module: ts.ModuleKind.Node16, resolution: ts.ModuleResolutionKind.Node16, file: 'esm.mts' },
  { name: 'Node16, CommonJS', module: ts.ModuleKind.Node16, resolution: ts.ModuleResolutionKind.Node16, file: 'cjs.cts' },
  { name: 'Bundler', module: ts.ModuleKind.ESNext, resolution: ts.ModuleResolutionKind.Bundler, file: 'bundler.ts' },
];

function compile(app: string, mode: Mode): string[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: mode.module,
    moduleResolution: mode.resolution,
    lib: ['lib.es2022.d.ts'],
    types: ['node'],
    strict: true,
    noEmit: true,
    skipLibCheck: false,
  };
  const program = ts.createProgram([path.join(app, mode.file)], options);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${path.relative(app, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

describe('the published types, compiled in a consumer project with skipLibCheck off', () => {
  const work = fs.mkdtempSync(path.join(tempDir(), 'consumer-types-'));
  const staging = path.join(work, 'staging');
  const app = path.join(work, 'app');

  beforeAll(() => {
    // The package as `npm pack` sees it, without binaries: types need none (dist/ is fresh: jest's
    // global setup compiled it).
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { files: string[] };
    fs.mkdirSync(staging, { recursive: true });
    for (const entry of [...pkg.files, 'package.json']) {
      if (fs.existsSync(path.join(root, entry)) && !entry.startsWith('prebuilds')) {
        fs.cpSync(path.join(root, entry), path.join(staging, entry), { recursive: true });
      }
    }
    const packed = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', work], staging));
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    const typesNode = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', '@types', 'node', 'package.json'), 'utf8')).version;
    npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', path.join(work, packed[0].filename), `@types/node@${typesNode}`], app);
    for (const file of new Set(MODES.map((m) => m.file))) fs.writeFileSync(path.join(app, file), CONSUMER);
  }, 10 * 60 * 1000);

  it.each(MODES.map((m) => [m.name, m] as const))('%s: no errors', (_name, mode) => {
    expect(compile(app, mode)).toEqual([]);
  });

  it('the check can fail: a wrong use of the API is reported from the packed declarations', () => {
    fs.writeFileSync(path.join(app, 'bad.mts'), `import { MiniMonkey } from 'minimonkey';\nawait MiniMonkey.load({ model: 1 });\n`);
    const errors = compile(app, { ...MODES[0], file: 'bad.mts' }).join('\n');
    expect(errors).toContain('bad.mts:2');
    expect(errors).toMatch(/mmproj|not assignable/);
  });
});
