// Debian's Chromium driven by playwright-core (no browser download): headless, sandbox off (CI
// runs as root), nothing that reaches the network, a fresh profile per launch.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, BrowserContext } from 'playwright-core';
import { tempDir } from './models';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<BrowserContext> {
  const profile = fs.mkdtempSync(path.join(tempDir(), 'chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
