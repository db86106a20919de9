import { Command, CommanderError, Option } from 'commander';
import { ConfigError, loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { AGENT_CLIS, type AgentCli } from '../core/agent-types.ts';
import { VERSION } from '../runtime/version.ts';
import { ApiClient } from './api-client.ts';
import { registerAgentCommands } from './commands/agent-commands.ts';
import { registerGitHubCommands } from './commands/github-commands.ts';
import { registerMemoryCommands } from './commands/memory-commands.ts';
import { registerTaskCommands } from './commands/task-commands.ts';
import { registerTokenCommands } from './commands/token-commands.ts';
import { addExamples } from './examples.ts';
import { EXIT, ExitError } from './exit.ts';

const out = (text: string) => process.stdout.write(`${text}\n`);

function config(): Config {
  return loadConfig({ env: process.env, envFile: '.env' });
}

const program = new Command()
  .name('supervisor')
  .description('Queue, run and watch coding tasks on a pool of headless coding agents')
  .version(VERSION)
  .option('--url <url>', 'API address for client commands (default: SUPERVISOR_URL or http://127.0.0.1:8000)')
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) });

program
  .command('serve')
  .description('Run the embedded supervisor: API, worker and dashboard in one process')
  // Server code (database, queue, HTTP) loads only for the commands that run it, so client commands start fast.
  .action(async () => (await import('./commands/serve.ts')).serve(config()));

program
  .command('api')
  .description('Run an API replica (distributed mode: needs DATABASE_URL and REDIS_URL)')
  .action(async () => (await import('./commands/serve.ts')).serve(config(), 'api'));

program
  .command('worker')
  .description('Run a worker (distributed mode: needs DATABASE_URL and REDIS_URL); serves only health probes')
  .action(async () => (await import('./commands/serve.ts')).serve(config(), 'worker'));

program
  .command('demo')
  .description('See the whole flow with no setup: a real agent CLI against a scripted model server')
  .option('--port <port>', 'port for the demo supervisor', '8000')
  .addOption(
    new Option('--cli <cli>', 'the agent CLI that runs the tasks').choices(AGENT_CLIS).default('claude-code'),
  )
  .option('--exit', 'stop once the sample tasks are done instead of staying up')
  .action(async (flags: { port: string; cli: AgentCli; exit?: boolean }) =>
    (await import('./commands/demo.ts')).demo(
      { port: Number(flags.port), cli: flags.cli, exit: flags.exit ?? false },
      out,
    ),
  );

program
  .command('migrate')
  .description('Apply database migrations and exit')
  .action(async () => (await import('./commands/migrate.ts')).migrate(config(), out));

program
  .command('secrets')
  .description('Stored credentials')
  .command('rotate')
  .description(
    'Re-encrypt stored credentials with a new key (NEW_SECRETS_KEY; an embedded install without SECRETS_KEY gets a new key file). Stop the supervisor first.',
  )
  .action(async () => (await import('./commands/secrets.ts')).rotateSecrets(config(), process.env, out));

program
  .command('mcp')
  .description(
    'Project-memory MCP server on stdio, started for each agent run (reads SUPERVISOR_URL and SUPERVISOR_TOKEN from its environment)',
  )
  .action(async () => (await import('./commands/mcp.ts')).mcp(process.env));

const audit = program
  .command('audit')
  .description(
    'The hash-chained audit trail, read from the database directly (DATABASE_URL, or DATA_DIR with the supervisor stopped)',
  );
audit
  .command('verify')
  .description('Check every record’s hash and link; exit 1 naming the first broken record')
  .action(async () => (await import('./commands/audit.ts')).auditVerify(config(), out));
audit
  .command('export')
  .description('Write the records as JSON Lines, oldest first, with the API’s fields')
  .option('--output <file>', 'write to this file instead of standard output')
  .option('--from <time>', 'only records at or after this ISO 8601 time')
  .option('--to <time>', 'only records before this ISO 8601 time')
  .action(async (flags: { output?: string; from?: string; to?: string }) =>
    (await import('./commands/audit.ts')).auditExport(config(), flags, out),
  );

const client = () => {
  const settings = config();
  return new ApiClient(
    program.opts<{ url?: string }>().url ?? settings.SUPERVISOR_URL,
    settings.SUPERVISOR_TOKEN,
  );
};
registerTaskCommands(program, client, out);
registerAgentCommands(program, client, out);
registerTokenCommands(program, client, out);
registerMemoryCommands(program, client, out);
registerGitHubCommands(program, client, out);
addExamples(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = exitCodeFor(error);
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // --help and --version end through here too, with code 0.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof ExitError) {
    process.stderr.write(`${error.message}\n`);
    return error.code;
  }
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\nSee .env.sample for every variable and its accepted values.\n`);
    return EXIT.usage;
  }
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 1;
}
