// Test double: the real inference worker, except that a batch whose first value is -7777 kills the
// thread mid-batch, as a native crash or an out-of-memory abort would.
import { parentPort } from 'node:worker_threads';

parentPort.on('message', (message) => {
  if (message.type === 'run' && new Float32Array(message.buffer)[0] === -7777) process.exit(70);
});

await import('../inference-worker.mjs');
