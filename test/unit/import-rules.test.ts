// The layering of docs/architecture.md, checked on every import of every file under src/
// (static imports, type-only ones included, re-exports and dynamic import()), read with
// a real TypeScript parser so that text in strings and comments cannot fool it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@babel/parser';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const src = join(root, 'src');

interface Import {
  /** Importing file, relative to the repository, with '/' separators. */
  from: string;
  /** Imported file (or the specifier itself for packages), same form. */
  to: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

const rel = (path: string) => relative(root, path).split(sep).join('/');

/** The source file a relative specifier names ('./x.js' is written for './x.ts' or './x.tsx'). */
function resolveSpecifier(file: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  const target = resolve(dirname(file), spec);
  const stem = target.replace(/\.(js|jsx|mjs|cjs)$/, '');
  for (const candidate of [`${stem}.ts`, `${stem}.tsx`, target, join(target, 'index.ts')]) {
    if (existsSync(candidate)) return rel(candidate);
  }
  return rel(target);
}

/** Every module specifier one file depends on. */
function specifiersOf(file: string): string[] {
  const ast = parse(readFileSync(file, 'utf8'), {
    sourceType: 'module',
    plugins: file.endsWith('.tsx') ? ['typescript', 'jsx'] : ['typescript'],
  });
  const out: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const child of node) visit(child);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const n = node as {
      type?: string;
      source?: { value?: unknown };
      callee?: { type?: string };
      arguments?: unknown[];
    };
    const fromSource =
      n.type === 'ImportDeclaration' || n.type === 'ExportNamedDeclaration' || n.type === 'ExportAllDeclaration';
    if (fromSource && typeof n.source?.value === 'string') out.push(n.source.value);
    if ((n.type === 'CallExpression' && n.callee?.type === 'Import') || n.type === 'ImportExpression') {
      const arg = (n as { source?: unknown }).source ?? n.arguments?.[0];
      const a = arg as { type?: string; value?: unknown; quasis?: { value: { cooked: string } }[] } | undefined;
      if (a?.type === 'StringLiteral' && typeof a.value === 'string') out.push(a.value);
      else if (a?.type === 'TemplateLiteral' && a.quasis?.length === 1) out.push(a.quasis[0]!.value.cooked);
      else out.push(`<computed import() in ${rel(file)}>`);
    }
    if (n.type === 'TSImportType') {
      const arg = (n as { argument?: { value?: unknown; literal?: { value?: unknown } } }).argument;
      const v = arg?.literal?.value ?? arg?.value;
      if (typeof v === 'string') out.push(v);
    }
    for (const [k, v] of Object.entries(node)) if (k !== 'loc' && k !== 'start' && k !== 'end') visit(v);
  };
  visit(ast.program);
  return out;
}

function allImports(): Import[] {
  return sourceFiles(src).flatMap((file) =>
    specifiersOf(file).map((spec) => ({ from: rel(file), to: resolveSpecifier(file, spec) })),
  );
}

const under = (path: string, folder: string) => path === folder || path.startsWith(`${folder}/`);

interface Rule {
  name: string;
  broken: (i: Import) => boolean;
}

const rules: Rule[] = [
  {
    name: 'src/core imports nothing from the rest of src',
    broken: (i) => under(i.from, 'src/core') && under(i.to, 'src') && !under(i.to, 'src/core'),
  },
  {
    name: 'src/kube-proxy imports only src/core (the lab and the agent both use it)',
    broken: (i) =>
      under(i.from, 'src/kube-proxy') &&
      under(i.to, 'src') &&
      !under(i.to, 'src/core') &&
      !under(i.to, 'src/kube-proxy'),
  },
  {
    name: 'src/lab imports none of src/report, src/aggregator, src/protocol, src/scenarios',
    broken: (i) =>
      under(i.from, 'src/lab') &&
      ['src/report', 'src/aggregator', 'src/protocol', 'src/scenarios'].some((f) => under(i.to, f)),
  },
  {
    name: 'src/metrics imports nothing from the rest of src but src/core',
    broken: (i) =>
      under(i.from, 'src/metrics') && under(i.to, 'src') && !under(i.to, 'src/metrics') && !under(i.to, 'src/core'),
  },
  {
    name: 'src/summary imports neither src/agent nor src/serve',
    broken: (i) => under(i.from, 'src/summary') && ['src/agent', 'src/serve'].some((f) => under(i.to, f)),
  },
  {
    name: 'src/aggregator and src/protocol import nothing from src/summary',
    broken: (i) => ['src/aggregator', 'src/protocol'].some((f) => under(i.from, f)) && under(i.to, 'src/summary'),
  },
  {
    name: 'nothing outside src/cli imports src/cli',
    broken: (i) => !under(i.from, 'src/cli') && under(i.to, 'src/cli'),
  },
];

/** One line per broken rule and import: "rule: file -> imported file". */
function violations(imports: readonly Import[]): string[] {
  return rules.flatMap((r) => imports.filter(r.broken).map((i) => `${r.name}: ${i.from} -> ${i.to}`));
}

test('the import reader sees static, type-only, re-exported and dynamic imports', () => {
  const imports = allImports();
  const has = (from: string, to: string) => imports.some((i) => i.from === from && i.to === to);
  assert.ok(imports.length > 300, `expected hundreds of imports under src/, read ${imports.length}`);
  assert.ok(has('src/core/event-json.ts', 'src/core/event.ts'), 'a static import');
  assert.ok(has('src/record/trace-header.ts', 'src/core/event.ts'), 'an `import type`');
  assert.ok(has('src/cli/main.ts', 'src/cli/commands/trace.ts'), 'a dynamic import()');
  assert.ok(has('src/tui/run.tsx', 'src/tui/app.tsx'), 'a .tsx file importing a .tsx file');
  const unresolved = imports.filter((i) => i.to.startsWith('src/') && !existsSync(join(root, i.to)));
  assert.deepEqual(unresolved, [], 'every relative import resolves to a source file');
});

test('the rules catch imports that break them', () => {
  const made: Import[] = [
    { from: 'src/core/event.ts', to: 'src/aggregator/state.ts' },
    { from: 'src/lab/lab.ts', to: 'src/protocol/wire.ts' },
    { from: 'src/report/html.ts', to: 'src/cli/command.ts' },
    { from: 'src/core/errors.ts', to: 'src/core/event.ts' },
    { from: 'src/cli/main.ts', to: 'src/cli/command.ts' },
    { from: 'src/lab/lab.ts', to: 'node:fs' },
    { from: 'src/kube-proxy/nft-render.ts', to: 'src/lab/config.ts' },
    { from: 'src/kube-proxy/nft-parse.ts', to: 'src/core/errors.ts' },
    { from: 'src/metrics/series.ts', to: 'src/serve/hub.ts' },
    { from: 'src/metrics/series.ts', to: 'src/core/event.ts' },
    { from: 'src/summary/producer.ts', to: 'src/agent/server.ts' },
    { from: 'src/protocol/client.ts', to: 'src/summary/consumer.ts' },
    { from: 'src/agent/metrics.ts', to: 'src/summary/producer.ts' },
  ];
  assert.deepEqual(violations(made), [
    'src/core imports nothing from the rest of src: src/core/event.ts -> src/aggregator/state.ts',
    'src/kube-proxy imports only src/core (the lab and the agent both use it): src/kube-proxy/nft-render.ts -> src/lab/config.ts',
    'src/lab imports none of src/report, src/aggregator, src/protocol, src/scenarios: src/lab/lab.ts -> src/protocol/wire.ts',
    'src/metrics imports nothing from the rest of src but src/core: src/metrics/series.ts -> src/serve/hub.ts',
    'src/summary imports neither src/agent nor src/serve: src/summary/producer.ts -> src/agent/server.ts',
    'src/aggregator and src/protocol import nothing from src/summary: src/protocol/client.ts -> src/summary/consumer.ts',
    'nothing outside src/cli imports src/cli: src/report/html.ts -> src/cli/command.ts',
  ]);
});

test('src/ keeps the layering of docs/architecture.md', () => {
  const found = violations(allImports());
  assert.equal(found.length, 0, `imports that break the layering:\n  ${found.join('\n  ')}`);
});
