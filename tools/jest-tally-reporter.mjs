// Appends each jest run's totals, and what failed, to $REGATTA_TEST_TALLY so `npm test` can close with
// one line of totals and the failures again (a CI log is often read from its end). Beside it, in
// test-progress.jsonl, it notes when each test file starts and ends, so a step that runs out of time can
// say which files were still running.
import { appendFileSync } from 'node:fs';
import path from 'node:path';

const MESSAGE_LINES = 6;

// Jest's failure messages carry colour codes; the summary is read as plain text.
const plain = (text) => text.replace(/\u001b\[[0-9;]*m/g, '');

function failuresOf(results) {
  const failures = [];
  for (const file of results.testResults) {
    const where = path.relative(process.cwd(), file.testFilePath);
    if (file.testExecError) {
      failures.push({
        test: `${where} (suite failed to run)`,
        message: plain(file.testExecError.message ?? ''),
      });
    }
    for (const test of file.testResults) {
      if (test.status !== 'failed') continue;
      const message = plain(test.failureMessages.join('\n')).split('\n');
      failures.push({
        test: `${where} › ${test.fullName}`,
        message: message.slice(0, MESSAGE_LINES).join('\n'),
      });
    }
  }
  return failures;
}

function progress(event, testPath) {
  const tally = process.env.REGATTA_TEST_TALLY;
  if (!tally) return;
  const line = { event, package: path.basename(process.cwd()), file: path.relative(process.cwd(), testPath) };
  appendFileSync(path.join(path.dirname(tally), 'test-progress.jsonl'), `${JSON.stringify(line)}\n`);
}

export default class TallyReporter {
  onTestStart(test) {
    progress('start', test.path);
  }

  onTestResult(test) {
    progress('end', test.path);
  }

  onRunComplete(_contexts, results) {
    const file = process.env.REGATTA_TEST_TALLY;
    if (!file) return;
    const line = {
      package: path.basename(process.cwd()),
      passed: results.numPassedTests,
      failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
      skipped: results.numPendingTests + results.numTodoTests,
      failures: failuresOf(results),
    };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  }
}
