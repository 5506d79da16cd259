// Wake-on-LAN's magic packet (AMD's "Magic Packet" white paper): six bytes of 0xFF, then
// the NIC's MAC sixteen times; sent as a UDP broadcast (port 9, "discard"), which a NIC
// that is powered off but armed for it recognises in any frame.

export const WOL_PORT = 9;

export function magicPacket(mac: string): Uint8Array {
  const bytes = mac.split(':').map((x) => parseInt(x, 16));
  if (bytes.length !== 6 || bytes.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) throw new Error(`bug: ${mac} is not a MAC address`);
  const out = new Uint8Array(6 + 16 * 6).fill(0xff);
  for (let i = 0; i < 16; i++) out.set(bytes, 6 + i * 6);
  return out;
}
