import type { Command } from 'commander';
import type { ApiClient } from '../api-client.ts';
import { wholeNumber } from '../exit.ts';
import { listJson, table } from '../format.ts';

interface DeliveryJson {
  id: string;
  event: string;
  action: string | null;
  repository: string | null;
  received_at: string;
  handled_at: string | null;
  outcome: string | null;
  task_id: string | null;
  reconciled: boolean;
}

interface GitHubStatusJson {
  mode: 'app' | 'token';
  app_id: number | null;
  api_url: string;
  git_origin: string;
  mention: string;
  webhook_secrets: number;
  reconcile_minutes: number;
  deliveries: {
    last_24h: number;
    reconciled_last_24h: number;
    waiting: number;
    last_received_at: string | null;
  };
}

const when = (iso: string) => iso.replace('T', ' ').slice(0, 19);

/** `supervisor github deliveries|replay|reconcile`: what GitHub sent, what each delivery did (admin token). */
export function registerGitHubCommands(
  program: Command,
  client: () => ApiClient,
  out: (text: string) => void,
): void {
  const github = program
    .command('github')
    .description('GitHub deliveries: list them, replay one, catch up on missed ones (needs an admin token)');

  github
    .command('deliveries')
    .description('List GitHub deliveries, newest first, with what each started')
    .option('-n, --limit <n>', 'how many (1-200)', wholeNumber(1, 200), 20)
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--json', 'print the page as JSON')
    .action(async (flags: { limit: number; cursor?: string; json?: boolean }) => {
      const query = new URLSearchParams({ limit: String(flags.limit) });
      if (flags.cursor) query.set('cursor', flags.cursor);
      const page = await client().request<{ items: DeliveryJson[]; next_cursor: string | null }>(
        'GET',
        `/api/v1/github/deliveries?${query}`,
      );
      if (flags.json) return out(listJson(page.items, page.next_cursor));
      if (page.items.length === 0) return out('no deliveries');
      out(
        table(
          ['DELIVERY', 'RECEIVED', 'EVENT', 'REPOSITORY', 'TASK', 'OUTCOME'],
          page.items.map((d) => [
            d.id,
            when(d.received_at),
            `${d.action ? `${d.event}.${d.action}` : d.event}${d.reconciled ? ' (reconciled)' : ''}`,
            d.repository ?? '-',
            d.task_id ?? '-',
            d.handled_at ? (d.outcome ?? '') : 'queued',
          ]),
        ),
      );
      if (page.next_cursor) out(`\nmore: supervisor github deliveries --cursor ${page.next_cursor}`);
    });

  github
    .command('replay')
    .description('Handle a stored delivery again (a commit already reviewed stays so)')
    .argument('<delivery>', 'delivery id (from `supervisor github deliveries`)')
    .action(async (id: string) => {
      await client().request('POST', `/api/v1/github/deliveries/${encodeURIComponent(id)}/replay`);
      out(`replaying ${id}: see \`supervisor github deliveries\` for what it did`);
    });

  github
    .command('status')
    .description('How the GitHub connection stands: App or token, where, and its deliveries')
    .option('--json', 'print it as JSON')
    .action(async (flags: { json?: boolean }) => {
      const status = await client().request<GitHubStatusJson>('GET', '/api/v1/github/status');
      if (flags.json) return out(JSON.stringify(status, null, 2));
      const { deliveries: d } = status;
      out(
        [
          `acting as   ${status.mode === 'app' ? `GitHub App ${status.app_id}` : 'a personal access token (no check runs)'}`,
          `api         ${status.api_url}`,
          `git         ${status.git_origin}`,
          `commands    @${status.mention} …`,
          `secrets     ${status.webhook_secrets === 2 ? 'current and previous (rotating)' : 'one'}`,
          `reconcile   ${status.reconcile_minutes ? `every ${status.reconcile_minutes} min` : 'on demand only'}`,
          `deliveries  ${d.last_24h} in 24 h (${d.reconciled_last_24h} reconciled), ${d.waiting} waiting, last ${d.last_received_at ? when(d.last_received_at) : 'never'}`,
        ].join('\n'),
      );
    });

  github
    .command('reconcile')
    .description('Look now for pull requests and @-comments of the past day that GitHub never delivered')
    .action(async () => {
      const { repositories, found } = await client().request<{ repositories: number; found: number }>(
        'POST',
        '/api/v1/github/reconcile',
      );
      out(
        `looked at ${repositories} repositor${repositories === 1 ? 'y' : 'ies'}: ${found} missed deliver${found === 1 ? 'y' : 'ies'} found and queued`,
      );
    });
}
