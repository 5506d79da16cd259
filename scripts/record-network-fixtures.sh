#!/usr/bin/env bash
# Record real `ip -j` output for the host shapes anemos must understand, each built in
# its own network namespace (root, iproute2). Output: test/fixtures/network/SHAPE/.
# veth devices stand in for physical NICs: their "linkinfo" is removed from the
# recording so they read like a virtio/e1000 NIC (which has none). Addresses with a
# finite lifetime are what DHCP/SLAAC leave behind ("dynamic": true).
# Documentation ranges only (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32).
set -euo pipefail
out=${1:-"$(dirname "$0")/../test/fixtures/network"}
mkdir -p "$out"

shape() { # shape NAME RESOLV_CONF SETUP_COMMANDS...
  local name=$1 resolv=$2; shift 2
  local ns="anemos-fx-$name"
  ip netns del "$ns" 2>/dev/null || true
  ip netns add "$ns"
  trap 'ip netns del "$ns" 2>/dev/null || true' RETURN
  ip -n "$ns" link set lo up
  local cmd
  for cmd in "$@"; do ip -n "$ns" $cmd; done
  sleep 2 # let DAD finish so no address is "tentative"
  mkdir -p "$out/$name"
  ip -n "$ns" -j -d addr show | python3 -c '
import json, sys
links = json.load(sys.stdin)
for l in links:
    if l.get("linkinfo", {}).get("info_kind") == "veth" and l["ifname"].startswith(("eth", "ens")):
        del l["linkinfo"]
json.dump(links, sys.stdout, indent=1)' > "$out/$name/addr.json"
  ip -n "$ns" -j route show table main | python3 -m json.tool --indent 1 > "$out/$name/route4.json"
  ip -n "$ns" -j -6 route show table main | python3 -m json.tool --indent 1 > "$out/$name/route6.json"
  printf '%b' "$resolv" > "$out/$name/resolv.conf"
  echo "recorded $name"
}

# 1. Cloud VM on DHCP, with SLAAC IPv6.
shape dhcp-cloud 'nameserver 192.0.2.53\nsearch example.net\n' \
  "link add eth0 address 52:54:00:12:34:56 type veth peer name peer0" \
  "link set eth0 up" "link set peer0 up" \
  "addr add 192.0.2.15/24 dev eth0 valid_lft 86400 preferred_lft 86400" \
  "route add default via 192.0.2.1 dev eth0 proto dhcp metric 100" \
  "addr add 2001:db8:1::5054:ff:fe12:3456/64 dev eth0 valid_lft 86400 preferred_lft 14400" \
  "-6 route add default via fe80::1 dev eth0 proto ra metric 1024"

# 2. Static /32 with an on-link gateway outside the subnet (Hetzner style), static IPv6.
shape static-onlink 'nameserver 185.12.64.1\nnameserver 2a01:4ff:ff00::add:1\n' \
  "link add eth0 address 96:00:01:aa:bb:cc type veth peer name peer0" \
  "link set eth0 up" "link set peer0 up" \
  "addr add 203.0.113.10/32 dev eth0" \
  "route add 172.31.1.1 dev eth0 scope link proto static" \
  "route add default via 172.31.1.1 dev eth0 onlink proto static" \
  "addr add 2001:db8:2::2/64 dev eth0" \
  "-6 route add default via fe80::1 dev eth0 proto static"

# 3. IPv6 only, static.
shape ipv6-only 'nameserver 2001:db8:3::53\n' \
  "link add ens3 address 52:54:00:00:00:03 type veth peer name peer0" \
  "link set ens3 up" "link set peer0 up" \
  "addr add 2001:db8:3::10/64 dev ens3" \
  "-6 route add default via 2001:db8:3::1 dev ens3 proto static"

# 4. Dual stack with two NICs: public + private with an extra static route.
shape dual-nic 'nameserver 198.51.100.53\nnameserver 2001:db8:4::53\nsearch corp.example\n' \
  "link add eth0 address 52:54:00:00:04:01 type veth peer name peer0" \
  "link add eth1 address 52:54:00:00:04:02 mtu 9000 type veth peer name peer1" \
  "link set eth0 up" "link set peer0 up" "link set eth1 up" "link set peer1 up" \
  "addr add 198.51.100.20/24 dev eth0" \
  "addr add 198.51.100.21/24 dev eth0" \
  "addr add 2001:db8:4::20/64 dev eth0" \
  "route add default via 198.51.100.1 dev eth0 proto static" \
  "-6 route add default via 2001:db8:4::1 dev eth0 proto static" \
  "addr add 10.10.0.5/16 dev eth1" \
  "route add 10.20.0.0/16 via 10.10.0.1 dev eth1 proto static"

# 5. A bridge carrying the uplink (Proxmox-style vmbr0): must be refused with a clear message.
# (This machine's kernel has no bonding or 8021q module; bond-uplink/ is written by hand
# in the same format and says so in its NOTE file.)
shape bridge-uplink 'nameserver 192.0.2.53\n' \
  "link add vmbr0 address 52:54:00:00:05:00 type bridge" \
  "link add eth0 address 52:54:00:00:05:01 type veth peer name peer0" \
  "link set eth0 master vmbr0" \
  "link set vmbr0 up" "link set eth0 up" "link set peer0 up" \
  "addr add 192.0.2.50/24 dev vmbr0" \
  "route add default via 192.0.2.1 dev vmbr0 proto static"

# 6. A Docker host: plain uplink, plus docker0 with an address: docker0 is skipped and reported.
shape docker-host 'nameserver 192.0.2.53\n' \
  "link add eth0 address 52:54:00:00:06:01 type veth peer name peer0" \
  "link set eth0 up" "link set peer0 up" \
  "link add docker0 address 02:42:ac:11:00:01 type bridge" "link set docker0 up" \
  "addr add 192.0.2.60/24 dev eth0" \
  "route add default via 192.0.2.1 dev eth0 proto static" \
  "addr add 172.17.0.1/16 dev docker0"
