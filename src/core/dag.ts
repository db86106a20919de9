import type { TaskStatus } from './task-status.ts';

/**
 * Pure checks of task dependencies: the graph of a batch submitted at once (keys, cycles, order)
 * and the verdict on a waiting task given the statuses of what it depends on.
 */

/** One task of a batch: its key, and what it depends on (keys of the batch or ids of existing tasks). */
export interface DagNode {
  key: string;
  dependsOn: readonly string[];
}

/** A problem with a batch, reported like a validation error: the field and what is wrong with it. */
export interface DagProblem {
  field: string;
  message: string;
}

/** A batch task with its dependencies sorted into other batch tasks and existing tasks. */
export interface PlannedNode {
  /** Position in the submitted list. */
  index: number;
  key: string;
  dependsOnKeys: string[];
  dependsOnTaskIds: string[];
}

export type DagPlan = { ok: true; order: PlannedNode[] } | { ok: false; problems: DagProblem[] };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (text: string): boolean => UUID.test(text);

const field = (index: number, rest: string) => `body.tasks.${index}.${rest}`;

/**
 * Checks a batch and orders it so every task comes after the batch tasks it depends on (ties keep
 * the submitted order). A `depends_on` entry names a key of the batch, or else must be a task id;
 * whether that task exists is for the caller to check. Refused: duplicate keys, unknown keys and
 * cycles (a self-dependency is a cycle of one), each naming the field and, for a cycle, its path.
 */
export function planDag(nodes: readonly DagNode[]): DagPlan {
  const problems: DagProblem[] = [];
  const indexOfKey = new Map<string, number>();
  nodes.forEach((node, index) => {
    if (indexOfKey.has(node.key)) {
      problems.push({
        field: field(index, 'key'),
        message: `key "${node.key}" is already used by tasks.${indexOfKey.get(node.key)}; keys must be unique`,
      });
    } else {
      indexOfKey.set(node.key, index);
    }
  });

  const planned: PlannedNode[] = nodes.map((node, index) => {
    const dependsOnKeys: string[] = [];
    const dependsOnTaskIds: string[] = [];
    node.dependsOn.forEach((ref, j) => {
      if (indexOfKey.has(ref)) {
        if (!dependsOnKeys.includes(ref)) dependsOnKeys.push(ref);
      } else if (isUuid(ref)) {
        if (!dependsOnTaskIds.includes(ref.toLowerCase())) dependsOnTaskIds.push(ref.toLowerCase());
      } else {
        problems.push({
          field: field(index, `depends_on.${j}`),
          message: `"${ref}" is neither a key of this batch nor a task id`,
        });
      }
    });
    return { index, key: node.key, dependsOnKeys, dependsOnTaskIds };
  });
  if (problems.length) return { ok: false, problems };

  // Kahn's algorithm: repeatedly take the first task (in submitted order) whose dependencies are placed.
  const order: PlannedNode[] = [];
  const placed = new Set<string>();
  let remaining = planned;
  while (remaining.length) {
    const ready = remaining.find((node) => node.dependsOnKeys.every((key) => placed.has(key)));
    if (!ready) break;
    order.push(ready);
    placed.add(ready.key);
    remaining = remaining.filter((node) => node !== ready);
  }
  if (remaining.length === 0) return { ok: true, order };

  const cycle = findCycle(remaining);
  const first = planned[indexOfKey.get(cycle[0]!)!]!;
  const path = cycle.join(' → ');
  return {
    ok: false,
    problems: [
      {
        field: field(first.index, 'depends_on'),
        message:
          cycle.length === 2
            ? `a task cannot depend on itself (${path})`
            : `dependencies form a cycle (${path}); no task in it could ever start`,
      },
    ],
  };
}

/**
 * A cycle among `nodes`, each of which is on a cycle or depends on one (what Kahn's algorithm leaves
 * over), as keys from a task back to itself: ["a", "b", "a"]. Walking dependencies from any of them
 * must revisit a key, and the walk from that key's first visit is the cycle.
 */
function findCycle(nodes: readonly PlannedNode[]): string[] {
  const byKey = new Map(nodes.map((node) => [node.key, node]));
  const walk: string[] = [];
  let current = nodes[0]!;
  while (!walk.includes(current.key)) {
    walk.push(current.key);
    // Every leftover node has at least one dependency that is also left over.
    current = byKey.get(current.dependsOnKeys.find((key) => byKey.has(key))!)!;
  }
  return [...walk.slice(walk.indexOf(current.key)), current.key];
}

/**
 * What a waiting task should do given its dependencies' statuses: run (all succeeded), fail (one
 * failed or was cancelled, so it can never succeed), or keep waiting.
 */
export type DependencyVerdict =
  | { kind: 'ready' }
  | { kind: 'wait' }
  | { kind: 'fail'; dependency: { id: string; status: TaskStatus } };

export function dependencyVerdict(
  dependencies: ReadonlyArray<{ id: string; status: TaskStatus }>,
): DependencyVerdict {
  const broken = dependencies.find((d) => d.status === 'failed' || d.status === 'cancelled');
  if (broken) return { kind: 'fail', dependency: broken };
  return dependencies.every((d) => d.status === 'succeeded') ? { kind: 'ready' } : { kind: 'wait' };
}
