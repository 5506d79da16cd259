// DHCP requests as clients write them (firmware PXE, iPXE, an OS's DHCP client): the fixed
// header, the cookie, the options. Test-only: anemos itself writes only replies.

export const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

export function dhcpRequest(o: {mac?: string; type?: number; options?: [number, number[]][]; op?: number; xid?: number; ciaddr?: number[]; giaddr?: number[]; overloadFile?: number[]; tail?: number[]; broadcast?: boolean} = {}): Uint8Array {
  const b = new Uint8Array(236);
  b[0] = o.op ?? 1;
  b[1] = 1;
  b[2] = 6;
  new DataView(b.buffer).setUint32(4, o.xid ?? 0xdeadbeef);
  new DataView(b.buffer).setUint16(10, o.broadcast === false ? 0 : 0x8000);
  if (o.ciaddr) b.set(o.ciaddr, 12);
  if (o.giaddr) b.set(o.giaddr, 24);
  b.set((o.mac ?? '52:54:00:12:34:56').split(':').map((x) => parseInt(x, 16)), 28);
  if (o.overloadFile) b.set(o.overloadFile, 108);
  const opts = [53, 1, o.type ?? 1, ...(o.options ?? []).flatMap(([c, v]) => [c, v.length, ...v]), ...(o.tail ?? [255])];
  return Uint8Array.from([...b, 0x63, 0x82, 0x53, 0x63, ...opts]);
}
