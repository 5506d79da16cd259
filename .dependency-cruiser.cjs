// The layers of src/, held by the build (npm test runs `depcruise`). One direction only:
//   cli.ts → commands → services → adapters → core → shared
//   agent (runs on QuickJS in the deploy environment) → core → shared
// Portable code that takes its fs or Runner as a parameter is core; code that touches this
// machine (files, processes, sockets) is an adapter; a service composes them for one command.
// Tests may reach anything (they are excluded).

const layer = (name, mayUse) => ({
  name: `${name}-layer`,
  comment: `${name} may import only ${mayUse.join(', ')}`,
  severity: 'error',
  from: {path: `^src/${name}/`},
  to: {path: '^src/', pathNot: mayUse.map((l) => `^src/${l}/`)},
});

module.exports = {
  forbidden: [
    {name: 'cli-layer', comment: 'the entry point reaches commands (and core/shared)', severity: 'error', from: {path: '^src/[^/]+\\.ts$'}, to: {path: '^src/', pathNot: ['^src/(commands|core|shared)/']}},
    layer('commands', ['commands', 'services', 'core', 'shared']),
    layer('services', ['services', 'adapters', 'core', 'shared']),
    layer('adapters', ['adapters', 'core', 'shared']),
    layer('core', ['core', 'shared']),
    layer('shared', ['shared']),
    layer('agent', ['agent', 'core', 'shared']),
    {
      name: 'portable-core',
      comment: 'core, shared and the agent run on QuickJS too: no Node built-ins',
      severity: 'error',
      from: {path: '^src/(core|shared|agent)/'},
      to: {dependencyTypes: ['core']},
    },
    {
      name: 'one-process-door',
      comment: 'processes start in adapters/process.ts alone (run, stream, detach, pipe): --debug traces them there, and a missing tool is said one way',
      severity: 'error',
      from: {path: '^src/', pathNot: '^src/adapters/process\\.ts$'},
      to: {path: '^(node:)?child_process$|node_modules/execa/'},
    },
    {name: 'no-circular', comment: 'no import cycles, types included', severity: 'error', from: {}, to: {circular: true}},
    {name: 'not-to-test', comment: 'source never imports a test or a test helper', severity: 'error', from: {path: '^src/', pathNot: '\\.test\\.ts$'}, to: {path: '(\\.test\\.ts$|^test/)'}},
  ],
  options: {
    doNotFollow: {path: 'node_modules'},
    exclude: {path: '\\.test\\.ts$'},
    tsPreCompilationDeps: true,
    tsConfig: {fileName: 'tsconfig.json'},
    enhancedResolveOptions: {exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.json']},
  },
};
