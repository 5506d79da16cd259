// A DHCP client on a lab segment, run inside a namespace of the test (node dhcp-probe.cjs):
// reads {send: [{to, port, data (base64)}], waitMs, listen} on stdin, sends each datagram from
// 0.0.0.0:68 (or :listen, 67 for a relay; broadcast allowed), and prints every datagram it received within waitMs of
// the last send as JSON [{from, port, data (base64)}].
const dgram = require('node:dgram');

let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const job = JSON.parse(input);
  const got = [];
  const s = dgram.createSocket({type: 'udp4', reuseAddr: true});
  s.on('message', (data, r) => got.push({from: r.address, port: r.port, data: data.toString('base64')}));
  s.bind(job.listen ?? 68, '0.0.0.0', async () => {
    s.setBroadcast(true);
    for (const p of job.send) {
      await new Promise((resolve) => s.send(Buffer.from(p.data, 'base64'), p.port, p.to, () => resolve()));
      if (p.pauseMs) await new Promise((r) => setTimeout(r, p.pauseMs));
    }
    setTimeout(() => {
      process.stdout.write(JSON.stringify(got));
      s.close();
    }, job.waitMs);
  });
});
