import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { loadMigrationsFromDir } from './migrations.js';

describe('loadMigrationsFromDir', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'regatta-migrations-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads NNN_name.sql files ordered by number, ignoring other files', async () => {
    await writeFile(path.join(dir, '010_add_index.sql'), 'CREATE INDEX i ON t (a);');
    await writeFile(path.join(dir, '002_create_table.sql'), 'CREATE TABLE t (a int);');
    await writeFile(path.join(dir, 'README.md'), 'notes');
    expect(await loadMigrationsFromDir(dir)).toEqual([
      { id: '002_create_table', sql: 'CREATE TABLE t (a int);' },
      { id: '010_add_index', sql: 'CREATE INDEX i ON t (a);' },
    ]);
  });

  it('rejects a .sql file that is not named NNN_name.sql', async () => {
    await writeFile(path.join(dir, 'create.sql'), 'SELECT 1');
    await expect(loadMigrationsFromDir(dir)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('create.sql'),
    });
  });

  it('rejects two files with the same number', async () => {
    await writeFile(path.join(dir, '001_a.sql'), 'SELECT 1');
    await writeFile(path.join(dir, '1_b.sql'), 'SELECT 2');
    await expect(loadMigrationsFromDir(dir)).rejects.toThrow(/share a number/);
  });

  it('rejects a missing directory with INVALID_ARGUMENT', async () => {
    await expect(loadMigrationsFromDir(path.join(dir, 'nope'))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});
