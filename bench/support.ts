/**
 * What several benchmarks need: a fresh PostgreSQL database, a one-file git repository for agents
 * to work in, and `supervisor serve` in a process of its own, ready.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

/** Drops and creates database `name` on the server at `adminUrl`; returns its URL. */
export async function freshDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A git repository at `<dir>/repo` with one commit holding `app.js`; returns its path. */
export function benchRepository(dir: string): string {
  const repository = join(dir, 'repo');
  mkdirSync(repository);
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: repository,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        GIT_AUTHOR_NAME: 'b',
        GIT_AUTHOR_EMAIL: 'b@b',
        GIT_COMMITTER_NAME: 'b',
        GIT_COMMITTER_EMAIL: 'b@b',
      },
    });
  git('init', '--quiet', '--initial-branch', 'main');
  writeFileSync(join(repository, 'app.js'), 'export const answer = 42;\n');
  git('add', '-A');
  git('commit', '--quiet', '-m', 'init');
  return repository;
}

/**
 * `supervisor serve` on `port` with `env` over this process's, once `/readyz` answers. Its output
 * holds nothing a bench reports (a first start prints an admin token): shown only on failure.
 * `nodeOptions` go before the script (a CPU profile, for one).
 */
export async function serveReady(
  port: number,
  env: Record<string, string>,
  nodeOptions: string[] = [],
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeOptions, CLI, 'serve'], {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
    if (ready?.ok) return child;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`the supervisor did not become ready within 60 s:\n${output}`);
}
