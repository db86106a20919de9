// Makes a checkout runnable: installs dependencies (including the pinned Node 24 and the Claude
// Code CLI) when node_modules is missing or older than the lockfile. Plain JavaScript so that it
// runs on whatever Node the machine has before the pinned one exists.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const stamp = 'node_modules/.package-lock.json';
const newest = Math.max(statSync('package.json').mtimeMs, statSync('package-lock.json').mtimeMs);

// `npm ci` installs exactly what the lockfile pins, never rewriting it (and refusing a lockfile out
// of step with package.json), as CI and the Dockerfile do.
if (!existsSync(stamp) || statSync(stamp).mtimeMs < newest) {
  console.error(
    existsSync(stamp)
      ? 'setup: package files changed; updating dependencies…'
      : 'setup: installing dependencies…',
  );
  execSync('npm ci --no-audit --no-fund', { stdio: 'inherit' });
}
