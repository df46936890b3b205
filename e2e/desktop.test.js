// The desktop app itself: the Tauri binary in a real window (run under Xvfb), driven through
// WebDriver by tauri-driver and Debian's WebKitWebDriver, against the real server and localstripe. It
// starts, signs in, shows the landing page with listings, is still signed in after a restart, buys a
// ticket by card, finds it in the order history and refunds it; its Content-Security-Policy lets it
// reach the server and Stripe.js and nothing else.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, artifacts, freePort, required, waitFor } from './harness.js';

const stack = new Stack();
let driver;
let profile;

before(async () => {
  await stack.start({ browser: false });
  const port = await freePort();
  const nativePort = await freePort();
  // A fresh profile: the app keeps its session token in the webview's storage under these folders.
  profile = mkdtempSync(join(tmpdir(), 'ticket-exchange-desktop-'));
  const dirs = Object.fromEntries(['DATA', 'CONFIG', 'CACHE'].map((kind) => [`XDG_${kind}_HOME`, join(profile, kind)]));
  driver = {
    url: `http://127.0.0.1:${port}`,
    process: spawn(required('TAURI_DRIVER'), ['--port', String(port), '--native-port', String(nativePort)], {
      env: {
        ...process.env,
        ...dirs,
        TICKET_EXCHANGE_API_URL: stack.url,
        TICKET_EXCHANGE_STRIPE_JS_URL: `${stack.stripeUrl}/js.stripe.com/v3/`,
      },
      // A process group of its own, so that WebKitWebDriver and any app window it leaves behind go
      // with it; and no inherited output, which a surviving app would hold open past the tests.
      detached: true,
      stdio: 'ignore',
    }),
  };
  await waitFor(`${driver.url}/status`, 'tauri-driver');
});

after(async () => {
  try {
    if (driver) process.kill(-driver.process.pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
  await stack.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/// One W3C WebDriver session: the app window.
class App {
  static async launch() {
    const response = await call('POST', '/session', {
      capabilities: { alwaysMatch: { 'tauri:options': { application: required('DESKTOP_BIN') } } },
    });
    const app = new App();
    app.id = response.sessionId;
    return app;
  }

  path(rest) {
    return `/session/${this.id}${rest}`;
  }

  async run(script, ...args) {
    return call('POST', this.path('/execute/sync'), { script, args });
  }

  /// Runs an async function body (`await` allowed) in the page and returns its result.
  async runAsync(body, ...args) {
    const script = `const done = arguments[arguments.length - 1];
      (async (...args) => { ${body} })(...Array.from(arguments).slice(0, -1)).then(done, (e) => done('threw: ' + e));`;
    return call('POST', this.path('/execute/async'), { script, args });
  }

  /// Waits (bounded) until a script returns something truthy, and returns it.
  async until(what, script, ...args) {
    for (let i = 0; i < 200; i += 1) {
      const value = await this.run(script, ...args);
      if (value) return value;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the app never showed ${what}; page text: ${await this.run('return document.body.innerText')}`);
  }

  async element(css) {
    await this.until(css, 'return !!document.querySelector(arguments[0])', css);
    const found = await call('POST', this.path('/element'), { using: 'css selector', value: css });
    return Object.values(found)[0];
  }

  async type(css, text) {
    await call('POST', this.path(`/element/${await this.element(css)}/value`), { text });
  }

  async click(css) {
    await call('POST', this.path(`/element/${await this.element(css)}/click`), {});
  }

  /// Clicks the button that reads `text`, as a person would.
  async press(text) {
    await this.until(`a ${text} button`, `return [...document.querySelectorAll('button')].some((b) => b.innerText.trim() === arguments[0])`, text);
    const found = await call('POST', this.path('/element'), { using: 'xpath', value: `//button[normalize-space()='${text}']` });
    await call('POST', this.path(`/element/${Object.values(found)[0]}/click`), {});
  }

  async screenshot(name) {
    const png = await call('GET', this.path('/screenshot'));
    writeFileSync(join(artifacts, `${name}.png`), Buffer.from(png, 'base64'));
  }

  /// The window as it is now at 1280 px wide, then at a phone's 375 px (`-375`), as the browser
  /// tests photograph pages; the window is left at 1280 px.
  async screenshots(name) {
    for (const [width, suffix] of [[375, '-375'], [1280, '']]) {
      await call('POST', this.path('/window/rect'), { width, height: 900 });
      await this.until(`the window at ${width} px`, 'return window.innerWidth === arguments[0]', width);
      // Laid out at the new width is not yet painted: the photograph waits for two frames drawn.
      await call('POST', this.path('/execute/async'), {
        script: 'const drawn = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => drawn()));',
        args: [],
      });
      await this.screenshot(`${name}${suffix}`);
    }
  }

  async close() {
    await call('DELETE', this.path(''));
  }
}

async function call(method, path, body) {
  const response = await fetch(driver.url + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = await response.json();
  if (!response.ok) throw new Error(`WebDriver ${method} ${path}: ${JSON.stringify(payload).slice(0, 500)}`);
  return payload.value;
}

async function api(path, body, token, method = 'POST') {
  const raw = body instanceof Uint8Array;
  const response = await fetch(`${stack.url}${path}`, {
    method,
    headers: {
      'content-type': raw ? 'application/octet-stream' : 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: raw ? body : JSON.stringify(body),
  });
  assert.ok(response.ok, `${path} answered ${response.status}`);
  return response.json();
}

// A small, whole PDF: the ticket file a listing needs to be for sale.
const TICKET_PDF = new TextEncoder().encode('%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n');

/** A listing of `name`, a month from now, with its ticket file. */
async function list(name, price, token) {
  const startsAt = new Date(Date.now() + 30 * 86400 * 1000).toISOString();
  const body = { eventName: name, venue: 'Massey Hall', city: 'Toronto', startsAt, timeZone: 'America/Toronto', faceValue: price, price };
  const ticket = await api('/api/tickets', body, token);
  return api(`/api/tickets/${ticket.id}/file`, TICKET_PDF, token, 'PUT');
}

const pageText = 'return document.body.innerText';

test('the desktop app signs in, keeps the session across a restart, and buys and refunds a ticket by card', async () => {
  const seller = `seller-${Date.now()}@example.com`;
  const session = await api('/api/users/register', { email: seller, password: 'desktop seller pw', termsAccepted: true });
  const title = `Desktop Gala ${Date.now()}`;
  const ticket = await list(title, 4200, session.token);
  const buyer = `buyer-${Date.now()}@example.com`;
  await api('/api/users/register', { email: buyer, password: 'desktop buyer pw', termsAccepted: true });

  const first = await App.launch();
  await first.until('the landing page', `return document.body.innerText.includes(arguments[0])`, title);
  await first.click('header a[href^="/login"]');
  await first.type('input[name=email]', buyer);
  await first.type('input[name=password]', 'desktop buyer pw');
  await first.click('button[type=submit]');
  await first.until('the signed-in header', `return document.body.innerText.includes('Logout')`);
  const landing = await first.until('the listing after sign-in', `
    return document.querySelector('h1')?.innerText === 'Tickets for sale'
      && document.body.innerText.includes(arguments[0]) && document.body.innerText`, title);
  assert.match(landing, /\$42\.00/);
  await first.screenshots('desktop-landing');
  await first.close();

  const second = await App.launch();
  // Still signed in: the header offers Logout, not Login, without signing in again.
  await second.until('the signed-in landing page after a restart', `
    const text = document.body.innerText;
    return text.includes(arguments[0]) && text.includes('Logout')`, title);
  assert.doesNotMatch(await second.run(pageText), /\bLogin\b/);
  await second.screenshot('desktop-restarted');

  // The window's policy: the server answers, any other origin is refused before a request leaves
  // (the refusal is a securitypolicyviolation, not merely a failed connection).
  await second.run(`
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.blockedURI));`);
  const reached = await second.runAsync(`
    const api = (await fetch(arguments[0] + '/api/healthz')).status;
    let other = 'reached';
    try { await fetch(arguments[1]); } catch (e) { other = 'refused'; }
    return { api, other };`, stack.url, `http://127.0.0.1:${stack.smtpPort}/`);
  assert.deepEqual([reached.api, reached.other], [200, 'refused'], JSON.stringify(reached));
  await second.until('the policy refusing the other origin', `
    return window.__violations.some((uri) => uri.includes(arguments[0]))`, String(stack.smtpPort));

  // Buying: reserve, billing and card in localstripe's Stripe.js, pay, COMPLETE.
  await second.click(`.ticket-card[data-ticket="${ticket.id}"] a`);
  await second.press('Purchase');
  await second.until('the checkout', `return document.querySelector('h1')?.innerText.startsWith('Purchase')`);
  await second.type('input[name="billing.name"]', 'Ada Lovelace');
  await second.type('input[name="billing.line1"]', '1 Main St');
  await second.type('input[name="billing.city"]', 'Toronto');
  await second.type('input[name="billing.region"]', 'ON');
  await second.type('input[name="billing.postalCode"]', 'M5V 2T6');
  await second.type('#card-element input[placeholder=number]', '4242424242424242');
  await second.type('#card-element input[placeholder=exp_month]', '12');
  await second.type('#card-element input[placeholder=exp_year]', '31');
  await second.type('#card-element input[placeholder=cvc]', '123');
  await second.type('#card-element input[placeholder=postal_code]', '12345');
  await second.screenshots('desktop-checkout');
  await second.click('#buy-now');
  const confirmation = await second.until('the confirmation', `
    return document.querySelector('h1')?.innerText.endsWith('COMPLETE') && document.body.innerText`);
  assert.match(confirmation, new RegExp(`Confirmation email sent to ${buyer}`));
  assert.match(confirmation, /\$44\.10 CAD/);
  await second.screenshots('desktop-confirmation');

  // The order history has it; a refund comes back as Refunded.
  await second.click('header a[href="/orders"]');
  await second.until('the paid order', `
    const card = [...document.querySelectorAll('.order-card')].find((c) => c.innerText.includes(arguments[0]));
    return card && card.innerText.includes('Complete')`, title);
  await second.screenshots('desktop-orders');
  await second.press('Refund');
  await second.until('the refunded order', `
    const card = [...document.querySelectorAll('.order-card')].find((c) => c.innerText.includes(arguments[0]));
    return card && card.innerText.includes('Refunded')`, title);
  await second.close();
});
