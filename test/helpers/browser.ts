// Debian's Chromium, headless, driven by playwright-core (no browser download): the
// registry's web UI is tested as a person uses it. Screenshots are kept after the run in
// .cache/test-screenshots/ (the last run's).

import {mkdirSync} from 'node:fs';
import {join} from 'node:path';
import {chromium, type Browser, type Page} from 'playwright-core';
import {REPO} from './kernel.js';

export const SCREENSHOTS = join(REPO, '.cache', 'test-screenshots');

export async function launchChromium(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage']});
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, {recursive: true});
  const file = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({path: file, fullPage: true});
  return file;
}

/** Sign in to the registry's UI with a token, as the login form asks. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.fill('input[name=token]', token);
  await Promise.all([page.waitForURL(`${url}/`), page.click('button[type=submit]')]);
}
