// The DHCP sockets of the boot service: requests are read on 0.0.0.0:67 (broadcasts, which a
// socket bound to one address does not get) and on the server's address at 4011 (the PXE
// boot server port); answers leave from a socket bound to the server's own address, with
// broadcast allowed (a namespace or segment without a default route has no route to
// 255.255.255.255 otherwise, DESIGN.md §6). What to answer is the caller's: this only reads,
// drops what is not DHCP, and sends where RFC 2131 says (a relay, the client's address, or
// a broadcast).

import {createSocket, type Socket} from 'node:dgram';
import {magicPacket, WOL_PORT} from '../core/netboot/wol.js';
import {DHCP_CLIENT_PORT, DHCP_SERVER_PORT, encodeDhcp, parseDhcp, PXE_BOOT_SERVER_PORT, type DhcpMessage, type DhcpReply} from '../core/netboot/dhcp.js';

export interface DhcpServerOptions {
  /** This server's IPv4 address on the boot segment. */
  address: string;
  /** 67; another port for a test that sends to it directly. */
  port?: number;
  /** 4011; 0 to leave it closed. */
  pxePort?: number;
  /** The answer to a request (undefined: none); `via` says which port it came in on. */
  answer: (m: DhcpMessage, from: {address: string; port: number}, via: 'dhcp' | 'pxe') => Promise<DhcpReply | undefined>;
  log?: (line: string) => void;
  /** Requests being answered at once; more are dropped (the client sends again). */
  maxInFlight?: number;
}

export interface DhcpServer {
  /** Requests read, answers sent, datagrams dropped (not DHCP, or too many at once). */
  counts(): {requests: number; answers: number; dropped: number};
  close(): Promise<void>;
}

const bind = (s: Socket, port: number, address?: string) =>
  new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind({port, address, exclusive: false}, () => {
      s.off('error', reject);
      resolve();
    });
  });

export async function startDhcpServer(o: DhcpServerOptions): Promise<DhcpServer> {
  const port = o.port ?? DHCP_SERVER_PORT;
  const log = o.log ?? (() => undefined);
  const maxInFlight = o.maxInFlight ?? 256;
  const counts = {requests: 0, answers: 0, dropped: 0};
  let inFlight = 0;
  const listen = createSocket({type: 'udp4', reuseAddr: true});
  const send = createSocket({type: 'udp4', reuseAddr: true});
  const pxe = o.pxePort === 0 ? undefined : createSocket({type: 'udp4', reuseAddr: true});
  const sockets = [listen, send, ...(pxe ? [pxe] : [])];
  try {
    await bind(listen, port);
    await bind(send, port, o.address);
    send.setBroadcast(true);
    if (pxe) await bind(pxe, o.pxePort ?? PXE_BOOT_SERVER_PORT, o.address);
  } catch (err) {
    sockets.forEach((s) => s.close());
    const e = err as NodeJS.ErrnoException;
    throw Object.assign(new Error(`The boot service cannot listen for DHCP on ${o.address} (ports ${port} and ${o.pxePort ?? PXE_BOOT_SERVER_PORT}): ${e.code ?? e.message}.`), {code: e.code});
  }

  const onMessage = (via: 'dhcp' | 'pxe', from: Socket) => (data: Buffer, rinfo: {address: string; port: number}) => {
    const parsed = parseDhcp(data);
    if (!parsed.ok || parsed.value.op !== 'request') {
      counts.dropped++;
      return;
    }
    if (inFlight >= maxInFlight) {
      counts.dropped++;
      return;
    }
    counts.requests++;
    inFlight++;
    const m = parsed.value;
    o.answer(m, rinfo, via)
      .then((reply) => {
        if (!reply) return;
        // RFC 2131 4.1: through the relay that forwarded it; to a client that has an address; else (and a NAK always) a broadcast.
        // A request to 4011 is answered where it came from.
        const to =
          via === 'pxe' ? rinfo : m.giaddr !== '0.0.0.0' ? {address: m.giaddr, port: DHCP_SERVER_PORT} : m.ciaddr !== '0.0.0.0' && reply.type !== 'nak' ? {address: m.ciaddr, port: DHCP_CLIENT_PORT} : {address: '255.255.255.255', port: DHCP_CLIENT_PORT};
        (via === 'pxe' ? from : send).send(encodeDhcp(reply), to.port, to.address, (err) => {
          if (err) log(`boot: DHCP answer to ${m.chaddr} (${to.address}:${to.port}) not sent: ${err.message}`);
          else counts.answers++;
        });
      })
      .catch((err: unknown) => log(`boot: DHCP request from ${m.chaddr} not answered: ${(err as Error).message}`))
      .finally(() => inFlight--);
  };
  listen.on('message', onMessage('dhcp', listen));
  // A relay sends to the server's address: that arrives on the socket bound to it.
  send.on('message', onMessage('dhcp', send));
  pxe?.on('message', onMessage('pxe', pxe));
  for (const s of sockets) s.on('error', (err) => log(`boot: DHCP socket: ${err.message}`));
  return {
    counts: () => ({...counts}),
    close: () => Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined),
  };
}

/** Wake-on-LAN: each MAC's magic packet, broadcast on the boot segment from the server's address (three times: it is UDP). */
export async function sendMagicPackets(address: string, macs: string[]): Promise<number> {
  const s = createSocket({type: 'udp4'});
  try {
    await bind(s, 0, address);
    s.setBroadcast(true);
    let sent = 0;
    for (let round = 0; round < 3; round++) {
      for (const mac of macs) {
        await new Promise<void>((resolve, reject) => s.send(magicPacket(mac), WOL_PORT, '255.255.255.255', (err) => (err ? reject(err) : resolve())));
        sent++;
      }
    }
    return sent;
  } finally {
    s.close();
  }
}
