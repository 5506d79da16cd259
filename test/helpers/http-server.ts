// A loopback HTTP server for fetch tests: serves files from a map, with optional faults.
import {createReadStream, statSync} from 'node:fs';
import {createServer, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';

export interface Route {
  /** Bytes to serve; or `file` for large artifacts streamed from disk. */
  body?: Buffer;
  file?: string;
  /** Close the connection after this many bytes (truncated download). */
  cutAfter?: number;
  /** Respond with this status instead. */
  status?: number;
  /** Ignore Range headers (server without resume support). */
  noRange?: boolean;
  /** Send the body chunked, without a Content-Length (the size is not known in advance). */
  chunked?: boolean;
}

export interface TestServer {
  url: string;
  requests: {path: string; range?: string}[];
  routes: Map<string, Route>;
  close(): Promise<void>;
}

/** host '::1': IPv6 (QEMU's user network forwards a guest's IPv6 connections to its host address to ::1). */
export async function startServer(routes: Record<string, Route> = {}, host = '127.0.0.1'): Promise<TestServer> {
  const map = new Map(Object.entries(routes));
  const requests: TestServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push({path, ...(req.headers.range ? {range: req.headers.range} : {})});
    const route = map.get(path);
    if (!route) {
      res.writeHead(404).end('not found');
      return;
    }
    if (route.status) {
      res.writeHead(route.status).end('fault');
      return;
    }
    if (route.file) {
      const size = statSync(route.file).size;
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = m && !route.noRange ? Number(m[1]) : 0;
      res.writeHead(start ? 206 : 200, {'content-length': String(size - start)});
      createReadStream(route.file, {start}).pipe(res);
      return;
    }
    let body = route.body ?? Buffer.alloc(0);
    let status = 200;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && !route.noRange) {
      const start = Number(m[1]);
      if (start >= body.byteLength) {
        res.writeHead(416).end();
        return;
      }
      body = body.subarray(start);
      status = 206;
    }
    res.writeHead(status, route.chunked ? {} : {'content-length': String(body.byteLength)});
    if (route.cutAfter !== undefined && route.cutAfter < body.byteLength) {
      const cut = route.cutAfter;
      route.cutAfter = undefined; // only the first attempt is cut
      // Cut a moment after the bytes left: destroyed at once, the client sometimes saw the
      // reset before the data and had nothing to resume (a flake of the resume test).
      res.write(body.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 200));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const {port} = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    requests,
    routes: map,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
