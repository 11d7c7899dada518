// Checks one attach mode's run in the VM lab (scripts/vm/run.sh) against ground truth that
// does not come from the probe: the client's own log (its address, which backend answered),
// the backends' logs (the address each saw) and `conntrack -E` in the node.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FlowEvent, StickyEvent } from '../../../src/core/event.js';
import { RecordDecoder } from '../../../src/probe/decode-records.js';
import type { AttachMode } from '../../../src/probe/record-layout.js';

const BACKENDS: Record<string, string> = { be1: '10.1.1.2', be2: '10.1.2.2' };
const BACKEND_PORT: Record<string, number> = { tcp: 8080, udp: 5353 };
const MASQ_SERVICE_IP = '10.96.0.11';
const DROPPED_SERVICE = '10.96.0.12:80';

export interface ModeCheck {
  attached: boolean;
  attachMode?: AttachMode;
  attachPoints: string[];
  /** The helper's stderr lines. */
  stderr: string[];
  exitCode: number | undefined;
  /** Connections (and dropped attempts) compared with ground truth. */
  checked: number;
  failures: string[];
  /** What held but is worth saying (shown beside a pass). */
  notes: string[];
  /** Live-connection records (open, close, traffic, sweep): none without nf_conntrack_netlink. */
  liveRecords: number;
}

interface Conntrack {
  proto: string;
  orig: string;
  service: string;
  replySrc: string;
  replyDst: string;
}

/** `conntrack -E -e NEW` lines: "[NEW] tcp 6 120 SYN_SENT src=A dst=B sport=P dport=Q [UNREPLIED] src=... dst=... sport=... dport=...". */
function conntrackLines(text: string): Conntrack[] {
  const out: Conntrack[] = [];
  for (const line of text.split('\n')) {
    const proto = /\[NEW\]\s+(tcp|udp)/.exec(line)?.[1];
    const kv = [...line.matchAll(/(src|dst|sport|dport)=(\S+)/g)].map((m) => m[2]!);
    if (!proto || kv.length < 8) continue;
    const [s, d, sp, dp, rs, rd, rsp, rdp] = kv;
    out.push({ proto, orig: `${s}:${sp}`, service: `${d}:${dp}`, replySrc: `${rs}:${rsp}`, replyDst: `${rd}:${rdp}` });
  }
  return out;
}

function read(dir: string, name: string): string {
  const p = join(dir, name);
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
}

export function checkMode(dir: string, mode: string): ModeCheck {
  const decoder = new RecordDecoder('vm');
  const events: StickyEvent[] = decoder.decode(readFileSync(join(dir, `${mode}.records`)));
  const rc = read(dir, `${mode}.rc`).trim();
  const result: ModeCheck = {
    attached: decoder.started,
    attachMode: decoder.attachMode,
    attachPoints: [...decoder.attachPoints],
    stderr: read(dir, `${mode}.err`).split('\n').filter(Boolean),
    exitCode: rc === '' ? undefined : Number(rc),
    checked: 0,
    failures: [],
    notes: [],
    liveRecords: 0,
  };
  if (!decoder.started) return result;
  const fail = (m: string) => result.failures.push(m);
  if (decoder.pending) fail(`${decoder.pending} bytes of an incomplete record at the end`);
  const flows = events.filter((e): e is FlowEvent => e.type === 'dnat' || e.type === 'snat' || e.type === 'insert');
  const lost = events.reduce((n, e) => n + (e.type === 'lost' ? e.count : 0), 0);
  if (lost) fail(`${lost} records lost`);
  const seen = new Map<string, string>();
  for (const be of Object.keys(BACKENDS)) {
    for (const line of read(dir, `${be}.log`).split('\n')) {
      const [, token, peer] = line.split(' ');
      if (token?.startsWith(`${mode}-`)) seen.set(token, `${be} ${peer}`);
    }
  }
  result.liveRecords = events.filter((e) => ['open', 'close', 'traffic', 'sweep'].includes(e.type)).length;
  // No conntrack -E beside a run without nf_conntrack_netlink: the backends' logs are its only ground truth.
  const withConntrack = existsSync(join(dir, `${mode}.conntrack`));
  const tracked = conntrackLines(read(dir, `${mode}.conntrack`));
  const clientLines = read(dir, `${mode}.client`).split('\n').filter(Boolean);
  let connections = 0;
  for (const line of clientLines) {
    const [proto, service, token, local, answer] = line.split(' ');
    if (!proto || !service || !token || !local || !answer) {
      fail(`client printed '${line}'`);
      continue;
    }
    result.checked++;
    if (service === DROPPED_SERVICE) {
      if (answer !== '-') fail(`${token}: a connection through the dropped Service was answered by ${answer}`);
      continue;
    }
    const where = `${token} (${local} -> ${service})`;
    const backendIp = BACKENDS[answer];
    if (!backendIp) {
      fail(`${where}: no answer (${answer})`);
      continue;
    }
    connections++;
    const backend = `${backendIp}:${BACKEND_PORT[proto]}`;
    const mine = flows.filter((e) => e.proto === proto && e.client === local && e.service === service);
    const dnat = mine.filter((e) => e.type === 'dnat');
    const snat = mine.filter((e) => e.type === 'snat') as (FlowEvent & { snat: string })[];
    const insert = mine.filter((e) => e.type === 'insert');
    const beSaw = seen.get(token);
    const ct = tracked.filter((c) => c.proto === proto && c.orig === local && c.service === service);
    const masq = service.startsWith(`${MASQ_SERVICE_IP}:`);
    const hook = token.startsWith(`${mode}-local-`) ? 'output' : 'prerouting';
    if (dnat.length !== 1) fail(`${where}: ${dnat.length} dnat records, expected 1`);
    else {
      if (dnat[0]!.backend !== backend)
        fail(`${where}: dnat says backend ${dnat[0]!.backend}, ${answer} (${backend}) answered`);
      if (dnat[0]!.hook !== hook) fail(`${where}: dnat at hook ${dnat[0]!.hook}, expected ${hook}`);
    }
    if (insert.length !== 1) fail(`${where}: ${insert.length} insert records, expected 1`);
    else if (dnat[0] && insert[0]!.ctId !== dnat[0].ctId)
      fail(`${where}: insert and dnat carry different conntrack ids`);
    if (beSaw === undefined || !beSaw.startsWith(`${answer} `)) fail(`${where}: ${answer}'s log has no line for it`);
    const peer = beSaw?.split(' ')[1];
    if (masq) {
      if (snat.length !== 1) fail(`${where}: ${snat.length} snat records on a masqueraded Service, expected 1`);
      else if (snat[0]!.snat !== peer) fail(`${where}: snat says the backend sees ${snat[0]!.snat}, it saw ${peer}`);
    } else {
      if (snat.length !== 0) fail(`${where}: ${snat.length} snat records without masquerade`);
      if (peer !== undefined && peer !== local) fail(`${where}: the backend saw ${peer}, not the client`);
    }
    // One NEW entry per connection. CI has seen extra NEW entries for the same tuple under emulation, each time beside
    // one dnat and one insert record that agree with the backend: once to the same backend (an entry made again for a
    // late packet), once on 6.1 to the other backend. Every connection the client made is accounted for by the probe
    // and the backends' logs above; an extra entry no client connection explains is said beside the pass. No entry
    // that agrees with the backend, or a masqueraded reply to another address, fails.
    if (!withConntrack) continue;
    const agree = ct.filter((c) => c.replySrc === backend);
    if (agree.length === 0)
      fail(
        `${where}: conntrack -E shows no NEW entry replied from ${backend} (${ct.map((c) => c.replySrc).join(', ') || 'none'})`,
      );
    for (const c of agree) {
      if (masq && snat[0] && c.replyDst !== snat[0].snat)
        fail(`${where}: conntrack's reply goes to ${c.replyDst}, snat says ${snat[0].snat}`);
    }
    if (ct.length > 1)
      result.notes.push(
        `${where}: ${ct.length} NEW entries for one connection, replied from ${ct.map((c) => c.replySrc).join(', ')}`,
      );
  }
  const dnats = flows.filter((e) => e.type === 'dnat').length;
  if (dnats !== connections) fail(`${dnats} dnat records in all for ${connections} answered connections`);
  const dropped = flows.filter((e) => e.service === DROPPED_SERVICE).length;
  if (dropped) fail(`${dropped} records for connections dropped before confirmation`);
  if (tracked.some((c) => c.service === DROPPED_SERVICE))
    fail('conntrack -E shows an entry through the dropped Service');
  if (clientLines.length === 0) fail('the client printed nothing');
  return result;
}
