import type { ChildProcess } from 'node:child_process';

/**
 * What every agent CLI driver does with its process and its output alike: stopping its whole
 * process group, keeping the tail of stderr, scrubbing secrets, and storing a printed event.
 */

/** Largest event stored whole; bigger ones (a huge tool result) keep a preview and their size. */
export const MAX_EVENT_BYTES = 256 * 1024;
export const STDERR_TAIL_BYTES = 4096;

/** Replaces every secret in a text the agent printed. */
export function scrubber(secrets: string[]): (text: string) => string {
  return (text) => secrets.reduce((clean, secret) => clean.replaceAll(secret, '[redacted]'), text);
}

/** The event as stored under `type`: the whole object, or a preview if huge. */
export function storedEvent(type: string, object: Record<string, unknown>, bytes: number) {
  if (bytes <= MAX_EVENT_BYTES) return { type, data: object };
  return { type, data: { truncated: true, bytes, preview: JSON.stringify(object).slice(0, 4096) } };
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is already gone
  }
}

/** SIGTERM to the whole group, then SIGKILL if it is still there after the grace period. */
export function terminate(child: ChildProcess, graceMs: number): void {
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  timer.unref();
  child.once('close', () => clearTimeout(timer));
}
