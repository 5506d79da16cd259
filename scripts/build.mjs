// Bundle the CLI into dist/anemos.cjs (Node 18+, no node_modules needed) and the agent
// into dist/agent.mjs. Both are reproducible: no timestamps, no absolute paths.
import {build} from 'esbuild';
import {createHash} from 'node:crypto';
import {chmodSync, copyFileSync, readFileSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {resolve} from 'node:path';

const common = {bundle: true, platform: 'node', target: 'node18', legalComments: 'none', logLevel: 'warning', minifySyntax: true, minifyWhitespace: true};

// PGlite loads Node's built-ins with import(), which code compiled by scripts/cli-loader.cjs
// (vm.Script with a code cache) cannot do on Node 18 and 20: in its CommonJS build, each
// becomes a require of the same module, shaped like the namespace import() gives.
const builtinImports = {
  name: 'builtin-imports',
  setup(b) {
    b.onLoad({filter: /@electric-sql[\\/]pglite[\\/]dist[\\/].*\.cjs$/}, (args) => ({
      // Its own code declares a local `require` (Emscripten's): the module's is kept under another name.
      contents: 'var anemosRequire = require;\n' + readFileSync(args.path, 'utf8').replace(/\bimport\("((?:node:)?(?:fs|fs\/promises|module|stream|stream\/promises|util|zlib|path|url|crypto))"\)/g, 'Promise.resolve().then(() => { const m = anemosRequire("$1"); return {...m, default: m}; })'),
      loader: 'js',
    }));
  },
};

// PGlite's code (half a megabyte) is only for anemos serve's embedded database, whose
// WebAssembly and file system image lie beside the CLI anyway: it goes there too, as
// dist/pglite.cjs, so that no other command reads, scans or hashes it at every start.
const pgliteBeside = {
  name: 'pglite-beside',
  setup(b) {
    b.onResolve({filter: /^@electric-sql\/pglite$/}, () => ({path: './pglite.cjs', external: true}));
  },
};
await build({
  ...common,
  plugins: [builtinImports],
  entryPoints: [createRequire(import.meta.url).resolve('@electric-sql/pglite')],
  outfile: 'dist/pglite.cjs',
  format: 'cjs',
});

const cli = {
  ...common,
  // Short local names: a fifth less for Node to read and V8 to scan at every start.
  // Functions and classes keep their names (keepNames), so stack traces still read.
  minifyIdentifiers: true,
  keepNames: true,
  plugins: [builtinImports, pgliteBeside],
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/anemos.cjs',
  format: 'cjs',
  // oclif only loads typescript to read a tsconfig.json next to the CLI, which a bundle never has.
  // pg's native binding is an option we do not take: pg's pure JavaScript client is bundled.
  external: ['typescript', 'pg-native'],
  // oclif checks at load that Node satisfies its own package.json's engines; in a bundle
  // that file is not there (the check always gives up) but it still builds every semver
  // regex first, a tenth of the start-up. package.json's engines is the check that counts.
  define: {'process.env.OCLIF_DISABLE_ENGINE_WARNING': '"1"'},
  banner: {js: '#!/usr/bin/env node'},
  footer: {js: 'if (require.main === module) module.exports.main(process.argv.slice(2), __filename);'},
};
// Two passes: the first bundle loads every command class to make oclif's manifest; the
// second embeds it, so the CLI starts without evaluating any command module.
await build(cli);
const {buildManifest} = createRequire(import.meta.url)(resolve('dist/anemos.cjs'));
const manifest = await buildManifest(resolve('dist/anemos.cjs'));
await build({...cli, define: {...cli.define, ANEMOS_MANIFEST: JSON.stringify(JSON.stringify(manifest))}});
// Last, the file users run: scripts/cli-loader.cjs, then the bundle in a comment it reads
// back and compiles with a code cache (V8 skips a comment faster than it reads a string:
// the code itself would be parsed at every start). The cache key is the bundle's hash.
// Pure ASCII (non-ASCII written \uXXXX: esbuild leaves it only in strings, templates and
// regular expressions, where the escape means the same; no template's raw text is read):
// the loader reads the file as latin1.
const ascii = (text) => text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const bundle = ascii(readFileSync('dist/anemos.cjs', 'utf8').replace(/^#!.*\n/, ''));
// A comment ends at "*/": the bundle's own are written "*\0/" (it holds no NUL of its own).
if (bundle.includes('\0')) throw new Error('the bundle holds a NUL byte: it cannot travel in a comment');
const key = createHash('sha256').update(bundle).digest('hex').slice(0, 16);
writeFileSync(
  'dist/anemos.cjs',
  `#!/usr/bin/env node\n'use strict';\n${readFileSync('scripts/cli-loader.cjs', 'utf8')}\n` +
    `loadBundle(bundleSource(require, __filename), ${JSON.stringify(key)}, module, require, __filename, __dirname);\n` +
    `/*BUNDLE\n${bundle.replaceAll('*/', '*\0/')}*/`,
);
chmodSync('dist/anemos.cjs', 0o755);
// The registry's embedded database (PGlite) loads PostgreSQL's WebAssembly and its file
// system image beside the file that holds its code: dist/pglite.cjs (anemos serve).
for (const f of ['pglite.wasm', 'pglite.data', 'initdb.wasm']) copyFileSync(resolve('node_modules/@electric-sql/pglite/dist', f), resolve('dist', f));

// The agent runs in the initramfs on QuickJS (qjs --std; Debian 13's quickjs), as an ES
// module. Neutral platform: a Node built-in reached from the agent fails the build here,
// not the deploy there (src/agent/runtime.ts is all it knows of its runtime).
await build({
  ...common,
  platform: 'neutral',
  mainFields: ['module', 'main'],
  entryPoints: ['src/agent/main.ts'],
  outfile: 'dist/agent.mjs',
  format: 'esm',
  target: 'es2022',
});
