/**
 * CPU profiles for the benchmarks: record this process's profile around a piece of work, write it
 * where Chrome's DevTools (Performance → Load profile) can open it, and summarise where the time
 * went by module, so a bench's output says what to cut without opening anything.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Starts profiling this process; the returned function stops it and returns the profile. */
export async function startCpuProfile(): Promise<() => Promise<CpuProfile>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
    session.disconnect();
    return profile;
  };
}

export function writeCpuProfile(profile: CpuProfile, path: string): void {
  writeFileSync(path, JSON.stringify(profile));
}

/** Where a frame's code lives: a file of ours, a package, or Node itself. */
function moduleOf(url: string): string {
  if (!url) return '(native, GC, idle)';
  const nodeModules = url.lastIndexOf('node_modules/');
  if (nodeModules >= 0) {
    const [scope, name] = url.slice(nodeModules + 'node_modules/'.length).split('/');
    return scope!.startsWith('@') ? `${scope}/${name}` : scope!;
  }
  const src = url.indexOf('/src/');
  if (src >= 0) return url.slice(src + 1);
  return url.startsWith('node:') ? 'node (runtime)' : url;
}

/**
 * Where the sampled time went, as lines of text, largest first: self time by module (ours, a
 * package, or the runtime), and time spent under each of our own files (inclusive: a query
 * built by drizzle on behalf of attempt-lifecycle.ts counts for attempt-lifecycle.ts). Shares are
 * of the busy time (idle left out); ms are divided by `perItems` (per task) when given.
 */
export function summariseCpuProfile(
  profile: CpuProfile,
  options: { top?: number; perItems?: number } = {},
): { self: string[]; underOurFiles: string[]; busyMs: number } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const under = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)') return;
    total += delta;
    const module = moduleOf(node.callFrame.url);
    self.set(module, (self.get(module) ?? 0) + delta);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const file = moduleOf(byId.get(at)!.callFrame.url);
      if (file.startsWith('src/') && !seen.has(file)) {
        seen.add(file);
        under.set(file, (under.get(file) ?? 0) + delta);
      }
    }
  });
  const per = options.perItems ?? 1;
  const lines = (times: Map<string, number>) =>
    [...times]
      .sort((a, b) => b[1] - a[1])
      .slice(0, options.top ?? 12)
      .map(
        ([name, us]) =>
          `${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000 / per).toFixed(2).padStart(7)} ms${per > 1 ? ' per task' : ''}  ${name}`,
      );
  return { self: lines(self), underOurFiles: lines(under), busyMs: total / 1000 };
}
