// kube-proxy's chain names: a prefix and the first 16 base32 characters of the SHA-256 of the service port name, the
// lower-case protocol and (for KUBE-SEP) the endpoint. Reproducing the hash lets the lab's dumps carry the same names a
// real node would for the same Service.
import { createHash } from 'node:crypto';

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = ((value << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

function hash16(text: string): string {
  return base32(createHash('sha256').update(text).digest()).slice(0, 16);
}

/** `prefix` is KUBE-SVC, KUBE-EXT, KUBE-SVL, KUBE-XLB or KUBE-FW: all share the hash. */
export function serviceChain(prefix: string, portName: string, proto: string): string {
  return `${prefix}-${hash16(portName + proto.toLowerCase())}`;
}

export function endpointChain(portName: string, proto: string, endpoint: string): string {
  return `KUBE-SEP-${hash16(portName + proto.toLowerCase() + endpoint)}`;
}

/**
 * nftables mode's name base: the first 8 base32 characters of the SHA-256 of `rest`, a dash, then `rest` itself
 * ("ns/name/proto/port", plus "__ip/port" for an endpoint). Chains and sets put "service-", "external-",
 * "endpoint-" or "affinity-" in front.
 */
export function nftNameBase(rest: string): string {
  return `${base32(createHash('sha256').update(rest).digest()).slice(0, 8)}-${rest}`;
}
