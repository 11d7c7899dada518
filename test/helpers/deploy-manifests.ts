// deploy/*.yaml loaded and checked offline, shared by the manifest tests: schema errors against
// @kubernetes/client-node's generated models, required fields, and look-ups of one object by kind and name.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { loadAll } from 'js-yaml';
// The models alone: the package's index also loads its HTTP stack, which is not needed here.
import * as k8s from '@kubernetes/client-node/dist/gen/models/all.js';

export const DEPLOY = new URL('../../../deploy/', import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, walked by path; its shape is what these tests check
export type Doc = Record<string, any>;

interface Attr {
  baseName: string;
  type: string;
}
const models = k8s as unknown as Record<string, { getAttributeTypeMap?: () => Attr[] } | undefined>;

/** Errors of `value` against the generated model `type` (its attributeTypeMap), with their paths. */
export function schemaErrors(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined) return [];
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr)
    return Array.isArray(value)
      ? value.flatMap((v, i) => schemaErrors(v, arr[1]!, `${path}[${i}]`))
      : [`${path}: expected a list, got ${typeof value}`];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected a map, got ${typeof value}`];
    return Object.entries(value).flatMap(([k, v]) => schemaErrors(v, map[1]!, `${path}.${k}`));
  }
  switch (type) {
    case 'string':
      return typeof value === 'string' ? [] : [`${path}: expected a string, got ${JSON.stringify(value)}`];
    case 'number':
      return typeof value === 'number' ? [] : [`${path}: expected a number, got ${JSON.stringify(value)}`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path}: expected a boolean, got ${JSON.stringify(value)}`];
    case 'IntOrString':
      return typeof value === 'number' || typeof value === 'string' ? [] : [`${path}: expected an int or a string`];
    case 'Date':
      return typeof value === 'string' ? [] : [`${path}: expected a timestamp`];
    case 'any':
      return [];
  }
  const attrs = models[type]?.getAttributeTypeMap?.();
  if (!attrs) return [`${path}: no model ${type} in the client's schema`];
  if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected a ${type} object`];
  const byName = new Map(attrs.map((a) => [a.baseName, a.type]));
  return Object.entries(value).flatMap(([k, v]) =>
    byName.has(k) ? schemaErrors(v, byName.get(k)!, `${path}.${k}`) : [`${path}.${k}: unknown field of ${type}`],
  );
}

/** The model for apiVersion/kind, named as the generator names them (apps/v1 DaemonSet -> V1DaemonSet). */
export const modelOf = (doc: Doc) => {
  const version = String(doc.apiVersion).split('/').at(-1)!;
  return `${version[0]!.toUpperCase()}${version.slice(1)}${doc.kind}`;
};

// Required fields are not in the generated models, so a short list per kind covers them.
const REQUIRED: Record<string, string[]> = {
  '*': ['apiVersion', 'kind', 'metadata.name'],
  Deployment: [
    'metadata.namespace',
    'spec.selector.matchLabels',
    'spec.template.metadata.labels',
    'spec.template.spec.containers',
  ],
  DaemonSet: [
    'metadata.namespace',
    'spec.selector.matchLabels',
    'spec.template.metadata.labels',
    'spec.template.spec.containers',
  ],
  Service: ['metadata.namespace', 'spec.ports', 'spec.selector'],
  ServiceAccount: ['metadata.namespace'],
  NetworkPolicy: ['metadata.namespace', 'spec.podSelector'],
  Role: ['metadata.namespace', 'rules'],
  RoleBinding: ['metadata.namespace', 'roleRef.apiGroup', 'roleRef.kind', 'roleRef.name', 'subjects'],
  ClusterRole: ['rules'],
  ClusterRoleBinding: ['roleRef.apiGroup', 'roleRef.kind', 'roleRef.name', 'subjects'],
  Namespace: [],
};

const get = (o: Doc, path: string) =>
  path.split('.').reduce((v, k) => (v === undefined || v === null ? undefined : v[k]), o);

export function requiredErrors(doc: Doc, where: string): string[] {
  const kind = String(doc.kind);
  if (!(kind in REQUIRED)) return [`${where}: kind ${kind} has no required-field list here; add one`];
  const errs = [...REQUIRED['*']!, ...REQUIRED[kind]!]
    .filter((p) => get(doc, p) === undefined)
    .map((p) => `${where}: missing ${p}`);
  for (const [i, c] of (get(doc, 'spec.template.spec.containers') ?? []).entries()) {
    for (const f of ['name', 'image']) if (!c[f]) errs.push(`${where}: containers[${i}] missing ${f}`);
    for (const p of c.ports ?? [])
      if (p.containerPort === undefined) errs.push(`${where}: containers[${i}] port without containerPort`);
  }
  for (const [i, r] of (doc.rules ?? []).entries()) if (!r.verbs) errs.push(`${where}: rules[${i}] missing verbs`);
  for (const [i, s] of (doc.subjects ?? []).entries())
    if (!s.kind || !s.name) errs.push(`${where}: subjects[${i}] missing kind or name`);
  for (const [i, p] of (get(doc, 'spec.ports') ?? []).entries())
    if (doc.kind === 'Service' && p.port === undefined) errs.push(`${where}: ports[${i}] missing port`);
  return errs;
}

/** Optional, applied on its own: its kinds are cert-manager's, checked by their own test below. */
export const CERT_MANAGER = 'cert-manager.yaml';

export function loadDeploy(
  files = readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && f !== CERT_MANAGER),
): { file: string; doc: Doc }[] {
  return files.flatMap((file) =>
    loadAll(readFileSync(new URL(file, DEPLOY), 'utf8'))
      .filter((d) => d !== null)
      .map((doc) => ({ file, doc: doc as Doc })),
  );
}

/** Capability names as the kernel headers define them (CAP_X -> X). */
export function kernelCapabilities(): Set<string> {
  const header = '/usr/include/linux/capability.h';
  const text = readFileSync(header, 'utf8');
  return new Set(
    [...text.matchAll(/^#define CAP_([A-Z_]+)\s+\d+\s*$/gm)].map((m) => m[1]!).filter((n) => n !== 'LAST_CAP'),
  );
}

export const docs = loadDeploy();
export const one = (kind: string, name?: string) => {
  const found = docs.filter((d) => d.doc.kind === kind && (!name || d.doc.metadata?.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` ${name}` : ''}`);
  return found[0]!.doc;
};

export const mountedFiles = (c: Doc, pod: Doc, flag: string) => {
  const path = c.args[c.args.indexOf(flag) + 1] as string;
  const mount = c.volumeMounts.find((m: Doc) => path === m.mountPath || path.startsWith(m.mountPath + '/'));
  assert.ok(mount, `${flag} ${path} is on a mounted volume`);
  return { path, mount, volume: pod.volumes.find((v: Doc) => v.name === mount.name) };
};
