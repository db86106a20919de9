import type { SecretBox } from '../agents/secrets.ts';
import { appendAudit } from '../audit/audit-log.ts';
import type { Db } from '../store/database.ts';
import * as poolStore from './pool-store.ts';

/**
 * Re-encrypts every stored credential from one key to another in one transaction: all of them
 * move, or (when one does not open with `from`) none does.
 */
export async function resealCredentials(db: Db, from: SecretBox, to: SecretBox, now: Date): Promise<number> {
  return db.transaction(async (tx) => {
    const rows = await poolStore.listAgentRows(tx);
    for (const row of rows) {
      let plain: string;
      try {
        plain = from.open(row.credentialSecret);
      } catch {
        throw new Error(
          `the credential of agent ${row.id} does not open with the current key (SECRETS_KEY or DATA_DIR/secrets.key); nothing was changed`,
        );
      }
      await poolStore.updateAgent(tx, row.id, { credentialSecret: to.seal(plain), updatedAt: now });
    }
    await appendAudit(tx, {
      at: now,
      actor: 'supervisor secrets rotate',
      action: 'secrets.rotated',
      details: { credentials: rows.length },
    });
    return rows.length;
  });
}
