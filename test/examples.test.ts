// The code users copy: every ```ts block of README.md and every file in examples/ must type-check
// against the package's own declarations (`minimonkey` resolves to lib/index.ts), so an API change
// that breaks an example fails here. README blocks continue each other in prose (one block asks on
// the `chat` the first one made), so the few names they share are declared for them once.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { tempDir } from './helpers/models';

const root = path.join(__dirname, '..');

function readmeBlocks(): { line: number; code: string }[] {
  const lines = fs.readFileSync(path.join(root, 'README.md'), 'utf8').split('\n');
  const blocks: { line: number; code: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```ts') continue;
    const start = i + 1;
    while (++i < lines.length && lines[i].trim() !== '```');
    blocks.push({ line: start + 1, code: lines.slice(start, i).join('\n') });
  }
  return blocks;
}

const PRELUDE = `import type { ChatSession } from 'minimonkey';
declare global {
  const chat: ChatSession;      // made by the first README example
  const tiles: Float32Array;    // a tile batch, as the vision tower section describes it
  const count: number;
}
export {};
`;

function typeCheck(files: string[]): string[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    types: ['node'],
    typeRoots: [path.join(root, 'node_modules', '@types')],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    esModuleInterop: true,
    paths: { minimonkey: [path.join(root, 'lib', 'index.ts')] },
  };
  const program = ts.createProgram(files, options);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

describe('examples', () => {
  it('README.md has TypeScript examples, and examples/ has programs', () => {
    expect(readmeBlocks().length).toBeGreaterThanOrEqual(5);
    expect(fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.ts')).length).toBeGreaterThanOrEqual(2);
  });

  it('every README block and every example type-checks against the declarations', () => {
    const dir = fs.mkdtempSync(path.join(tempDir(), 'examples-'));
    const files = [path.join(dir, 'prelude.ts')];
    fs.writeFileSync(files[0], PRELUDE);
    for (const { line, code } of readmeBlocks()) {
      const file = path.join(dir, `readme-line-${line}.ts`);
      fs.writeFileSync(file, `${code}\nexport {};\n`); // a module: top-level await, no name clashes between blocks
      files.push(file);
    }
    for (const f of fs.readdirSync(path.join(root, 'examples')).filter((n) => n.endsWith('.ts'))) {
      files.push(path.join(root, 'examples', f));
    }
    expect(typeCheck(files)).toEqual([]);
  });

  it('a broken example is caught (the check can fail)', () => {
    const dir = fs.mkdtempSync(path.join(tempDir(), 'examples-bad-'));
    const file = path.join(dir, 'bad.ts');
    fs.writeFileSync(file, `import { MiniMonkey } from 'minimonkey';\nawait MiniMonkey.load({ model: 'a.gguf' });\nexport {};\n`);
    const errors = typeCheck([file]);
    expect(errors.join('\n')).toContain("Property 'mmproj' is missing");
  });
});
