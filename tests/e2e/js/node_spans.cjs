// The same batch-job transaction from the real @sentry/node, in span streaming (the default
// of SDK 11) or classic transaction mode; prints its trace and span ids as JSON.
// usage: SENTRY_DSN=... E2E_START=<unix seconds> node node_spans.cjs stream|static
'use strict';
const Sentry = require('@sentry/node');

const mode = process.argv[2];
if (mode !== 'stream' && mode !== 'static') {
  console.error('usage: node node_spans.cjs stream|static');
  process.exit(2);
}
Sentry.init({
  dsn: process.env.SENTRY_DSN,
  release: 'worker@1.0.0',
  environment: 'e2e',
  tracesSampleRate: 1.0,
  traceLifecycle: mode,
});

// Fixed timestamps: both runs describe the same 250 ms job, whatever the machine's load.
const start = Number(process.env.E2E_START);
const job = Sentry.startInactiveSpan({
  name: 'process_events',
  op: 'process_events',
  startTime: start,
  forceTransaction: true,
});
Sentry.withActiveSpan(job, () => {
  const children = [
    ['db', 'SELECT * FROM outbox WHERE sent_at IS NULL', 0.01, 0.05],
    ['http.client', 'POST https://events.example.com/publish', 0.06, 0.2],
    ['db', 'UPDATE outbox SET sent_at = now()', 0.21, 0.24],
  ];
  for (const [op, name, from, to] of children) {
    const span = Sentry.startInactiveSpan({ name, op, startTime: start + from });
    span.setStatus({ code: 1 });
    span.end(start + to);
  }
});
job.setAttribute('batch.size', 3);
job.setStatus({ code: 2, message: 'internal_error' });
job.end(start + 0.25);
const context = job.spanContext();

(async () => {
  if (!(await Sentry.flush(20000))) {
    console.error('flush timed out');
    process.exit(2);
  }
  console.log(JSON.stringify({ trace_id: context.traceId, span_id: context.spanId }));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
