import { existsSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { sealAudit } from '../../audit/audit-log.ts';
import { auditView, chainPage } from '../../audit/audit-query.ts';
import { verifyAudit } from '../../audit/audit-verify.ts';
import type { Config } from '../../config/schema.ts';
import { isoDateTime } from '../../core/timestamps.ts';
import type { Db } from '../../store/database.ts';
import { isDatabaseUnavailable } from '../../store/unavailable.ts';
import { withDirectDatabase } from '../direct-database.ts';
import { EXIT, ExitError } from '../exit.ts';

/** Records read per query by export: bounds memory however long the log is. */
const EXPORT_PAGE = 1000;

/**
 * Opens the database the supervisor uses, read as it is: no migrations run, so inspecting an
 * installation never changes it. The embedded database needs the supervisor stopped (its lock).
 */
async function withAuditDatabase<T>(config: Config, work: (db: Db) => Promise<T>): Promise<T> {
  if (!config.DATABASE_URL) {
    const dataDir = resolve(config.DATA_DIR);
    if (!existsSync(join(dataDir, 'pglite'))) {
      throw new ExitError(
        EXIT.usage,
        `no embedded database in ${dataDir}: set DATA_DIR to the supervisor's data directory, or DATABASE_URL for PostgreSQL`,
      );
    }
  }
  try {
    return await withDirectDatabase(config, (database) => work(database.db), { poolSize: 1 });
  } catch (error) {
    // Exit code 1 means "the chain is broken"; not reaching the database must not look like that.
    if (isDatabaseUnavailable(error)) {
      throw new ExitError(EXIT.unreachable, 'the database cannot be reached; check DATABASE_URL and retry');
    }
    throw error;
  }
}

/**
 * `supervisor audit verify`: recomputes every record's hash and checks every link. Exits 0 and
 * prints the newest hash (worth keeping elsewhere: a chain cannot prove its own newest end), or
 * exits 1 naming the first broken record.
 */
export async function auditVerify(config: Config, out: (text: string) => void): Promise<void> {
  const result = await withAuditDatabase(config, (db) => verifyAudit(db));
  if (!result.ok) {
    throw new ExitError(
      EXIT.taskFailed,
      `audit chain broken: ${result.reason}. The ${result.checked} record(s) before it are intact. ` +
        `Compare row ${result.brokenId} with a backup or an earlier \`supervisor audit export\` to see what changed.`,
    );
  }
  const last = result.lastId === null ? '' : `, last #${result.lastId} ${result.lastHash.slice(0, 16)}`;
  const pruned =
    result.prunedThroughId === null ? '' : ` (records up to #${result.prunedThroughId} were pruned)`;
  out(`audit chain intact: ${result.checked} records${last}${pruned}`);
}

export interface ExportOptions {
  /** File to write; standard output when omitted. */
  output?: string;
  /** Only records at or after this ISO 8601 time. */
  from?: string;
  /** Only records before this ISO 8601 time. */
  to?: string;
}

function timeOption(name: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  if (!isoDateTime.safeParse(value).success) {
    throw new ExitError(
      EXIT.usage,
      `--${name}: expected an ISO 8601 time with an offset, like 2026-01-31T00:00:00Z (got ${value})`,
    );
  }
  return new Date(value);
}

/**
 * `supervisor audit export`: writes the records as JSON Lines, one object per record with the
 * API's fields, oldest first (chain order, so each line's prev_hash is the line before's hash and
 * an export of the whole log can be checked offline). Streams page by page. A file is written
 * under a temporary name and renamed when complete, so a failed export never looks finished.
 */
export async function auditExport(
  config: Config,
  options: ExportOptions,
  out: (text: string) => void,
): Promise<void> {
  const range = { from: timeOption('from', options.from), to: timeOption('to', options.to) };
  if (options.output === undefined) {
    await exportLines(config, range, (lines) => out(lines));
    return;
  }
  const partial = `${options.output}.partial`;
  const file = await open(partial, 'w');
  try {
    const exported = await exportLines(config, range, (lines) => file.write(`${lines}\n`));
    await file.close();
    await rename(partial, options.output);
    out(`exported ${exported} audit record(s) to ${options.output}`);
  } catch (error) {
    await file.close().catch(() => {});
    await rm(partial, { force: true });
    throw error;
  }
}

/** Hands `write` the records in `range` a page at a time, as newline-joined JSON; returns how many. */
async function exportLines(
  config: Config,
  range: { from: Date | undefined; to: Date | undefined },
  write: (lines: string) => unknown,
): Promise<number> {
  return withAuditDatabase(config, async (db) => {
    // As verify: records still pending are chained first where the database allows it.
    await sealAudit(db).catch(() => undefined);
    // One snapshot for the whole export: a prune running meanwhile cannot cut it in two.
    return db.transaction(
      async (tx) => {
        let total = 0;
        for (let afterId = 0; ; ) {
          const rows = await chainPage(tx, afterId, EXPORT_PAGE, range);
          if (rows.length > 0) await write(rows.map((row) => JSON.stringify(auditView(row))).join('\n'));
          total += rows.length;
          if (rows.length < EXPORT_PAGE) return total;
          afterId = rows.at(-1)!.id;
        }
      },
      { isolationLevel: 'repeatable read', accessMode: 'read only' },
    );
  });
}
