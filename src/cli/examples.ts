import type { Command } from 'commander';

/** Examples shown under each command's `--help`, keyed by the command's path. */
const EXAMPLES: Record<string, string[]> = {
  serve: ['supervisor serve', 'CLAUDE_API_KEYS=sk-ant-... PORT=8080 supervisor serve'],
  submit: [
    'supervisor submit -t PR_REVIEW -r owner/repo --title "Refresh tokens" --diff change.patch --wait',
    'supervisor submit -t BUG_FIX -r /src/app --description "add() subtracts" --criteria "add(2, 3) is 5"',
    'supervisor submit -f task.json --idempotency-key nightly-2026-12-06',
  ],
  tasks: [
    'supervisor tasks',
    'supervisor tasks -s running,parked -t BUG_FIX -n 50',
    'supervisor tasks --json | jq -r ".items[].id"',
  ],
  show: ['supervisor show 3f2a…', 'supervisor show 3f2a… --json'],
  logs: ['supervisor logs -f 3f2a…', 'supervisor logs 3f2a… --json > events.jsonl'],
  cancel: ['supervisor cancel 3f2a…'],
  retry: ['supervisor retry 3f2a…'],
  inbox: ['supervisor inbox', 'supervisor inbox --json | jq -r ".items[].task_id"'],
  reply: ['supervisor reply 3f2a… main, please', 'supervisor reply 3f2a… "Also add a test for add()" --wait'],
  agents: ['supervisor agents', 'supervisor agents pause claude-2', 'supervisor agents resume claude-2'],
  'memory search': [
    'supervisor memory search -r owner/repo token refresh',
    'supervisor memory search --stale',
  ],
  'memory add': [
    'supervisor memory add -r owner/repo --title "Tests need Redis" --content "Start it with make redis"',
  ],
  'tokens create': ['supervisor tokens create --name ci-bot --role submitter --expires-in 90d'],
  'audit verify': ['supervisor audit verify'],
  'github deliveries': [
    'supervisor github deliveries -n 50',
    'supervisor github deliveries --json | jq ".items[0]"',
  ],
  'github replay': ['supervisor github replay 72d3162e-cc78-11e3-81ab-4c9367dc0958'],
};

/** Adds the examples to every command that has some. */
export function addExamples(program: Command): void {
  const walk = (command: Command, path: string[]) => {
    for (const sub of command.commands) {
      const subPath = [...path, sub.name()];
      const lines = EXAMPLES[subPath.join(' ')];
      if (lines) sub.addHelpText('after', `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`);
      walk(sub, subPath);
    }
  };
  walk(program, []);
}
