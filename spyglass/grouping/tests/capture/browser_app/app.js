// The page regenerate.py loads in Chromium: @sentry/browser, minified by esbuild. ?case=NAME
// runs one case, which sends one event; the status reads "done" once the SDK has flushed.
import * as Sentry from '@sentry/browser';

const params = new URLSearchParams(location.search);
Sentry.init({ dsn: params.get('dsn'), release: 'capture@1.0.0', environment: 'production' });

class CartView {
  constructor(cart) { this.cart = cart; }
  renderTotal() {
    return this.cart.summary.total.toFixed(2); // TypeError: summary is null
  }
}

function showCart() {
  return new CartView({ summary: null }).renderTotal();
}

async function loadProfile(id) {
  await new Promise((resolve) => setTimeout(resolve, 10));
  throw new Error(`profile ${id} could not be loaded`);
}

const cases = {
  minified_type_error() {
    try {
      showCart();
    } catch (e) {
      Sentry.captureException(e);
    }
  },
  anonymous_function_throw() {
    setTimeout(function () {
      throw new Error('widget 42 failed to mount');
    }, 0);
  },
  promise_rejection() {
    loadProfile(1001); // nobody awaits it: an unhandled rejection
  },
};

cases[params.get('case')]();
setTimeout(async () => {
  await Sentry.flush(10000);
  document.getElementById('status').textContent = 'done';
}, 500);
