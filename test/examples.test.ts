// The code users copy: every ```ts block of README.md and docs/*.md and every file in examples/ must type-check
// against the package's own declarations (`minimonkey` resolves to lib/index.ts), so an API change
// that breaks an example fails here. README blocks continue each other in prose (one block asks on
// the `chat` the first one made), so the few names they share are declared for them once.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { tempDir } from './helpers/models';

const root = path.join(__dirname, '..');

/** The markdown files whose ```ts blocks are checked: README.md and every docs/*.md. */
function markdownFiles(): string[] {
  const docs = path.join(root, 'docs');
  const inDocs = fs.existsSync(docs) ? fs.readdirSync(docs).filter((f) => f.endsWith('.md')).sort().map((f) => path.join('docs', f)) : [];
  return ['README.md', ...inDocs];
}

function tsBlocks(file: string): { line: number; code: string }[] {
  const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
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
    expect(tsBlocks('README.md').length).toBeGreaterThanOrEqual(5);
    expect(fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.ts')).length).toBeGreaterThanOrEqual(2);
  });

  it('every README block and every example type-checks against the declarations', () => {
    const dir = fs.mkdtempSync(path.join(tempDir(), 'examples-'));
    const files = [path.join(dir, 'prelude.ts')];
    fs.writeFileSync(files[0], PRELUDE);
    for (const md of markdownFiles()) {
      for (const { line, code } of tsBlocks(md)) {
        const file = path.join(dir, `${md.replace(/[/.]/g, '-')}-line-${line}.ts`);
        fs.writeFileSync(file, `${code}\nexport {};\n`); // a module: top-level await, no name clashes between blocks
        files.push(file);
      }
    }
    for (const f of fs.readdirSync(path.join(root, 'examples')).filter((n) => n.endsWith('.ts'))) {
      files.push(path.join(root, 'examples', f));
    }
    expect(typeCheck(files)).toEqual([]);
  });

  it('docs/*.md blocks are read too: a broken one there is caught', () => {
    const dir = fs.mkdtempSync(path.join(tempDir(), 'examples-docs-'));
    expect(markdownFiles()).toContain('README.md');
    const bad = path.join(dir, 'bad.md');
    fs.writeFileSync(bad, "text\n\n```ts\nimport { MiniMonkey } from 'minimonkey';\nconst n: number = MiniMonkey;\n```\n");
    const [block] = tsBlocks(path.relative(root, bad));
    expect(block.line).toBe(4);
    const file = path.join(dir, 'bad.ts');
    fs.writeFileSync(file, `${block.code}\nexport {};\n`);
    expect(typeCheck([file]).join('\n')).toContain("is not assignable to type 'number'");
  });

  it('a broken example is caught (the check can fail)', () => {
    const dir = fs.mkdtempSync(path.join(tempDir(), 'examples-bad-'));
    const file = path.join(dir, 'bad.ts');
    fs.writeFileSync(file, `import { MiniMonkey } from 'minimonkey';\nawait MiniMonkey.load({ model: 'a.gguf' });\nexport {};\n`);
    const errors = typeCheck([file]);
    expect(errors.join('\n')).toContain("Property 'mmproj' is missing");
  });
});
