// Every command, explicitly: the CLI is bundled into one file, so oclif cannot discover
// commands by globbing a directory (oclif "explicit" command discovery).
import ConfigCheck from './config/check.js';
import Deploy from './deploy.js';
import TestBoot from './test-boot.js';
import InitramfsCompose from './initramfs/compose.js';
import InitramfsList from './initramfs/list.js';
import NetworkDetect from './network/detect.js';
import NetworkRender from './network/render.js';

export const COMMANDS = {
  'config:check': ConfigCheck,
  deploy: Deploy,
  'test-boot': TestBoot,
  'initramfs:compose': InitramfsCompose,
  'initramfs:list': InitramfsList,
  'network:detect': NetworkDetect,
  'network:render': NetworkRender,
};
