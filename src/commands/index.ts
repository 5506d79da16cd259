// Every command, explicitly: the CLI is bundled into one file, so oclif cannot discover
// commands by globbing a directory (oclif "explicit" command discovery).
import ConfigCheck from './config/check.js';

export const COMMANDS = {
  'config:check': ConfigCheck,
};
