// An HTTP server without a router, instrumented by the real @sentry/node: its transactions
// are named by the URL path (source "url"). It requests each of E2E_PATHS (a JSON list) from
// itself, in span streaming (the default of SDK 11) or classic transaction mode.
// usage: SENTRY_DSN=... E2E_RELEASE=... E2E_PATHS='["/a/1"]' node node_url_names.cjs stream|static
'use strict';
const Sentry = require('@sentry/node');

const mode = process.argv[2];
if (mode !== 'stream' && mode !== 'static') {
  console.error('usage: node node_url_names.cjs stream|static');
  process.exit(2);
}
Sentry.init({
  dsn: process.env.SENTRY_DSN,
  release: process.env.E2E_RELEASE,
  environment: 'e2e',
  tracesSampleRate: 1.0,
  traceLifecycle: mode,
});
const http = require('http'); // after init: the SDK instruments it as it loads

const server = http.createServer((req, res) => {
  res.statusCode = 200;
  res.end('ok');
});

function get(port, path) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
      .on('error', reject);
  });
}

server.listen(0, '127.0.0.1', async () => {
  try {
    const { port } = server.address();
    for (const path of JSON.parse(process.env.E2E_PATHS)) await get(port, path);
    server.close();
    if (!(await Sentry.flush(20000))) {
      console.error('flush timed out');
      process.exit(2);
    }
    console.log(JSON.stringify({ ok: true }));
  } catch (e) {
    console.error(e);
    process.exit(1);
  }
});
