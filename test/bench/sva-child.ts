/**
 * One row of bench section 2 in a process of its own: `node sva-child.js '<json>'` populates a lab, times its
 * bind+unbind pairs, and prints one JSON line: { populate, result }.
 *
 * Why a process per row: run one after another in one process, each row inherited the heap of the rows before it (the
 * dead 20-30 MB labs of the earlier policies, collected while it was being timed), so a row's figure could depend on
 * where it stood in the list. A lab in use is alone in its process; so is each row now. (An interleaved check on the
 * development VM found no consistent effect of that kind: arch-gated alone 104-138k pairs/s, after four other rows
 * 100-137k; the VM's own drift is larger. The isolation is kept because it removes the question.) The child gets
 * --expose-gc only when the bench has it (exact heap figures, at the price of forced collections).
 */
import { populate, timePairs, type PairResult, type Workload } from './sva-bench.js';
import { referenceMemNsPerLoad, referenceNsPerIter } from './harness.js';

export interface RowRequest {
  workload: Workload;
  seed: number;
  opts: Parameters<typeof timePairs>[2];
}

export interface RowReply {
  populate: { bindOk: number; secs: number; liveBonds: number; heapBytes: number };
  result: PairResult;
  /** harness.referenceNsPerIter() just before and just after the timed pairs: the machine's speed around the row. */
  refNsPerIter: [number, number];
  /** harness.referenceMemNsPerLoad() likewise: its memory latency around the row. */
  refMemNsPerLoad: [number, number];
}

function parse(text: string | undefined): RowRequest | null {
  try {
    return JSON.parse(text ?? 'null') as RowRequest | null;
  } catch {
    return null;
  }
}

const req = parse(process.argv[2]);
if (!req || typeof req !== 'object' || !req.workload || typeof req.seed !== 'number' || !req.opts) {
  console.error('usage: node sva-child.js \'{"workload": {...}, "seed": N, "opts": {...}}\' (run by bench/run.js)');
  process.exit(2);
}
const p = populate(req.workload);
const ref0 = referenceNsPerIter();
const mem0 = referenceMemNsPerLoad();
const result = timePairs(p, req.seed, req.opts);
const ref1 = referenceNsPerIter();
const mem1 = referenceMemNsPerLoad();
const reply: RowReply = { populate: { bindOk: p.bindOk, secs: p.secs, liveBonds: p.liveBonds, heapBytes: p.heapBytes }, result, refNsPerIter: [ref0, ref1], refMemNsPerLoad: [mem0, mem1] };
console.log(JSON.stringify(reply));
