// A swarm of PXE clients, run inside a lab namespace by bench/netboot.ts (plain Node: it
// runs under `ip netns exec`). Reads {server, httpPort, clients, spreadMs, httpConcurrency,
// fileConcurrency} on stdin; prints the figures as JSON. Each client: a firmware PXE discover
// (broadcast, 67) → offer; a request to 4011 → ack; TFTP of undionly.kpxe; as iPXE, the
// script; then the kernel and the base over HTTP.
const dgram = require('node:dgram');
const http = require('node:http');

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const mac = (i) => [0x02, 0, 0, 0x5a, (i >> 8) & 0xff, i & 0xff];
const macText = (i) => mac(i).map((b) => b.toString(16).padStart(2, '0')).join(':');

function request(i, type, xid, ciaddr) {
  const b = Buffer.alloc(236);
  b[0] = 1;
  b[1] = 1;
  b[2] = 6;
  b.writeUInt32BE(xid, 4);
  b.writeUInt16BE(0x8000, 10);
  if (ciaddr) Buffer.from(ciaddr.split('.').map(Number)).copy(b, 12);
  Buffer.from(mac(i)).copy(b, 28);
  const vendor = Buffer.from('PXEClient:Arch:00000:UNDI:002001');
  return Buffer.concat([b, Buffer.from([0x63, 0x82, 0x53, 0x63, 53, 1, type, 60, vendor.length]), vendor, Buffer.from([93, 2, 0, 0, 255])]);
}
const replyType = (m) => {
  for (let i = 240; i < m.length && m[i] !== 255; i += 2 + m[i + 1]) if (m[i] === 53) return m[i + 2];
  return 0;
};

async function dhcp(job) {
  const s = dgram.createSocket({type: 'udp4', reuseAddr: true});
  await new Promise((r) => s.bind(68, '0.0.0.0', r));
  s.setBroadcast(true);
  const sent = new Map();
  const offers = [];
  const acks = [];
  s.on('message', (m, r) => {
    if (r.address !== job.server || m.length < 240 || m[0] !== 2) return;
    const xid = m.readUInt32BE(4);
    const t = sent.get(xid);
    if (!t) return;
    const type = replyType(m);
    const ms = Number(process.hrtime.bigint() - t.at) / 1e6;
    if (type === 2 && !t.offer) {
      t.offer = ms;
      offers.push(ms);
      t.at = process.hrtime.bigint();
      s.send(request(t.i, 3, xid, '10.77.0.50'), 4011, job.server);
    } else if (type === 5 && !t.ack) {
      t.ack = ms;
      acks.push(ms);
    }
  });
  for (let i = 0; i < job.clients; i++) {
    const xid = 0x10000000 + i;
    sent.set(xid, {i, at: process.hrtime.bigint()});
    s.send(request(i, 1, xid), 67, '255.255.255.255');
    await new Promise((r) => setTimeout(r, job.spreadMs / job.clients));
  }
  await new Promise((r) => setTimeout(r, 3000));
  s.close();
  return {clients: job.clients, offered: offers.length, acked: acks.length, offer_p50_ms: pct(offers, 50), offer_p99_ms: pct(offers, 99), ack_p50_ms: pct(acks, 50), ack_p99_ms: pct(acks, 99)};
}

/** One TFTP read (blksize 1468) to the end; an error answer ("busy") or silence rejects, and the caller starts again, as firmware does. */
function tftp(server, file) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    let bytes = 0;
    let next = 1;
    let timer;
    const fail = (err) => (clearTimeout(timer), s.close(), reject(err));
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(Object.assign(new Error('tftp timeout'), {retry: true})), 3000);
    };
    s.on('message', (m, r) => {
      const op = m.readUInt16BE(0);
      if (op === 6) s.send(Buffer.from([0, 4, 0, 0]), r.port, r.address);
      else if (op === 3) {
        const block = m.readUInt16BE(2);
        // A block sent again (our ACK was late or lost) is acknowledged again, counted once.
        if (block === (next & 0xffff)) {
          bytes += m.length - 4;
          next++;
        }
        const last = m.length - 4 < 1468 && block === ((next - 1) & 0xffff);
        // The last ACK must leave before the socket closes (a send is asynchronous), or the server waits for it.
        s.send(Buffer.from([0, 4, block >> 8, block & 0xff]), r.port, r.address, () => last && (s.close(), resolve(bytes)));
        if (last) return clearTimeout(timer);
      } else if (op === 5) return fail(Object.assign(new Error(m.subarray(4).toString()), {retry: true}));
      arm();
    });
    s.send(Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0blksize\x001468\0tsize\x000\0`)]), 69, server);
    arm();
  });
}

async function pool(n, concurrency, fn) {
  let next = 0;
  const results = [];
  await Promise.all(Array.from({length: concurrency}, async () => {
    while (next < n) {
      const i = next++;
      results[i] = await fn(i);
    }
  }));
  return results;
}

function get(url) {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    http.get(url, {agent: false}, (res) => {
      let bytes = 0;
      res.on('data', (d) => (bytes += d.length));
      res.on('end', () => resolve({status: res.statusCode, bytes, ms: Number(process.hrtime.bigint() - t) / 1e6}));
      res.on('error', reject);
    }).on('error', reject);
  });
}

async function main(job) {
  const out = {dhcp: await dhcp(job)};
  let t = Date.now();
  let retries = 0;
  // The clients start within spreadMs, as their firmware comes to TFTP.
  const sizes = await Promise.all(Array.from({length: job.clients}, async (_, i) => {
    await new Promise((r) => setTimeout(r, (i * job.spreadMs) / job.clients));
    for (let tries = 1; ; tries++) {
      try {
        return await tftp(job.server, 'undionly.kpxe');
      } catch (err) {
        if (!err.retry || tries >= 60) throw err;
        retries++;
        // As firmware does: a second or so, then the whole transfer again.
        await new Promise((r) => setTimeout(r, 500 + Math.random() * 1000));
      }
    }
  }));
  let s = (Date.now() - t) / 1000;
  const tftpBytes = sizes.reduce((a, b) => a + b, 0);
  out.tftp = {transfers: sizes.filter(Boolean).length, seconds: s, mib_per_s: tftpBytes / 1048576 / s, retries};
  const base = `http://${job.server}:${job.httpPort}`;
  const scripts = await pool(job.clients, job.httpConcurrency, (i) => get(`${base}/boot/ipxe?mac=${macText(i)}&firmware=bios`));
  out.script = {ok: scripts.filter((r) => r.status === 200).length, p50_ms: pct(scripts.map((r) => r.ms), 50), p99_ms: pct(scripts.map((r) => r.ms), 99)};
  t = Date.now();
  const files = await pool(job.clients, job.fileConcurrency, async () => [await get(`${base}/boot/env/vmlinuz`), await get(`${base}/boot/env/base.img`)]);
  s = (Date.now() - t) / 1000;
  const fileBytes = files.flat().reduce((a, r) => a + r.bytes, 0);
  out.files = {clients: files.filter((f) => f.every((r) => r.status === 200)).length, seconds: s, mib_per_s: fileBytes / 1048576 / s};
  process.stdout.write(JSON.stringify(out));
}

let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => main(JSON.parse(input)).catch((err) => (process.stderr.write(`${err.stack}\n`), process.exit(1))));
