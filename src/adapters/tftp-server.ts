// A read-only TFTP server of one directory (RFC 1350, options RFC 2347-2349), for the iPXE
// binaries a firmware PXE client chainloads. Each transfer gets a socket of its own (its
// TID), sends a block, waits for its ACK and sends it again after a timeout, a few times,
// then gives up. Nothing outside the directory is served: the name is checked by
// core/netboot/tftp.ts and the file's real path (links followed) must lie inside it.

import {createSocket, type RemoteInfo, type Socket} from 'node:dgram';
import {open, realpath} from 'node:fs/promises';
import {join, sep} from 'node:path';
import {ackBlock, dataPacket, DEFAULT_BLOCK, errorPacket, oackPacket, parseRequest, TFTP_ERROR, type ReadRequest} from '../core/netboot/tftp.js';

export interface TftpServerOptions {
  /** The directory served. */
  root: string;
  address: string;
  /** 69 in production; 0 for any free port (tests). */
  port: number;
  log?: (line: string) => void;
  /** Transfers at once; a request past it is answered "busy". */
  maxTransfers?: number;
  /** Wait for an ACK before sending the block again (the client's timeout option overrides it). */
  timeoutMs?: number;
  /** Sends of one block before the transfer is given up. */
  tries?: number;
  /** The largest file served (iPXE's binaries are under 1 MiB). */
  maxFileBytes?: number;
}

export interface TftpServer {
  port: number;
  /** Transfers under way. */
  active(): number;
  close(): Promise<void>;
}

export async function startTftpServer(o: TftpServerOptions): Promise<TftpServer> {
  const root = await realpath(o.root);
  const log = o.log ?? (() => undefined);
  const maxTransfers = o.maxTransfers ?? 64;
  const transfers = new Set<Socket>();
  const main = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    main.once('error', reject);
    main.bind(o.port, o.address, () => {
      main.off('error', reject);
      resolve();
    });
  });
  // A datagram that cannot be answered (a peer gone, a full buffer) is not our failure.
  main.on('error', (err) => log(`tftp: ${err.message}`));

  main.on('message', (msg, peer) => {
    const parsed = parseRequest(msg);
    if (!parsed.ok) {
      log(`tftp: ${peer.address}:${peer.port} refused: ${parsed.error}`);
      main.send(errorPacket(parsed.code, parsed.error), peer.port, peer.address);
      return;
    }
    if (transfers.size >= maxTransfers) {
      main.send(errorPacket(TFTP_ERROR.undefined, 'busy: try again'), peer.port, peer.address);
      return;
    }
    void transfer(parsed.request, peer).catch((err: Error) => log(`tftp: ${peer.address}:${peer.port} ${parsed.request.path}: ${err.message}`));
  });

  /** The file's bytes, when it is a regular file inside the root (links followed), else the error to answer. */
  async function readServed(path: string): Promise<Uint8Array | {code: number; message: string}> {
    let real: string;
    try {
      real = await realpath(join(root, path));
    } catch {
      return {code: TFTP_ERROR.notFound, message: 'file not found'};
    }
    if (!real.startsWith(root + sep)) return {code: TFTP_ERROR.accessViolation, message: 'not a file of the served directory'};
    const file = await open(real, 'r').catch(() => undefined);
    if (!file) return {code: TFTP_ERROR.notFound, message: 'file not found'};
    try {
      const st = await file.stat();
      if (!st.isFile()) return {code: TFTP_ERROR.notFound, message: 'file not found'};
      if (st.size > (o.maxFileBytes ?? 64 << 20)) return {code: TFTP_ERROR.accessViolation, message: 'too large to serve'};
      return new Uint8Array(await file.readFile());
    } finally {
      await file.close();
    }
  }

  async function transfer(req: ReadRequest, peer: RemoteInfo): Promise<void> {
    const sock = createSocket('udp4');
    transfers.add(sock);
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(0, o.address, () => {
          sock.off('error', reject);
          resolve();
        });
      });
      sock.on('error', () => undefined);
      const file = await readServed(req.path);
      if (!(file instanceof Uint8Array)) {
        log(`tftp: ${peer.address}:${peer.port} ${req.path}: ${file.message}`);
        // Sent before the socket closes (a send is asynchronous).
        await new Promise<void>((resolve) => sock.send(errorPacket(file.code, file.message), peer.port, peer.address, () => resolve()));
        return;
      }
      const size = req.accepted.blksize ?? DEFAULT_BLOCK;
      const timeoutMs = req.accepted.timeout ? req.accepted.timeout * 1000 : (o.timeoutMs ?? 2000);
      const blocks = Math.floor(file.length / size) + 1; // the last one shorter than a block, empty when the size divides
      // Options acknowledged first (block 0), then each block until its ACK comes.
      if (Object.keys(req.accepted).length && !(await exchange(sock, peer, oackPacket(req.accepted, file.length), 0, timeoutMs))) return;
      for (let n = 1; n <= blocks; n++) {
        if (!(await exchange(sock, peer, dataPacket(n, file.subarray((n - 1) * size, n * size)), n & 0xffff, timeoutMs))) return;
      }
      log(`tftp: ${peer.address}:${peer.port} ${req.path}: ${file.length} bytes sent`);
    } finally {
      transfers.delete(sock);
      closeQuietly(sock);
    }
  }

  /** Send a packet until the ACK of `block` comes back from that peer; false when it never does. */
  function exchange(sock: Socket, peer: RemoteInfo, packet: Uint8Array, block: number, timeoutMs: number): Promise<boolean> {
    const tries = o.tries ?? 5;
    return new Promise((resolve) => {
      let sent = 0;
      let timer: NodeJS.Timeout;
      const done = (ok: boolean) => {
        clearTimeout(timer);
        sock.off('message', onMessage);
        resolve(ok);
      };
      const send = () => {
        if (sent++ >= tries) return done(false);
        sock.send(packet, peer.port, peer.address);
        timer = setTimeout(send, timeoutMs);
      };
      // Only the peer's own port counts (another one is answered with an error, RFC 1350's "unknown transfer ID");
      // an ACK of an earlier block is a duplicate and is not answered (the Sorcerer's Apprentice bug).
      const onMessage = (msg: Buffer, from: RemoteInfo) => {
        if (from.address !== peer.address || from.port !== peer.port) {
          sock.send(errorPacket(TFTP_ERROR.unknownTransfer, 'unknown transfer ID'), from.port, from.address);
          return;
        }
        if (ackBlock(msg) === block) done(true);
        else if (msg.length >= 2 && msg[1] === 5) done(false); // the client gave up
      };
      sock.on('message', onMessage);
      send();
    });
  }

  const address = main.address();
  return {
    port: address.port,
    active: () => transfers.size,
    close: () =>
      new Promise((resolve) => {
        for (const s of transfers) closeQuietly(s);
        main.close(() => resolve());
      }),
  };
}

function closeQuietly(sock: Socket): void {
  try {
    sock.close();
  } catch {
    // closed already (the server closed under a transfer)
  }
}
