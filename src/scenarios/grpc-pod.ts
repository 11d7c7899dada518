// The gRPC pods of scenario grpc-long-lived, run in lab namespaces with @grpc/grpc-js over plain HTTP/2 (as the lab's
// HTTP backends run plain HTTP/1.1). One unary method whose messages are raw bytes, so no .proto is needed.
//   server: node grpc-pod.js server NAME ADDR:PORT LOG   answers its name; logs every call's peer as a JSON line first
//   client: node grpc-pod.js client TARGET          one channel, a call every 100 ms; prints each answer's pod
import { openSync, writeSync } from 'node:fs';
import {
  credentials,
  makeGenericClientConstructor,
  Server,
  ServerCredentials,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { joinHostPort } from '../lab/ip-family.js';

const raw = (b: Buffer) => b;
const definition: ServiceDefinition = {
  hello: {
    path: '/lab.Echo/Hello',
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
};

/** grpc-js's peer "fd00:0:1::2:41234" (IPv6 unbracketed) as the lab's logs spell it: "[fd00:0:1::2]:41234". */
function peerOf(peer: string): string {
  const at = peer.lastIndexOf(':');
  return at < 0 ? peer : joinHostPort(peer.slice(0, at), peer.slice(at + 1));
}

/** The server's log lines: a BackendLogLine per call (`peer` is the client's ip:port, one per channel). */
function serve(name: string, listen: string, logFile: string): void {
  const port = listen.slice(listen.lastIndexOf(':') + 1);
  const fd = openSync(logFile, 'a');
  const server = new Server();
  server.addService(definition, {
    hello: (call: { getPeer(): string }, done: (err: null, res: Buffer) => void) => {
      const line = {
        ts: new Date().toISOString(),
        proto: 'tcp',
        backend: name,
        local: `:${port}`,
        peer: peerOf(call.getPeer()),
      };
      writeSync(fd, `${JSON.stringify(line)}\n`);
      done(null, Buffer.from(name));
    },
  });
  server.bindAsync(listen, ServerCredentials.createInsecure(), (err) => {
    if (err) {
      process.stderr.write(`grpc-pod: failed to listen on ${listen}: ${err.message}\n`);
      process.exitCode = 1;
    }
  });
}

function call(target: string): void {
  const Echo = makeGenericClientConstructor(definition, 'Echo');
  const client = new Echo(target, credentials.createInsecure());
  const hello = (
    client as unknown as Record<string, (req: Buffer, cb: (e: Error | null, r?: Buffer) => void) => void>
  ).hello!.bind(client);
  setInterval(
    () =>
      hello(Buffer.alloc(0), (err, res) => {
        process.stdout.write(err ? `error ${err.message.split('\n')[0]}\n` : `pod ${res!.toString()}\n`);
      }),
    100,
  );
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'server' && args.length === 3) serve(args[0]!, args[1]!, args[2]!);
else if (mode === 'client' && args.length === 1) call(args[0]!);
else {
  process.stderr.write('usage: grpc-pod.js server NAME ADDR:PORT LOG | client TARGET\n');
  process.exitCode = 2;
}
