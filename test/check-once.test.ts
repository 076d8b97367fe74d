// Check once: each public entry settles its options into a `Settled*` object (ranges from LIMITS,
// defaults from DEFAULTS), and a function handed one does not check again. Read with TypeScript's
// own parser: every function or method of lib/ with a parameter whose type names a `Settled*`
// type must call none of the checkers, directly in its own body.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const lib = path.join(__dirname, '..', 'lib');

/** What checks or settles an option; none of these belongs below the edge. */
const CHECKERS = new Set([
  'checkInt', 'checkThreads', 'checkDevice', 'checkSampling', 'scmSettings', 'checkSignal', 'checkCallback', 'pageCacheFrom', 'constraintGrammar',
  'settleAsk', 'settleContent', 'settleLoad', 'settleChat', 'settleExtract', 'settleTextModelLoad', 'resolveModelFiles',
]);

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

type Fn = ts.FunctionDeclaration | ts.MethodDeclaration | ts.ArrowFunction | ts.FunctionExpression;

function namesSettled(type: ts.TypeNode | undefined): boolean {
  let found = false;
  const visit = (n: ts.Node): void => {
    if (ts.isTypeReferenceNode(n) && /^Settled[A-Z]/.test(n.typeName.getText())) found = true;
    ts.forEachChild(n, visit);
  };
  if (type) visit(type);
  return found;
}

/** Checker calls in `fn`'s own body (not in functions nested in it, which are judged by their own parameters). */
function checkerCalls(fn: Fn): string[] {
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if (n !== fn && (ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isArrowFunction(n) || ts.isFunctionExpression(n))) return;
    if (ts.isCallExpression(n)) {
      const callee = ts.isIdentifier(n.expression) ? n.expression.text : ts.isPropertyAccessExpression(n.expression) ? n.expression.name.text : '';
      if (CHECKERS.has(callee)) out.push(callee);
    }
    ts.forEachChild(n, visit);
  };
  if (fn.body) visit(fn.body);
  return out;
}

function settledFunctions(): { where: string; calls: string[] }[] {
  const found: { where: string; calls: string[] }[] = [];
  for (const file of sources(lib)) {
    const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const visit = (n: ts.Node): void => {
      if ((ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isArrowFunction(n) || ts.isFunctionExpression(n)) && n.parameters.some((p) => namesSettled(p.type))) {
        const name = n.name && ts.isIdentifier(n.name) ? n.name.text : '(anonymous)';
        const line = src.getLineAndCharacterOfPosition(n.getStart()).line + 1;
        found.push({ where: `${path.relative(lib, file)}:${line} ${name}`, calls: checkerCalls(n) });
      }
      ts.forEachChild(n, visit);
    };
    visit(src);
  }
  return found;
}

test('a function handed a Settled* object checks nothing again', () => {
  const fns = settledFunctions();
  // The layers below the edges: the openers of the text model, its contexts, the tower and SCM's
  // pass; the pair's loader; the sessions of both modes; one turn and its generation loop.
  const names = fns.map((f) => f.where.replace(/:\d+ /, ' '));
  for (const want of [
    'llm/text-model.ts open', 'llm/text-model.ts openContext', 'vision/encoder.ts open', 'llm/scm-prepass.ts score', 'model/pairing.ts loadPair',
    'model/sessions.ts openLoneSession', 'model/sessions.ts openSequenceSession', 'model/sessions.ts openSharedContext',
    'llm/session.ts askSettled', 'llm/session.ts runTurn', 'llm/session.ts generate',
  ]) {
    expect(names).toContain(want);
  }
  expect(fns.filter((f) => f.calls.length > 0)).toEqual([]);
});

test('the checker finds a re-check where there is one', () => {
  // The same reading over a function that re-checks, so the rule above cannot pass by seeing nothing.
  const src = ts.createSourceFile('x.ts', 'function f(s: SettledAsk) { const n = checkInt("maxTokens", s.maxTokens); return () => checkSignal(s.signal); }', ts.ScriptTarget.ES2022, true);
  const fn = src.statements[0] as ts.FunctionDeclaration;
  expect(namesSettled(fn.parameters[0].type)).toBe(true);
  expect(checkerCalls(fn)).toEqual(['checkInt']);
});
