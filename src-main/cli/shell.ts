/**
 * `svalab shell`: a lab driven by hand from the terminal, until the desktop bench lands. Each line is a step in
 * YAML flow form (`bind: { process: p1, device: accel }`) or a command (`help`).
 */
import { createInterface } from 'node:readline';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_SOC } from '../../shared/default-soc.js';
import { INVARIANTS } from '../../shared/results.js';
import { SocConfig } from '../../shared/soc-config.js';
import { OP_NAMES, parseStep, type PolicyName } from '../../shared/steps.js';
import { Lab } from '../lab/lab.js';
import { describeResult, loadScenarioFile, opSummary, ScenarioInputError } from '../lab/scenario.js';
import { formatTrace } from '../lab/trace-format.js';
import { lookup } from '../lab/view.js';
import type { Io } from './main.js';

const HELP = `Steps (YAML flow form), e.g.
  bind: { process: p1, device: accel }        unbind: { process: p1, device: accel }
  fork: { process: p1, child: p2 }            exec: { process: p1 }      exit: { process: p1 }
  alloc_global_pasid: { device: dsa0, as: k9 }    free_global_pasid: { name: k9 }
  attach_rid: { device: accel, domain: identity } open_wq: { process: p1, device: dsa0, wq: wq1 }
  enqcmd: { process: p1, device: dsa0, wq: wq0 }
Operations: ${OP_NAMES.join(', ')}
Commands: state [dotted.path]   trace   findings   undo   reset   help   quit
`;

export async function runShell(opts: { policy: PolicyName; file?: string }, io: Io): Promise<number> {
  let lab: Lab;
  try {
    if (opts.file) {
      const s = loadScenarioFile(opts.file);
      lab = new Lab(s.soc, opts.policy);
      for (const st of s.steps) lab.apply(st.op);
    } else {
      lab = new Lab(SocConfig.parse(DEFAULT_SOC), opts.policy);
    }
  } catch (e) {
    if (e instanceof ScenarioInputError) {
      io.err(`invalid: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const devs = [...lab.kernel.devices.values()].map((d) => `${d.name} (${d.kind}, max_pasids ${d.maxPasids})`).join(', ');
  io.out(`SVA Lab shell, policy ${opts.policy}. Devices: ${devs}.\n`);
  if (lab.bootFindings.length) for (const f of lab.bootFindings) io.out(`  at boot: ${f.invariant}: ${f.message}\n`);
  const kp = Object.entries(lab.view().kernel_pasids as Record<string, { pasid: number }>);
  if (kp.length) io.out(`Kernel PASIDs taken at probe: ${kp.map(([n, v]) => `${n}=${v.pasid}`).join(', ')}.\n`);
  if (!opts.file) io.out(`The seed's failure is one step away: bind: { process: app, device: accel }\n`);
  io.out(`Type help for the steps.\n`);

  const rl = createInterface({ input: process.stdin, terminal: process.stdin.isTTY === true });
  const prompt = (): void => {
    if (process.stdin.isTTY) io.out(`[${lab.records.length}] svalab> `);
  };
  prompt();
  for await (const raw of rl) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) {
      prompt();
      continue;
    }
    const [cmd, arg] = line.split(/\s+/, 2);
    if (cmd === 'quit' || cmd === 'exit' && !line.includes(':')) break;
    if (cmd === 'help') io.out(HELP);
    else if (cmd === 'state') io.out(JSON.stringify(arg ? lookup(lab.view(), arg) : lab.view(), null, 2) + '\n');
    else if (cmd === 'findings') {
      const fs = lab.findings();
      io.out(fs.length ? fs.map((f) => `step ${f.step + 1}: ${f.invariant}: ${f.message}`).join('\n') + '\n' : 'no invariant violations\n');
    } else if (cmd === 'trace') {
      const last = lab.records.at(-1);
      io.out(last ? formatTrace(lab.traceOf(last)) + '\n' : 'no step yet\n');
    } else if (cmd === 'undo') io.out(lab.undo() ? `undone; ${lab.records.length} step(s) remain\n` : 'nothing to undo\n');
    else if (cmd === 'reset') {
      lab.reset();
      io.out('reset\n');
    } else {
      let doc: unknown;
      try {
        doc = parseYaml(line.startsWith('{') ? line : `{ ${line} }`);
      } catch (e) {
        io.out(`not a step: ${(e as Error).message.split('\n')[0]}\n`);
        prompt();
        continue;
      }
      const r = parseStep(doc, lab.records.length);
      if ('problems' in r) io.out(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n') + '\n');
      else {
        const rec = lab.apply(r.step.op);
        io.out(`${opSummary(rec.op)} -> ${describeResult(rec.result)}${rec.result.why ? `: ${rec.result.why}` : ''}\n`);
        for (const f of rec.findings) io.out(`  VIOLATION ${f.invariant}: ${f.message}\n    (${INVARIANTS[f.invariant]})\n`);
      }
    }
    prompt();
  }
  return 0;
}
