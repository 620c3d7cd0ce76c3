// Bundles a compiled service entry (dist/main.js) and every JavaScript module it imports into one ES module,
// so the service starts without resolving and reading hundreds of files: Node's module loader is most of
// a service's start-up time (docs/benchmarks.md, "Cold start").
// Usage (from an app's directory, after tsc): node ../../tools/bundle.mjs <entry> <outfile> [--external pkg]...
// [--copy file]...: --external leaves one more package to Node's resolver; --copy puts a file beside the
// bundle (worker scripts the service starts by path).
import { copyFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    external: { type: 'string', multiple: true, default: [] },
    copy: { type: 'string', multiple: true, default: [] },
  },
});
const [entry, outfile] = positionals;
if (!entry || !outfile)
  throw new Error('usage: bundle.mjs <entry> <outfile> [--external pkg]... [--copy file]...');

// Transports, adapters and plugins loaded only when asked for (a guarded `import()` or `require()`), none of
// which Regatta uses: Nest's other transports and platforms, Fastify plugins Nest's adapter offers, and
// pg's native binding. They may be missing at run time.
const OPTIONAL = [
  '@fastify/multipart',
  '@fastify/static',
  '@fastify/view',
  'pg-native',
  '@nestjs/platform-express',
  '@nestjs/websockets',
  '@nestjs/websockets/*',
  '@nestjs/microservices/microservices-module',
  'amqp-connection-manager',
  'amqplib',
  'class-transformer',
  'class-validator',
  'kafkajs',
  'mqtt',
];
// Packages that load native addons or other files from beside their own modules: they stay packages,
// resolved from the bundle's directory at run time, so the app must depend on each one it imports. Those
// imported by name (`import`, `require('x')`) are checked below; one loaded through `createRequire` (the
// SQLite driver) is not, so its app must list it by hand.
const NATIVE = [
  'onnxruntime-node',
  '@pyroscope/nodejs',
  'better-sqlite3',
  'better-sqlite3-13',
  '@electric-sql/pglite',
];

const result = await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: [...OPTIONAL, ...NATIVE, ...values.external],
  // CommonJS code inside an ES module: require() for Node's built-ins and the external packages, and the
  // module's own file and directory (some packages name them in messages and fallbacks).
  banner: {
    js: [
      "import { createRequire as __regattaRequire } from 'node:module';",
      "import { fileURLToPath as __regattaPath } from 'node:url';",
      'const require = __regattaRequire(import.meta.url);',
      'const __filename = __regattaPath(import.meta.url);',
      "const __dirname = __regattaPath(new URL('.', import.meta.url));",
    ].join('\n'),
  },
  // Nest resolves providers by class name in error messages and metadata: keep names as written.
  keepNames: true,
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});

// Every external package the bundle imports must resolve from where the bundle runs (optional ones aside).
const resolveFrom = createRequire(path.resolve(outfile));
const optional = (name) =>
  OPTIONAL.some((o) => o === name || (o.endsWith('/*') && name.startsWith(o.slice(0, -1))));
const missing = new Set();
for (const output of Object.values(result.metafile.outputs)) {
  for (const { path: name, external } of output.imports) {
    if (!external || name.startsWith('node:') || isBuiltin(name) || optional(name)) continue;
    try {
      resolveFrom.resolve(name);
    } catch {
      missing.add(name);
    }
  }
}
if (missing.size > 0) {
  throw new Error(
    `the bundle imports ${[...missing].join(', ')} at run time: add them to the app's dependencies`,
  );
}
for (const file of values.copy) copyFileSync(file, path.join(path.dirname(outfile), path.basename(file)));
