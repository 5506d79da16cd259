// Entry of the bundled CLI (dist/anemos.cjs): runs oclif with the package.json baked in,
// so the single file works with no node_modules and no package.json beside it.

import {flush, handle, run} from '@oclif/core';
import pkg from '../package.json' with {type: 'json'};
import {COMMANDS} from './commands/index.js';

export {COMMANDS};

const pjson = {
  name: pkg.name,
  version: pkg.version,
  description: pkg.description,
  oclif: {
    bin: 'anemos',
    dirname: 'anemos',
    topicSeparator: ' ',
    // The bundle itself exports COMMANDS; oclif requires it back from its own path.
    commands: {strategy: 'explicit', target: './anemos.cjs', identifier: 'COMMANDS'},
    topics: {
      config: {description: 'Check the deploy configuration.'},
      initramfs: {description: 'Build, compose and inspect initramfs images.'},
      network: {description: 'Capture the host network and render it for a new system.'},
      payload: {description: 'Pack and check payloads.'},
    },
  },
};

export function main(argv: string[], root: string): Promise<void> {
  return run(argv, {root, pjson: pjson as never, isRoot: true})
    .then(() => flush())
    .catch((err) => handle(err));
}
