// Every command, explicitly: the CLI is bundled into one file, so oclif cannot discover
// commands by globbing a directory (oclif "explicit" command discovery).
import ConfigCheck from './config/check.js';
import Deploy from './deploy.js';
import InitramfsBuild from './initramfs/build.js';
import InitramfsCompose from './initramfs/compose.js';
import InitramfsList from './initramfs/list.js';
import Inventory from './inventory.js';
import NetworkDetect from './network/detect.js';
import NetworkRender from './network/render.js';
import PayloadCheck from './payload/check.js';
import PayloadPack from './payload/pack.js';
import TestBoot from './test-boot.js';

export const COMMANDS = {
  'config:check': ConfigCheck,
  deploy: Deploy,
  'initramfs:build': InitramfsBuild,
  'initramfs:compose': InitramfsCompose,
  'initramfs:list': InitramfsList,
  inventory: Inventory,
  'network:detect': NetworkDetect,
  'network:render': NetworkRender,
  'payload:check': PayloadCheck,
  'payload:pack': PayloadPack,
  'test-boot': TestBoot,
};
