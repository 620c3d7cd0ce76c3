// Appends each jest run's totals to $REGATTA_TEST_TALLY so `npm test` can print one closing line.
import { appendFileSync } from 'node:fs';

export default class TallyReporter {
  onRunComplete(_contexts, results) {
    const file = process.env.REGATTA_TEST_TALLY;
    if (!file) return;
    const line = {
      passed: results.numPassedTests,
      failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
      skipped: results.numPendingTests + results.numTodoTests,
    };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  }
}
