// Child process, one per size so each starts from an empty heap: the aggregator's
// bytes per active (node, service, client) pair, and its resident-set growth.
//   node memory-worker.js PAIRS
import { measurePairMemory } from './measure-memory.js';

const pairs = Number(process.argv[2]);
const rss0 = process.memoryUsage().rss;
const m = measurePairMemory(pairs);
process.stdout.write(JSON.stringify({ ...m, rssBytesPerPair: (process.memoryUsage().rss - rss0) / pairs }) + '\n');
