import { beforeEach, describe, expect, it } from '@jest/globals';
import { hashApiKey } from '../auth/api-key.js';
import { MemoryApiKeyStore } from '../testing/memory-key-store.js';
import { runKeysCli } from './keys.js';

describe(runKeysCli.name, () => {
  let store: MemoryApiKeyStore;
  let out: string[];
  let err: string[];
  const run = (...argv: string[]) =>
    runKeysCli(argv, { store, pepper: 'p', io: { out: (t) => out.push(t), err: (t) => err.push(t) } });

  beforeEach(() => {
    store = new MemoryApiKeyStore();
    out = [];
    err = [];
  });

  it('creates a key, shows it once and stores only its hash', async () => {
    expect(
      await run('create', '--tenant', 'acme', '--scopes', 'predict,chat', '--name', 'web', '--json'),
    ).toBe(0);
    const created = JSON.parse(out[0]!) as { id: string; key: string; tenant: string; scopes: string[] };
    expect(created).toMatchObject({ tenant: 'acme', scopes: ['predict', 'chat'] });
    const row = store.rows.get(created.id)!;
    expect(row.hash).toBe(hashApiKey(created.key, 'p'));
    expect(JSON.stringify(row)).not.toContain(created.key);
  });

  it('lists and revokes keys', async () => {
    await run('create', '--tenant', 'acme', '--scopes', 'predict', '--json');
    await run('create', '--tenant', 'globex', '--scopes', 'chat', '--json');
    const acme = JSON.parse(out[0]!) as { id: string };
    out = [];
    expect(await run('list', '--tenant', 'acme')).toBe(0);
    expect(out[0]).toContain(acme.id);
    expect(out[0]).not.toContain('globex');
    expect(await run('revoke', acme.id)).toBe(0);
    out = [];
    await run('list', '--json');
    expect((JSON.parse(out[0]!) as { keys: { tenant: string }[] }).keys.map((k) => k.tenant)).toEqual([
      'globex',
    ]);
    out = [];
    await run('list', '--revoked', '--json');
    expect((JSON.parse(out[0]!) as { keys: unknown[] }).keys).toHaveLength(2);
  });

  it('explains bad input with exit code 2', async () => {
    expect(await run('create', '--tenant', 'acme', '--scopes', 'predict,fly')).toBe(2);
    expect(err[0]).toContain('--scopes');
    expect(await run('create', '--tenant', 'Bad Tenant', '--scopes', 'predict')).toBe(2);
    expect(await run('launch')).toBe(2);
    expect(err.at(-1)).toContain('unknown command "launch"');
    expect(await run('list', '--colour')).toBe(2);
  });

  it('fails with exit code 1 for a missing key', async () => {
    expect(await run('revoke', 'key_0000000000000000')).toBe(1);
    expect(err[0]).toBe('error: no API key key_0000000000000000');
  });

  it('announces a revocation to the running gateways and says how many heard it', async () => {
    await run('create', '--tenant', 'acme', '--scopes', 'predict', '--json');
    const { id } = JSON.parse(out[0]!) as { id: string };
    const announced: string[] = [];
    out = [];
    const code = await runKeysCli(['revoke', id], {
      store,
      pepper: 'p',
      io: { out: (t) => out.push(t), err: (t) => err.push(t) },
      announceRevocation: (keyId) => {
        announced.push(keyId);
        return Promise.resolve(3);
      },
    });
    expect(code).toBe(0);
    expect(announced).toEqual([id]);
    expect(out[0]).toContain('3 gateway process(es) forgot it at once');
    expect(store.rows.get(id)?.revokedAt).not.toBeNull();
  });
});
