// Drive the real @sentry/node SDK against a DSN; print the event ids it returned as JSON.
// usage: SENTRY_DSN=... E2E_RELEASE=... node node_client.cjs errors|large
'use strict';
const Sentry = require('@sentry/node');

Sentry.init({
  dsn: process.env.SENTRY_DSN,
  release: process.env.E2E_RELEASE,
  environment: 'e2e',
});

function chargeCard(amount) {
  const err = new Error(`card declined for amount=${amount}`);
  err.name = 'CardError';
  throw err;
}

const cases = {
  errors() {
    let exception;
    try {
      chargeCard(42.5);
    } catch (e) {
      exception = Sentry.captureException(e);
    }
    const message = Sentry.captureMessage('Disk usage above 90%', 'warning');
    return { exception, message };
  },
  large() {
    // well over 32 KiB of JSON, which @sentry/node sends gzipped
    Sentry.setExtra('big_blob', 'x'.repeat(40000) + Array.from({ length: 4000 }, (_, i) => i).join(','));
    return { large: Sentry.captureException(new Error('large payload')) };
  },
};

(async () => {
  const ids = cases[process.argv[2]]();
  if (!(await Sentry.flush(20000))) {
    console.error('flush timed out');
    process.exit(2);
  }
  console.log(JSON.stringify(ids));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
