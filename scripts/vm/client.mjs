// The lab's client inside the test VM: opens COUNT new connections (TCP) or sessions (UDP, a new
// socket each) to each target, one after another, and prints one line per attempt:
// "proto service token local-ip:local-port answer" (answer: the backend's name, or "-" when
// nothing came back in time). Usage: node client.mjs TAG COUNT TIMEOUT-MS proto:ip:port ...
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';

const [tag, count, timeout, ...targets] = process.argv.slice(2);
const TIMEOUT_MS = Number(timeout);

function tcp(ip, port, token) {
  return new Promise((resolve) => {
    const s = connect({ host: ip, port });
    let local = '-';
    let answer = '';
    const timer = setTimeout(() => s.destroy(), TIMEOUT_MS);
    s.on('connect', () => {
      local = `${s.localAddress}:${s.localPort}`;
      s.write(`${token}\n`);
    });
    s.on('data', (d) => {
      answer += d;
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve([local, answer.trim() || '-']);
    });
  });
}

function udp(ip, port, token) {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const done = (answer) => {
      clearTimeout(timer);
      const a = s.address();
      s.close();
      resolve([`${a.address === '0.0.0.0' ? '?' : a.address}:${a.port}`, answer]);
    };
    const timer = setTimeout(() => done('-'), TIMEOUT_MS);
    s.on('message', (d) => done(d.toString().trim()));
    s.connect(port, ip, () => s.send(`${token}\n`));
  });
}

for (const target of targets) {
  const [proto, ip, port] = target.split(':');
  for (let i = 0; i < Number(count); i++) {
    const token = `${tag}-${proto}-${ip}-${port}-${i}`;
    const [local, answer] = await (proto === 'tcp' ? tcp : udp)(ip, Number(port), token);
    process.stdout.write(`${proto} ${ip}:${port} ${token} ${local} ${answer}\n`);
  }
}
