import Database from 'better-sqlite3';

/** A storage failure told in one line the user can act on (the original error is its `cause`). */
export class StoreError extends Error {
  override name = 'StoreError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message.replace(/\s*\n\s*/g, ' '), options);
  }
}

/** SQLite's result code (`SQLITE_BUSY`, …) of an error thrown by better-sqlite3, if it is one. */
export function sqliteCode(err: unknown): string | undefined {
  return err instanceof Database.SqliteError ? err.code : undefined;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
