// Every command, explicitly: the CLI is bundled into one file, so oclif cannot discover
// commands by globbing a directory (oclif "explicit" command discovery).
//
// Each command's module is loaded when that command runs, not at start: with the
// manifest the build embeds (see cli.ts), oclif needs no command class to show help or
// the version, and `anemos deploy` never evaluates the initramfs or payload commands.
// require() (not import) is what lets esbuild keep each module lazy inside the bundle.

import type {Command} from '@oclif/core';

/* eslint-disable @typescript-eslint/no-require-imports */
const LOADERS: Record<string, () => Command.Class> = {
  completion: () => require('./completion.js').default,
  'config:check': () => require('./config/check.js').default,
  deploy: () => require('./deploy.js').default,
  'image:build': () => require('./image/build.js').default,
  'initramfs:build': () => require('./initramfs/build.js').default,
  'initramfs:compose': () => require('./initramfs/compose.js').default,
  'initramfs:list': () => require('./initramfs/list.js').default,
  inventory: () => require('./inventory.js').default,
  'live:diff': () => require('./live/diff.js').default,
  'live:remove': () => require('./live/remove.js').default,
  'machines:explain': () => require('./machines/explain.js').default,
  'machines:list': () => require('./machines/list.js').default,
  'machines:retire': () => require('./machines/retire.js').default,
  'machines:set': () => require('./machines/set.js').default,
  'machines:show': () => require('./machines/show.js').default,
  'machines:wake': () => require('./machines/wake.js').default,
  'machines:watch': () => require('./machines/watch.js').default,
  'network:detect': () => require('./network/detect.js').default,
  'network:render': () => require('./network/render.js').default,
  'payload:check': () => require('./payload/check.js').default,
  'payload:pack': () => require('./payload/pack.js').default,
  serve: () => require('./serve/index.js').default,
  'serve:media:list': () => require('./serve/media/list.js').default,
  'serve:token:create': () => require('./serve/token/create.js').default,
  'serve:token:list': () => require('./serve/token/list.js').default,
  'serve:token:revoke': () => require('./serve/token/revoke.js').default,
  status: () => require('./status.js').default,
  'test-boot': () => require('./test-boot.js').default,
  'tokens:create': () => require('./tokens/create.js').default,
  'tokens:list': () => require('./tokens/list.js').default,
  'tokens:revoke': () => require('./tokens/revoke.js').default,
};

/** The command classes by id, each loaded on first access. */
export const COMMANDS: Record<string, Command.Class> = Object.defineProperties(
  {},
  Object.fromEntries(Object.entries(LOADERS).map(([id, load]) => [id, {enumerable: true, get: load}])),
);

export const COMMAND_IDS = Object.keys(LOADERS);
