// The page the browser end-to-end test loads: @sentry/browser bundled by esbuild at test time.
import * as Sentry from '@sentry/browser';

const params = new URLSearchParams(location.search);
window.sentEventIds = [];

Sentry.init({
  dsn: params.get('dsn'),
  release: params.get('release'),
  environment: 'e2e',
  beforeSend(event) {
    window.sentEventIds.push(event.event_id);
    return event;
  },
});

const status = document.getElementById('status');

class PriceCalculator {
  constructor(rates) { this.rates = rates; }
  lineTotal(item) {
    return item.qty * this.rates[item.currency].value; // TypeError for an unknown currency
  }
}

function checkout() {
  const calc = new PriceCalculator({ EUR: { value: 1 } });
  return [{ qty: 1, currency: 'XXX' }].reduce((sum, item) => sum + calc.lineTotal(item), 0);
}

async function flush() {
  status.textContent = 'flushing';
  status.textContent = (await Sentry.flush(10000)) ? 'flushed' : 'flush timed out';
}

document.getElementById('handled').addEventListener('click', () => {
  try {
    checkout();
  } catch (e) {
    document.getElementById('event-id').textContent = Sentry.captureException(e);
  }
  return flush();
});

document.getElementById('unhandled').addEventListener('click', () => {
  status.textContent = 'threw';
  checkout(); // thrown inside the listener: the SDK's wrapper reports it
});

document.getElementById('flush').addEventListener('click', flush);
status.textContent = 'ready';
