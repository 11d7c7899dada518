// A lab backend inside the test VM: answers TCP (port 8080) and UDP (5353) with its name and logs
// every request as "proto token peer-ip:peer-port", the ground truth of who it saw.
// Usage: node backend.mjs NAME LOGFILE
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

const [name, log] = process.argv.slice(2);
const note = (proto, token, ip, port) => appendFileSync(log, `${proto} ${token} ${ip}:${port}\n`);
createServer((sock) => {
  sock.once('data', (d) => {
    note('tcp', d.toString().trim(), sock.remoteAddress, sock.remotePort);
    sock.end(`${name}\n`);
  });
  sock.on('error', () => {});
}).listen(8080, '0.0.0.0');
const udp = createSocket('udp4');
udp.on('message', (d, peer) => {
  note('udp', d.toString().trim(), peer.address, peer.port);
  udp.send(`${name}\n`, peer.port, peer.address);
});
udp.bind(5353, () => process.stdout.write('ready\n'));
