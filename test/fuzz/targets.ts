// Every fuzz target, by name: the decoders and parsers where input enters stickyscope.
import { cliTarget } from './cli.js';
import { catalogTarget, kubeconfigTarget } from './k8s.js';
import { iptablesTarget, nftTarget, xtRecentTarget } from './node-text.js';
import { traceFramesTarget, traceTarget } from './record.js';
import type { FuzzTarget } from './target.js';
import { batchTarget, filterTarget, infoTarget } from './wire.js';

export const targets: FuzzTarget[] = [
  batchTarget,
  filterTarget,
  infoTarget,
  traceTarget,
  traceFramesTarget,
  iptablesTarget,
  nftTarget,
  xtRecentTarget,
  kubeconfigTarget,
  catalogTarget,
  cliTarget,
];
