import Database from 'better-sqlite3';
import { closeSync, existsSync, mkdirSync, openSync, readSync } from 'node:fs';
import { dirname } from 'node:path';
import { nativeModuleProblem } from '../util/native.ts';
import { StoreError, messageOf, sqliteCode } from './errors.ts';
import { LATEST_SCHEMA, TANDEM_APPLICATION_ID, schemaVersion } from './schema.ts';

const BUSY_TIMEOUT_MS = 5000;
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** What says whose database a file is and which schema it has. */
interface Identity {
  userVersion: number;
  applicationId: number;
  /** Unknown when read from the header alone. */
  tables?: number;
}

/**
 * Opens a SQLite connection on `path` after checking the file is a Tandem database this code can
 * read; a foreign, corrupt or newer file is refused before anything writes to it.
 */
export function openDatabase(path: string, readonly: boolean): Database.Database {
  const header = readHeader(path);
  if (header) {
    // A -wal file may hold a newer schema than the header: ask SQLite, read-only so nothing is written.
    refuseUnknown(path, existsSync(`${path}-wal`) ? probe(path) : header);
  } else if (readonly && !existsSync(path)) {
    throw new StoreError(`${path} does not exist`);
  }
  if (!readonly) mkdirSync(dirname(path), { recursive: true });
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly, fileMustExist: readonly, timeout: BUSY_TIMEOUT_MS });
    // Checked again before the first write (the WAL switch): another process may have upgraded it.
    refuseUnknown(path, identityOf(db));
    if (!readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    return db;
  } catch (err) {
    db?.close();
    throw openError(path, err);
  }
}

/** The identity in the file's 100-byte header, read without SQLite; undefined for a missing or empty file. */
function readHeader(path: string): Identity | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StoreError(`${path} could not be read (${messageOf(err)})`, { cause: err });
  }
  const head = Buffer.alloc(100);
  let length: number;
  try {
    length = readSync(fd, head, 0, head.length, 0);
  } catch (err) {
    throw new StoreError(`${path} could not be read (${messageOf(err)})`, { cause: err });
  } finally {
    closeSync(fd);
  }
  if (length === 0) return undefined; // SQLite treats an empty file as an empty database
  if (length < head.length || !head.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)) {
    throw new StoreError(`${path} is not a Tandem database (file is not a database)`);
  }
  return { userVersion: head.readInt32BE(60), applicationId: head.readInt32BE(68) };
}

function probe(path: string): Identity {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    return identityOf(db);
  } catch (err) {
    throw openError(path, err);
  } finally {
    db?.close();
  }
}

function identityOf(db: Database.Database): Identity {
  return {
    userVersion: schemaVersion(db),
    applicationId: db.pragma('application_id', { simple: true }) as number,
    tables: db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() as number,
  };
}

function refuseUnknown(path: string, id: Identity): void {
  const ours = id.applicationId === TANDEM_APPLICATION_ID;
  const blank = id.applicationId === 0 && id.userVersion === 0 && !id.tables;
  if (!ours && !blank) {
    throw new StoreError(`${path} is not a Tandem database (it belongs to another application)`);
  }
  if (id.userVersion > LATEST_SCHEMA) {
    throw new StoreError(
      `${path} was written by a newer Tandem (schema ${id.userVersion}; this one reads up to ${LATEST_SCHEMA}). Upgrade Tandem to open it; the file was not changed.`,
    );
  }
}

function openError(path: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  // better-sqlite3 loads its binary on first use: a binary built for another runtime fails here.
  const native = nativeModuleProblem(err);
  if (native) return new StoreError(`${path} could not be opened: ${native}`, { cause: err });
  const code = sqliteCode(err) ?? '';
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new StoreError(`${path} is not a Tandem database (${messageOf(err)})`, { cause: err });
  }
  return new StoreError(`${path} could not be opened (${messageOf(err)})`, { cause: err });
}
