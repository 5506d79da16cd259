// Every command, explicitly: the CLI is bundled into one file, so oclif cannot discover
// commands by globbing a directory (oclif "explicit" command discovery).
import ConfigCheck from './config/check.js';
import InitramfsCompose from './initramfs/compose.js';
import InitramfsList from './initramfs/list.js';
import NetworkDetect from './network/detect.js';
import NetworkRender from './network/render.js';

export const COMMANDS = {
  'config:check': ConfigCheck,
  'initramfs:compose': InitramfsCompose,
  'initramfs:list': InitramfsList,
  'network:detect': NetworkDetect,
  'network:render': NetworkRender,
};
