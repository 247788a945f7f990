/**
 * svalab: the headless front door. `run` executes scenario files and saved sessions as tests; `convert` turns a
 * scenario into a session and back; `shell` drives a lab by hand; `serve` opens the bench in a browser (the web
 * host); `policies` lists the PASID policies.
 *
 * Exit codes of `run`: 0 every expectation holds (a session replays as recorded); 1 one does not (a session diverges
 * under its own policy); 2 invalid input (a file, an argument). A session replayed under another policy (--policy,
 * --all-policies) prints where it diverges and still exits 0: divergence is what that replay is for.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { POLICY_NAMES, type PolicyName } from '../../shared/steps.js';
import { POLICIES } from '../sim/policies/index.js';
import { describeResult, loadScenarioFile, opSummary, runScenario, ScenarioInputError, type RunReport } from '../lab/scenario.js';
import { formatTrace } from '../lab/trace-format.js';
import { runShell } from './shell.js';
import { convertCommand, isSessionFile, printSessionReport, runSessionFile, type SessionReport } from './session-cmds.js';
import { serveCommand, type ServeOpts } from './serve.js';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** Expands directories into the scenario files they hold (sorted); files are taken as given. */
export function expandPaths(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      // reported by the loader, which names the file
    }
    if (isDir) {
      for (const f of readdirSync(p).sort()) if (/\.(ya?ml|json|svalab)$/i.test(f)) out.push(join(p, f));
    } else out.push(p);
  }
  return out;
}

interface RunOpts {
  policy?: PolicyName;
  allPolicies?: boolean;
  json?: boolean;
  quiet?: boolean;
  strict?: boolean;
  trace?: boolean;
}

export function runCommand(paths: string[], opts: RunOpts, io: Io): number {
  const files = expandPaths(paths);
  if (files.length === 0) {
    io.err('svalab run: no scenario files found\n');
    return 2;
  }
  const reports: { file: string; runs: RunReport[]; error: string | null }[] = [];
  const sessions: SessionReport[] = [];
  let invalid = false;
  let failed = false;
  for (const file of files) {
    if (isSessionFile(file)) {
      const r = runSessionFile(file, opts.allPolicies ? { policies: [...POLICY_NAMES] } : opts.policy ? { policy: opts.policy } : {});
      if (r.error) invalid = true;
      else if (r.runs.some((x) => !x.passed)) failed = true;
      sessions.push(r);
      continue;
    }
    try {
      const s = loadScenarioFile(file);
      const policies: PolicyName[] = opts.allPolicies ? [...POLICY_NAMES] : opts.policy ? [opts.policy] : s.policies;
      const runs = policies.map((p) => runScenario(s, p, opts.strict ?? false, opts.trace ?? false));
      for (const r of runs) {
        if (r.rejected) invalid = true;
        else if (!r.passed) failed = true;
      }
      reports.push({ file, runs, error: null });
    } catch (e) {
      if (!(e instanceof ScenarioInputError)) throw e;
      invalid = true;
      reports.push({ file, runs: [], error: e.message });
    }
  }
  const passedRuns = reports.reduce((n, r) => n + r.runs.filter((x) => x.passed).length, 0) + sessions.reduce((n, r) => n + r.runs.filter((x) => x.passed).length, 0);
  const failedRuns =
    reports.reduce((n, r) => n + r.runs.filter((x) => !x.passed).length + (r.error ? 1 : 0), 0) + sessions.reduce((n, r) => n + r.runs.filter((x) => !x.passed).length + (r.error ? 1 : 0), 0);
  if (opts.json) {
    io.out(JSON.stringify({ passed: passedRuns, failed: failedRuns, exit: invalid ? 2 : failed ? 1 : 0, files: reports, sessions }, null, 2) + '\n');
  } else {
    for (const r of sessions) printSessionReport(r, opts.quiet ?? false, io);
    for (const r of reports) {
      if (r.error) {
        io.err(`invalid: ${r.error}\n`);
        continue;
      }
      for (const run of r.runs) printRun(r.file, run, opts.quiet ?? false, io);
      if (opts.trace) for (const run of r.runs) printTraces(run, io);
    }
    io.out(`${passedRuns} passed, ${failedRuns} failed\n`);
  }
  return invalid ? 2 : failed ? 1 : 0;
}

/** With --trace: the kernel calls of every step that did not give what was expected. */
function printTraces(run: RunReport, io: Io): void {
  for (const st of run.steps) {
    if (!st.mismatches.length || !st.trace) continue;
    io.out(`  trace of step ${st.index + 1} [${run.policy}]:\n${formatTrace(st.trace).replace(/^/gm, '    ')}\n`);
  }
}

function printRun(file: string, run: RunReport, quiet: boolean, io: Io): void {
  if (run.rejected) {
    const st = run.steps.length;
    io.err(`invalid: ${file} [${run.policy}]: step ${run.rejected.index + 1}: ${run.rejected.message}${st ? '' : ''}\n`);
    return;
  }
  const warn = (): void => {
    for (const st of run.steps) for (const w of st.warnings) io.out(`  warning: step ${st.index + 1} (${opSummary(st.op)}): ${w}\n`);
  };
  if (run.passed) {
    if (!quiet) {
      io.out(`ok   ${file} [${run.policy}] ${run.scenario} (${run.steps.length} steps)\n`);
      warn();
    }
    return;
  }
  io.out(`FAIL ${file} [${run.policy}] ${run.scenario}\n`);
  for (const f of run.bootFindings) io.out(`  at boot: ${f.invariant}: ${f.message}\n`);
  for (const st of run.steps) {
    if (!st.mismatches.length) continue;
    io.out(`  step ${st.index + 1} (${opSummary(st.op)}): got ${describeResult(st.result)}${st.result.why ? ` (${st.result.why})` : ''}\n`);
    for (const m of st.mismatches) io.out(`    ${m}\n`);
  }
  warn();
}

export async function main(argv: string[], io: Io = stdio): Promise<number> {
  let code = 0;
  const program = new Command('svalab')
    .description('SVA Lab: Linux PASID/SSID policies over a simulated Arm SMMUv3 SoC')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  program
    .command('run')
    .description('run scenario files (YAML or JSON) and sessions (.svalab), or directories of them: check the expectations, and that every session step gives its recorded result')
    .argument('<paths...>', 'scenario files, session files or directories')
    .addOption(new Option('-p, --policy <policy>', "run under this policy instead of the file's (a session: list where it diverges from its recording)").choices([...POLICY_NAMES]))
    .option('-a, --all-policies', 'run every scenario under every policy')
    .option('--json', 'print a machine-readable report')
    .option('-q, --quiet', 'print failures only')
    .option('--strict', 'fail on invariant violations a step does not expect, under every policy (mainline always does)')
    .option('--trace', 'print the kernel calls of every step that did not give what was expected')
    .action((paths: string[], opts: RunOpts) => {
      if (opts.policy && opts.allPolicies) {
        io.err('svalab run: --policy and --all-policies exclude each other\n');
        code = 2;
        return;
      }
      code = runCommand(paths, opts, io);
    });
  program
    .command('convert')
    .description('turn a scenario (YAML/JSON) into a session, its results recorded by running it; or a session into a scenario (YAML, or JSON if OUT ends in .json) whose expectations are the recorded results')
    .argument('<in>', 'a scenario file or a session (.svalab)')
    .argument('<out>', 'the file to write')
    .addOption(new Option('-p, --policy <policy>', "scenario -> session: record under this policy instead of the scenario's first").choices([...POLICY_NAMES]))
    .option('-f, --force', 'replace OUT if it exists')
    .action((input: string, output: string, opts: { policy?: PolicyName; force?: boolean }) => {
      code = convertCommand(input, output, opts, io);
    });
  program
    .command('shell')
    .description('drive a lab step by step (the default SoC, or a scenario file\'s SoC and steps)')
    .addOption(new Option('-p, --policy <policy>', 'PASID policy').choices([...POLICY_NAMES]).default('mainline'))
    .option('-f, --file <scenario>', 'start from this scenario file (its SoC, then its steps)')
    .action(async (opts: { policy: PolicyName; file?: string }) => {
      code = await runShell(opts, io);
    });
  program
    .command('serve')
    .description('serve the bench to a browser: the built renderer and the lab over a WebSocket, with a per-run token')
    .option('--port <n>', 'TCP port (0: any free port)', '0')
    .option('--host <addr>', 'address to bind (anything but loopback exposes the lab to your network)', '127.0.0.1')
    .addOption(new Option('-p, --policy <policy>', 'PASID policy').choices([...POLICY_NAMES]).default('mainline'))
    .option('-f, --file <scenario>', 'start from this scenario file (its SoC, policy and steps)')
    .action(async (opts: ServeOpts) => {
      code = await serveCommand(opts, io);
    });
  program
    .command('policies')
    .description('list the PASID policies')
    .action(() => {
      for (const p of POLICY_NAMES) io.out(`${p.padEnd(13)} ${POLICIES[p].summary}\n`);
    });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? 0 : 2;
    }
    throw e;
  }
  return code;
}
