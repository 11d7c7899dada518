// Pod names for a node whose agent has no Kubernetes API to ask (the lab; a node run by hand): `agent --pods FILE`
// reads `{"pods": {"10.1.1.2": "lab/b1", "fd00:1:1::2": "lab/b1"}}` and names each catalog endpoint's pod as the
// API's catalog would (`namespace/name`, keyed by the endpoint "ip:port"), so the TUI, flows and reports show pods.
// The file is read again whenever it changes (checked with each rules read); a bad one keeps the names before.
import { stat } from 'node:fs/promises';
import { readSmallFile } from '../core/small-file.js';
import type { ServiceInfo } from '../core/event.js';
import { InputError } from '../core/errors.js';

/** The address part of an endpoint "ip:port" or "[v6]:port", as the file keys it. */
function hostOf(endpoint: string): string {
  const i = endpoint.lastIndexOf(':');
  const host = endpoint.slice(0, i);
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

/** `{"pods": {address: name}}`, every value a string; anything else is an InputError naming what was wrong. */
export function parsePodNames(text: string, path: string): Map<string, string> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError(`failed to read pod names from ${path}: not JSON (${(err as Error).message})`);
  }
  const pods = (doc as { pods?: unknown } | null)?.pods;
  if (typeof pods !== 'object' || pods === null || Array.isArray(pods))
    throw new InputError(`failed to read pod names from ${path}: expected {"pods": {"10.1.1.2": "ns/pod", ...}}`);
  const out = new Map<string, string>();
  for (const [address, name] of Object.entries(pods)) {
    if (typeof name !== 'string')
      throw new InputError(
        `failed to read pod names from ${path}: the pod of ${address} should be a string; got ${JSON.stringify(name)}`,
      );
    out.set(address.toLowerCase(), name);
  }
  return out;
}

/** A cluster's pods at ~40 bytes each: 64 MiB is over a million, and no FIFO or device is read. */
const MAX_PODS_FILE = 64 * 1024 * 1024;

export function readPodsFile(path: string): string {
  return readSmallFile(path, '--pods file', MAX_PODS_FILE).toString('utf8');
}

export class PodNames {
  private names = new Map<string, string>();
  private mtimeMs = NaN;

  constructor(private readonly path: string) {}

  /** Reads the file if it changed since the last read; whether the names changed. */
  async refresh(): Promise<boolean> {
    const s = await stat(this.path);
    if (s.mtimeMs === this.mtimeMs) return false;
    this.names = parsePodNames(readPodsFile(this.path), this.path);
    this.mtimeMs = s.mtimeMs;
    return true;
  }

  /** The services with `pods` for the endpoints the file names (what a catalog already names is kept). */
  name(services: ServiceInfo[]): ServiceInfo[] {
    if (this.names.size === 0) return services;
    return services.map((s) => {
      const pods: Record<string, string> = { ...s.pods };
      let found = false;
      for (const e of s.endpoints) {
        const pod = this.names.get(hostOf(e).toLowerCase());
        if (pod !== undefined && pods[e] === undefined) {
          pods[e] = pod;
          found = true;
        }
      }
      return found ? { ...s, pods } : s;
    });
  }
}
