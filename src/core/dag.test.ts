import { describe, expect, it } from 'vitest';
import { type DagNode, dependencyVerdict, planDag } from './dag.ts';

const node = (key: string, ...dependsOn: string[]): DagNode => ({ key, dependsOn });
const TASK_ID = '3f2b8c1e-9d4a-4e6b-8f0c-1a2b3c4d5e6f';

describe('planDag', () => {
  it('orders a diamond so every task follows what it depends on, keeping submitted order for ties', () => {
    const plan = planDag([node('e', 'd'), node('d', 'b', 'c'), node('c', 'a'), node('b', 'a'), node('a')]);
    expect(plan.ok && plan.order.map((n) => n.key)).toEqual(['a', 'c', 'b', 'd', 'e']);
  });

  it('sorts references into batch keys and existing task ids, without repeats', () => {
    const plan = planDag([node('a'), node('b', 'a', TASK_ID, 'a', TASK_ID.toUpperCase())]);
    expect(plan.ok && plan.order[1]).toEqual({
      index: 1,
      key: 'b',
      dependsOnKeys: ['a'],
      dependsOnTaskIds: [TASK_ID],
    });
  });

  it('refuses duplicate keys and unknown references, naming the fields', () => {
    expect(planDag([node('a'), node('a'), node('b', 'zz')])).toEqual({
      ok: false,
      problems: [
        { field: 'body.tasks.1.key', message: 'key "a" is already used by tasks.0; keys must be unique' },
        { field: 'body.tasks.2.depends_on.0', message: '"zz" is neither a key of this batch nor a task id' },
      ],
    });
  });

  it('reports a self-dependency as a cycle of one', () => {
    expect(planDag([node('a', 'a')])).toEqual({
      ok: false,
      problems: [{ field: 'body.tasks.0.depends_on', message: 'a task cannot depend on itself (a → a)' }],
    });
  });

  it('reports the path of a cycle, even behind tasks that only depend on it', () => {
    const plan = planDag([node('x'), node('tail', 'a'), node('a', 'b'), node('b', 'c'), node('c', 'a', 'x')]);
    expect(plan).toEqual({
      ok: false,
      problems: [
        {
          field: 'body.tasks.2.depends_on',
          message: 'dependencies form a cycle (a → b → c → a); no task in it could ever start',
        },
      ],
    });
  });
});

describe('dependencyVerdict', () => {
  it('is ready with no dependencies or only succeeded ones', () => {
    expect(dependencyVerdict([])).toEqual({ kind: 'ready' });
    expect(dependencyVerdict([{ id: '1', status: 'succeeded' }])).toEqual({ kind: 'ready' });
  });

  it('waits while any dependency has not ended', () => {
    for (const status of ['waiting', 'queued', 'running', 'retrying', 'parked'] as const) {
      expect(
        dependencyVerdict([
          { id: '1', status: 'succeeded' },
          { id: '2', status },
        ]),
      ).toEqual({ kind: 'wait' });
    }
  });

  it('fails on a failed or cancelled dependency, even while others still run', () => {
    for (const status of ['failed', 'cancelled'] as const) {
      expect(
        dependencyVerdict([
          { id: '1', status: 'running' },
          { id: '2', status },
        ]),
      ).toEqual({
        kind: 'fail',
        dependency: { id: '2', status },
      });
    }
  });
});
