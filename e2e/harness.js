// Starts the real stack for the browser tests: localstripe, an SMTP server (aiosmtpd), the server
// binary serving the built web UI, and headless Chromium. Everything listens on loopback only.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const required = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the end-to-end tests with \`cargo xtask test\``);
  return value;
};

export const artifacts = process.env.E2E_ARTIFACTS ?? join(process.cwd(), '..', 'test-artifacts', 'e2e');
mkdirSync(artifacts, { recursive: true });

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitFor(url, what) {
  for (let i = 0; i < 400; i += 1) {
    try {
      const response = await fetch(url);
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what} did not start (${url})`);
}

export class Stack {
  constructor() {
    this.children = [];
  }

  spawn(command, args, env = {}) {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    this.children.push(child);
    return child;
  }

  /// Starts the services, and headless Chromium unless `browser` is false.
  async start({ browser = true } = {}) {
    const python = required('TEST_TOOLS_PYTHON');
    this.stripePort = await freePort();
    this.spawn(python, [required('LOCALSTRIPE_LAUNCHER'), '--port', String(this.stripePort)], { LOCALSTRIPE_STORE: '' });
    this.stripeUrl = `http://127.0.0.1:${this.stripePort}`;
    await waitFor(`${this.stripeUrl}/v1/customers`, 'localstripe');

    this.smtpPort = await freePort();
    this.maildir = join(mkdtempSync(join(tmpdir(), 'ticket-exchange-e2e-mail-')), 'maildir');
    this.spawn(python, ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${this.smtpPort}`, '-c', 'aiosmtpd.handlers.Mailbox', this.maildir]);

    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    const webhookSecret = 'whsec_e2e';
    this.serverEnv = {
      DATABASE_URL: required('E2E_DATABASE_URL'),
      BIND_ADDR: `127.0.0.1:${port}`,
      PUBLIC_URL: this.url,
      WEB_DIR: required('WEB_DIR'),
      STRIPE_SECRET_KEY: 'sk_test_e2e',
      STRIPE_PUBLISHABLE_KEY: 'pk_test_e2e',
      STRIPE_WEBHOOK_SECRET: webhookSecret,
      STRIPE_API_BASE: this.stripeUrl,
      STRIPE_JS_URL: `${this.stripeUrl}/js.stripe.com/v3/`,
      SMTP_URL: `smtp://127.0.0.1:${this.smtpPort}`,
      MAIL_FROM: 'Ticket Exchange <tickets@example.com>',
      OUTBOX_INTERVAL: '1s',
      // Every simulated user shares the loopback address; the per-address limit is tested in Rust.
      RATE_LIMIT_PER_MINUTE: '0',
      RUST_LOG: 'warn',
    };
    this.server = this.spawn(required('SERVER_BIN'), [], this.serverEnv);
    await waitFor(`${this.url}/api/readyz`, 'the server');
    const body = new URLSearchParams({ url: `${this.url}/api/webhooks/stripe`, secret: webhookSecret });
    await fetch(`${this.stripeUrl}/_config/webhooks/e2e`, { method: 'POST', body });

    if (!browser) return this;
    this.browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
      ],
    });
    return this;
  }

  /// Stops the server with SIGTERM, as a deployment does, and starts it again on the same address.
  async restartServer() {
    const exited = new Promise((resolve) => this.server.once('exit', resolve));
    this.server.kill('SIGTERM');
    await exited;
    this.server = this.spawn(required('SERVER_BIN'), [], this.serverEnv);
    await waitFor(`${this.url}/api/readyz`, 'the restarted server');
  }

  async page(options = {}) {
    const context = await this.browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') console.error(`console: ${message.text()}`);
    });
    return page;
  }

  /// Emails received so far, as raw text, oldest first.
  emails() {
    const dirs = ['new', 'cur'].map((sub) => join(this.maildir, sub));
    return dirs
      .flatMap((dir) => {
        try {
          return readdirSync(dir).map((name) => join(dir, name));
        } catch {
          return [];
        }
      })
      .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs)
      .map((path) => readFileSync(path, 'utf8'));
  }

  /// Waits (bounded) for an email whose text matches; the server sends it from its outbox job.
  async email(matching) {
    for (let i = 0; i < 150; i += 1) {
      const found = this.emails().find((raw) => matching.test(raw));
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no email matching ${matching}; got ${this.emails().length}`);
  }

  async stop() {
    await this.browser?.close();
    for (const child of this.children) child.kill('SIGTERM');
    rmSync(dirname(this.maildir), { recursive: true, force: true });
  }
}

export { freePort, required, waitFor };

/// The WCAG 2.2 A and AA rules, and headings in order.
const AXE_OPTIONS = {
  runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'] },
  rules: { 'heading-order': { enabled: true }, 'page-has-heading-one': { enabled: true } },
};

/// axe-core's violations on the page as it is now (injected through the debugging protocol: the
/// UI's own Content-Security-Policy rightly refuses an added script tag).
export async function accessibilityViolations(page) {
  await page.evaluate(axeSource);
  const { violations } = await page.evaluate((options) => window.axe.run(document, options), AXE_OPTIONS);
  return violations.map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/// A page as people see it: screenshots at 1280 px and at 375 px (a phone), each checked by axe-core
/// and for sideways scrolling. Pages served by others (Stripe's onboarding) are only photographed.
export async function shot(page, name, { ours = true } = {}) {
  const wide = page.viewportSize();
  for (const [width, suffix] of [[1280, ''], [375, '-375']]) {
    await page.setViewportSize({ width, height: wide.height });
    await page.screenshot({ path: join(artifacts, `${name}${suffix}.png`), fullPage: true });
    if (!ours) continue;
    const violations = await accessibilityViolations(page);
    if (violations.length) throw new Error(`${name} at ${width} px fails accessibility checks:\n${violations.join('\n')}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) throw new Error(`${name} at ${width} px scrolls sideways by ${overflow} px`);
  }
  await page.setViewportSize(wide);
}
