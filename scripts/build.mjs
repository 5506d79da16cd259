// Bundle the CLI into dist/anemos.cjs (Node 18+, no node_modules needed) and the agent
// into dist/agent.mjs. Both are reproducible: no timestamps, no absolute paths.
import {build} from 'esbuild';
import {chmodSync} from 'node:fs';

const common = {bundle: true, platform: 'node', target: 'node18', legalComments: 'none', logLevel: 'warning', minifySyntax: true, minifyWhitespace: true};

await build({
  ...common,
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/anemos.cjs',
  format: 'cjs',
  // oclif only loads typescript to read a tsconfig.json next to the CLI, which a bundle never has.
  external: ['typescript'],
  banner: {js: '#!/usr/bin/env node'},
  footer: {js: 'if (require.main === module) module.exports.main(process.argv.slice(2), __filename);'},
});
chmodSync('dist/anemos.cjs', 0o755);

// The agent runs in the initramfs on the Node binary shipped there (v20), as ESM.
await build({
  ...common,
  entryPoints: ['src/agent/main.ts'],
  outfile: 'dist/agent.mjs',
  format: 'esm',
  target: 'node20',
  // Bundled CommonJS dependencies call require() for Node built-ins.
  banner: {js: "import {createRequire as __anemosCreateRequire} from 'node:module'; const require = __anemosCreateRequire(import.meta.url);"},
});
