// Starts the real stack for the browser tests: localstripe, an SMTP server (aiosmtpd), the server
// binary serving the built web UI, and headless Chromium. Everything listens on loopback only.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';

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
    this.spawn(required('SERVER_BIN'), [], {
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
    });
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

  async page(options = {}) {
    const context = await this.browser.newContext({ viewport: { width: 1200, height: 900 }, ...options });
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

export async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}
