// Prints "N passed, N failed" over Vitest's and Playwright's JSON reports and exits non-zero when anything failed,
// when a runner failed, or when no test ran. CI reads this line, not the runners' own summaries.
//
//   node .ci/summary.mjs --vitest reports/vitest.json <rc> --playwright reports/playwright.json <rc>
//   node .ci/summary.mjs reports/vitest.json <rc>            (Vitest only, the older form)
import { existsSync, readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const runs = [];
if (argv[0]?.startsWith('--')) {
  for (let i = 0; i < argv.length; i += 3) runs.push({ kind: argv[i].slice(2), file: argv[i + 1], rc: Number(argv[i + 2] ?? 1) });
} else {
  runs.push({ kind: 'vitest', file: argv[0], rc: Number(argv[1] ?? 1) });
}

let passed = 0;
let failed = 0;
let skipped = 0;

function vitest(r) {
  const out = { passed: r.numPassedTests ?? 0, failed: (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0), skipped: (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0) };
  // A test file that failed to load counts as a failure even when it holds no test.
  for (const s of r.testResults ?? []) if (s.status === 'failed' && (s.assertionResults ?? []).length === 0) out.failed++;
  return out;
}

function playwright(r) {
  const s = r.stats ?? {};
  // expected = passed, unexpected = failed, flaky = passed on retry (counted as passed, and named below).
  const out = { passed: (s.expected ?? 0) + (s.flaky ?? 0), failed: s.unexpected ?? 0, skipped: s.skipped ?? 0 };
  if (s.flaky) console.log(`playwright: ${s.flaky} flaky test(s) passed on retry`);
  // Errors outside tests (a config that does not load, a global setup that throws).
  if ((r.errors ?? []).length && out.failed === 0) out.failed = r.errors.length;
  return out;
}

for (const run of runs) {
  if (!run.file || !existsSync(run.file)) {
    console.log(`${run.kind}: no test report at ${run.file}`);
    failed++;
    continue;
  }
  let r;
  try {
    r = JSON.parse(readFileSync(run.file, 'utf8'));
  } catch (e) {
    console.log(`${run.kind}: unreadable report ${run.file}: ${e.message}`);
    failed++;
    continue;
  }
  const c = run.kind === 'playwright' ? playwright(r) : vitest(r);
  // The runner (or the build before it) failed without a failing test.
  if (run.rc !== 0 && c.failed === 0) c.failed = 1;
  console.log(`${run.kind}: ${c.passed} passed, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ''}`);
  passed += c.passed;
  failed += c.failed;
  skipped += c.skipped;
}

console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
