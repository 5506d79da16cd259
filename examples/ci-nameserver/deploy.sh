#!/bin/sh
# Re-image the nameserver from a CI job: pack the payload, write the config with its
# sha256, deploy over SSH and follow it to a verdict. The job fails unless the new
# system answers and serves the zone. Both workflows in this directory call this script.
#
# Needs: ANEMOS (the anemos command), NS_HOST ([user@]host), NS_SSH_KEY_FILE and
# NS_KNOWN_HOSTS_FILE (files written from the CI secrets), KERNEL_URL/KERNEL_SHA256 and
# INITRAMFS_URL/INITRAMFS_SHA256 (where the deploy environment is published).
set -eu
: "${ANEMOS:=anemos}" "${NS_HOST:?}" "${NS_SSH_KEY_FILE:?}" "${NS_KNOWN_HOSTS_FILE:?}"
: "${KERNEL_URL:?}" "${KERNEL_SHA256:?}" "${INITRAMFS_URL:?}" "${INITRAMFS_SHA256:?}"
out=${CI_OUT:-out}
mkdir -p "$out"

# The payload is checked here (every problem at once) and packed reproducibly.
payload_sha=$("$ANEMOS" payload pack examples/nameserver -o "$out/nameserver.tar.gz" --json | sed -n 's/.*"sha256": *"\([0-9a-f]\{64\}\)".*/\1/p')

# The payload is a file on this runner: it is sent with the image, nothing is published.
# network: auto carries the server's own addresses (anemos network detect shows them).
cat > "$out/anemos.conf" <<CONF
kernel: {url: "$KERNEL_URL", sha256: "$KERNEL_SHA256"}
initramfs: {url: "$INITRAMFS_URL", sha256: "$INITRAMFS_SHA256"}
payload: {url: nameserver.tar.gz, sha256: "$payload_sha"}
hostname: ns1.example.org
deploy: {disk: /dev/sda, timeout: 45m}
CONF

# Exit codes (README, "Exit codes"): 0 deployed and checked; 2-8 refused, nothing changed;
# 10 failed before writing, the old system is back; 11 failed after writing, the machine
# waits in the deploy environment; 12 no verdict in time; 13 up but a check failed.
exec "$ANEMOS" deploy --host "$NS_HOST" --config "$out/anemos.conf" --yes \
  -i "$NS_SSH_KEY_FILE" --ssh-option "UserKnownHostsFile=$NS_KNOWN_HOSTS_FILE" \
  --timeout 60m --logs "$out/logs" \
  --check 'nsd-checkconf /etc/nsd/nsd.conf && rc-service nsd status'
