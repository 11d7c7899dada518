// --agent HOST:PORT: one parser (src/cli/agent-address.ts) for tui, record, report and serve. Port 99999 used to pass
// record's, report's and serve's /^.+:\d+$/ and failed later, deep in the gRPC client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAgentAddresses } from '../../src/cli/agent-address.js';
import { UsageError } from '../../src/core/errors.js';
import { runCli } from '../helpers/cli.js';

test('agent addresses: IPv4, bracketed IPv6 and host names with a port from 1 to 65535', () => {
  const good = ['127.0.0.1:7390', '[::1]:7390', '[fd00:96::10]:1', 'agent-0.stickyscope.svc:65535', 'localhost:80'];
  assert.deepEqual(parseAgentAddresses(good), good);
  assert.deepEqual(parseAgentAddresses([]), []);
});

test('agent addresses refused with what was wrong', () => {
  const bad: [string, RegExp][] = [
    ['127.0.0.1:0', /port 0 is outside 1-65535/],
    ['127.0.0.1:65536', /port 65536 is outside 1-65535/],
    ['127.0.0.1:99999', /port 99999 is outside 1-65535/],
    ['127.0.0.1:123456', /port '123456' is not a number/],
    ['', /no :PORT/],
    ['127.0.0.1', /no :PORT/],
    [':7390', /no host before :PORT/],
    ['1.2.3.4:', /port '' is not a number/],
    ['1.2.3.4:80x', /port '80x' is not a number/],
    ['bad host:80', /'bad host' is not an IPv4 address or host name/],
    ['-bad:80', /'-bad' is not an IPv4 address or host name/],
    ['[zz::1]:80', /'\[zz::1\]' is not a bracketed IPv6 address/],
    ['fd00::1:80', /an IPv6 address goes in brackets: \[fd00::1\]:80/],
    ['[::1:80', /unbalanced brackets/],
  ];
  for (const [text, why] of bad) {
    assert.throws(
      () => parseAgentAddresses(['127.0.0.1:7390', text]),
      (err: Error) => {
        assert.ok(err instanceof UsageError, text);
        assert.match(err.message, /^--agent expects HOST:PORT with a port from 1 to 65535/);
        assert.ok(err.message.includes(`got '${text}'`), err.message);
        assert.match(err.message, why);
        return true;
      },
    );
  }
});

test('every command that takes --agent refuses port 99999 in one usage line', async () => {
  for (const args of [
    ['tui', '--agent', '127.0.0.1:99999'],
    ['record', '--agent', '127.0.0.1:99999', '-w', '/nonexistent/x.trace'],
    ['report', '--agent', '127.0.0.1:99999', '--duration', '1s'],
    ['serve', '--agent', '127.0.0.1:99999'],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    assert.match(
      r.stderr,
      /--agent expects HOST:PORT with a port from 1 to 65535.*got '127\.0\.0\.1:99999' \(port 99999/,
    );
    assert.equal(
      r.stderr.trim().split('\n').length <= 2,
      true,
      `${args[0]}: one line (and the usage hint): ${r.stderr}`,
    );
  }
});
