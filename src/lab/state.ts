// The lab's state dir: what `lab up` made (namespaces, processes, config), so that `lab down`, `lab status` and other
// processes can find and remove exactly that. Every namespace and pid is written here before it exists, so an
// interrupted set-up can be undone from the file alone.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, UsageError } from '../core/errors.js';
import { writeFileAtomicSync } from '../core/atomic-file.js';
import type { LabConfig } from './config.js';

const runRoot = '/run/stickyscope';

export interface LabProcess {
  name: string;
  pid: number;
  netns: string;
}

export interface LabState {
  prefix: string;
  createdAt: string;
  config: LabConfig;
  namespaces: string[];
  processes: LabProcess[];
  /** False until set-up finished. */
  ready: boolean;
}

export function checkPrefix(prefix: string): void {
  if (!/^[a-z0-9][a-z0-9-]{0,19}$/.test(prefix)) {
    throw new UsageError(
      `--prefix must be 1-20 characters of a-z, 0-9 and '-', starting with a letter or digit; got '${prefix}'`,
    );
  }
}

export function stateDirOf(prefix: string): string {
  return join(runRoot, `lab-${prefix}`);
}

export function logDirOf(prefix: string): string {
  return join(stateDirOf(prefix), 'logs');
}

export function createStateDir(state: LabState): void {
  mkdirSync(logDirOf(state.prefix), { recursive: true, mode: 0o755 });
  saveState(state);
}

/** Written atomically: a reader never sees half a file. The pod names beside it follow each change. */
export function saveState(state: LabState): void {
  const file = join(stateDirOf(state.prefix), 'state.json');
  writeFileAtomicSync(file, JSON.stringify(state, null, 2) + '\n');
  writePodNames(state);
}

/** The file `agent --pods` reads on the lab's nodes: which pod each backend address is. */
export function podsFileOf(prefix: string): string {
  return join(stateDirOf(prefix), 'pods.json');
}

/**
 * `{"pods": {"10.1.1.2": "lab/b1", "fd00:1:1::2": "lab/b1"}}`: every endpoint's pod, named `namespace/name` as the
 * Kubernetes API's EndpointSlices name it (`--k8s`), keyed by address, as a node's agent would learn from the API.
 */
function writePodNames(state: LabState): void {
  const pods: Record<string, string> = {};
  for (const s of state.config.services) for (const e of s.endpoints) pods[e.ip] = `${s.namespace}/${e.pod}`;
  writeFileAtomicSync(podsFileOf(state.prefix), JSON.stringify({ pods }, null, 2) + '\n');
}

/** Null when there is no lab of that prefix. */
export function readState(prefix: string): LabState | null {
  const file = join(stateDirOf(prefix), 'state.json');
  if (!existsSync(file)) return null;
  const text = readFileSync(file, 'utf8');
  try {
    return JSON.parse(text) as LabState;
  } catch (err) {
    throw new InputError(
      `failed to read lab state ${file}: ${(err as Error).message}; expected the JSON 'lab up' writes`,
    );
  }
}
