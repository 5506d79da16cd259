// The plan as a person reads it before saying yes.

import {BOOT_METHODS} from './boot-methods/index.js';
import type {DeployPlan} from './deploy-plan.js';

const short = (s?: string) => (s ? `${s.slice(0, 12)}…` : 'NOT VERIFIED');

export function renderPlan(plan: DeployPlan, commands: string[]): string {
  const lines: string[] = [];
  lines.push(`anemos ${plan.mode === 'deploy' ? 'deploy' : 'test-boot'}: boot the deploy environment by ${BOOT_METHODS[plan.method].description}`);
  lines.push('', 'Artifacts:');
  for (const a of plan.artifacts) lines.push(`  ${a.name.padEnd(9)} ${a.url}  ${a.dir && !a.sha256 ? 'a directory: packed (and its sha256 taken) when the deploy starts' : `sha256 ${short(a.sha256)}`}`);
  lines.push('', 'Network carried over (by MAC):');
  for (const i of Object.values(plan.network.interfaces)) {
    const addrs = i.addresses.map((a) => `${a.address}/${a.prefix}`).join(', ') || '(none)';
    const gw = i.routes.filter((r) => r.to === 'default').map((r) => `${r.via}${r.onlink ? ' onlink' : ''}`).join(', ');
    const kind = i.bond ? ` bond ${i.bond.mode} over ${i.bond.members.map((m) => `${m.name} ${m.mac}`).join(', ')}` : i.vlan ? ` vlan ${i.vlan.id}` : '';
    lines.push(`  ${i.mac} (${i.name}${kind})${i.dhcp4 ? ' dhcp' : ''}${i.slaac ? ' slaac' : ''}: ${addrs}${gw ? `; gateway ${gw}` : ''}`);
  }
  lines.push(`  dns: ${plan.network.dns.servers.join(', ') || '(none)'}; hostname: ${plan.bootConfig.hostname}`);
  lines.push('', `Kernel command line: ${plan.cmdline}`);
  lines.push(`SSH into the deploy environment: ${plan.authorizedKeys.length} key(s); host keys: ${Object.keys(plan.hostKeys).length ? 'carried from this host' : 'new'}`);
  const live = plan.bootConfig.live;
  if (plan.live && live) {
    const persist = live.persist.length ? ' but the persist: file systems' : '';
    const written = live.every_boot ? `nothing is written but /boot (the deploy environment and the layers in /boot/anemos-live, the GRUB entry)${persist.replace(' but', ' and')}` : `no disk is written${persist}`;
    lines.push('', `Live image ${plan.live.name}, booted into RAM; ${written}:`);
    for (const l of plan.live.layers) lines.push(`  layer ${l.name.padEnd(12)} ${l.file}  sha256 ${short(l.sha256)}  ${l.size} bytes`);
    lines.push(`  writable: a ${live.tmpfs_mib} MiB tmpfs over the layers and this host's own layer (hostname, network, SSH keys), made at boot`);
    for (const p of live.persist) lines.push(`  persist: ${p.path} on the file system labelled ${p.label}${p.format ? ` (if no disk has one: made on ${p.format}, only if it is empty)` : ''}`);
    lines.push(live.every_boot ? 'Every boot runs this image again (GRUB\'s default entry); anemos-boot-os on the live system makes the next one the installed system, once.' : `A reboot returns to what the firmware boots: this host's own system.`);
  } else if (plan.mode === 'deploy') {
    lines.push(`Disk the payload may erase: ${plan.bootConfig.disk ?? '(not set: the payload chooses)'}`);
    lines.push(`Payload timeout: ${plan.bootConfig.timeout} s; network gate: ${plan.bootConfig.network_timeout} s; on failure: ${plan.bootConfig.on_failure}`);
    lines.push(`After the reboot: ${plan.keeper}`);
  }
  if (plan.firmware.length) lines.push(`Firmware: ${plan.firmware.map((f) => f.path).join(', ')}`);
  if (plan.registry) lines.push(`Registry: deployment ${plan.registry.deployment} is recorded at ${plan.registry.url} before the deploy environment is composed; it reports there with that deployment's own token`);
  lines.push(`Phases: ${plan.phases.join(' → ')}`);
  if (commands.length) lines.push('', 'Commands:', ...commands.map((c) => `  $ ${c}`));
  for (const w of plan.warnings) lines.push(`WARNING: ${w}`);
  if (plan.problems.length) {
    lines.push('', `${plan.problems.length} problem${plan.problems.length > 1 ? 's stop' : ' stops'} this ${plan.mode === 'deploy' ? 'deploy' : 'test boot'} before anything changes:`);
    for (const p of plan.problems) lines.push(`  PROBLEM [${p.code}]: ${p.message} — ${p.hint}`);
  }
  return lines.join('\n');
}
