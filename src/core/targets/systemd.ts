// What the systemd targets (debian, arch) share: networkd matched by MAC, services
// enabled with systemctl in a chroot.

import {shellQuote as q} from '../../shared/shell.js';

export const NETWORKD_ENABLE = `mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /usr/lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
# resolv.conf is written statically from the carried DNS servers; resolved would replace it.
rm -f "$root/etc/systemd/system/multi-user.target.wants/systemd-resolved.service" "$root/etc/systemd/system/sysinit.target.wants/systemd-resolved.service"
`;

export const systemctlEnable = (services: string[]) => `bind_system\ntrap unbind_system EXIT\n${services.map((s) => `in_root systemctl enable ${q(s)}`).join('\n')}\n`;
