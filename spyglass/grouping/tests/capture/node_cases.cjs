// @sentry/node cases for regenerate.py: each sends one event.
// usage: SENTRY_DSN=... NODE_PATH=tests/e2e/js/node_modules node node_cases.cjs CASE
'use strict';
const Sentry = require('@sentry/node');

function init() {
  Sentry.init({ dsn: process.env.SENTRY_DSN, release: 'capture@1.0.0', environment: 'production', serverName: 'capture-host' });
}

function readRow(line) {
  try {
    return JSON.parse(line);
  } catch (e) {
    throw new Error(`row ${line.length} is not JSON`, { cause: e });
  }
}

function importFile(lines) {
  try {
    return lines.map(readRow);
  } catch (e) {
    throw new Error('import of orders.csv failed', { cause: e });
  }
}

const cases = {
  async error_cause() {
    init();
    try {
      importFile(['{"id": 1}', '{"id": 2,']);
    } catch (e) {
      Sentry.captureException(e);
    }
  },
  async aggregate_error() {
    init();
    const results = await Promise.allSettled([
      Promise.reject(new TypeError('price must be a number')),
      Promise.reject(new RangeError('quantity 0 is out of range')),
    ]);
    const errors = results.map((r) => r.reason);
    Sentry.captureException(new AggregateError(errors, 'order 1001 has 2 invalid lines'));
  },
  async unhandled_rejection_non_error() {
    init();
    Promise.reject({ code: 'E_QUOTA', remaining: 0 });
    await new Promise((r) => setTimeout(r, 1500));
  },
};

// The same call site for both: the synthetic exception's stack, not the text, groups a message.
const queueDepths = { message_numbers_a: [1234, 1000], message_numbers_b: [98127, 5000] };

function reportQueueDepth(depth, limit) {
  init();
  Sentry.captureMessage(`queue depth ${depth} exceeded the limit of ${limit}`, 'warning');
}

(async () => {
  const name = process.argv[2];
  if (name in queueDepths) reportQueueDepth(...queueDepths[name]);
  else await cases[name]();
  await Sentry.flush(10000);
})();
