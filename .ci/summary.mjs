// Prints "N passed, N failed" from Vitest's JSON report and exits non-zero when anything failed, when the
// runner failed, or when no test ran. CI reads this line, not Vitest's own summary.
import { existsSync, readFileSync } from 'node:fs';

const [file, rcArg] = process.argv.slice(2);
const rc = Number(rcArg ?? 1);
let passed = 0;
let failed = 0;
let skipped = 0;
if (file && existsSync(file)) {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed = r.numPassedTests ?? 0;
  failed = (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0);
  skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  // A test file that failed to load counts as a failure even when it holds no test.
  for (const s of r.testResults ?? []) if (s.status === 'failed' && (s.assertionResults ?? []).length === 0) failed++;
} else {
  failed = 1;
  console.log(`no test report at ${file}`);
}
if (rc !== 0 && failed === 0) failed = 1; // the runner (or the build before it) failed without a failing test
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
