import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RegattaError } from '@regatta/contracts';
import { configureLogging } from '@regatta/telemetry';
import { ValueType } from '../value-type.js';
import { encodeRegistry } from './codec.js';
import { RegistryHolder, type RegistryFileSource } from './holder.js';
import type { RegistryContent } from './model.js';

// Load failures are logged as warnings by design; the tests assert them through health() instead.
configureLogging({ level: 'silent' });

const registryWith = (...views: string[]): Uint8Array =>
  encodeRegistry({
    project: 'p',
    entities: [{ name: 'e', joinKey: 'k', valueType: ValueType.STRING }],
    featureViews: views.map((name) => ({
      name,
      entities: ['e'],
      features: [{ name: 'f', valueType: ValueType.INT64 }],
      entityColumns: [{ name: 'k', valueType: ValueType.STRING }],
      ttlSeconds: 0,
      online: true,
    })),
    featureServices: [],
  } satisfies RegistryContent);

/** A registry file held in memory: tests change its bytes and count reads. */
class MemoryFile implements RegistryFileSource {
  bytes: Uint8Array | undefined;
  version = 0;
  reads = 0;
  signature(): Promise<string | undefined> {
    return Promise.resolve(this.bytes ? String(this.version) : undefined);
  }
  read(): Promise<Uint8Array> {
    this.reads++;
    return this.bytes ? Promise.resolve(this.bytes) : Promise.reject(new Error('ENOENT'));
  }
  write(bytes: Uint8Array): void {
    this.bytes = bytes;
    this.version++;
  }
}

const until = async (condition: () => boolean, timeoutMs = 3000) => {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

const errorCode = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return err instanceof RegattaError ? err.code : 'not a RegattaError';
  }
  return undefined;
};

const holders: RegistryHolder[] = [];
const make = (source: RegistryFileSource, debounceMs = 20) => {
  const holder = new RegistryHolder({
    path: '/repo/registry.db',
    project: 'p',
    source,
    pollIntervalMs: 10,
    debounceMs,
  });
  holders.push(holder);
  return holder;
};

afterEach(() => {
  for (const h of holders.splice(0)) h.stop();
});

describe(RegistryHolder.name, () => {
  describe('start', () => {
    it('serves the registry read at start', async () => {
      const file = new MemoryFile();
      file.write(registryWith('v1'));
      const holder = make(file);
      await holder.start();
      expect([...holder.current().featureViews.keys()]).toEqual(['v1']);
      expect(holder.health().status).toBe('ok');
    });

    it('reports down (and current() UNAVAILABLE) while no registry could ever be read, then recovers', async () => {
      const file = new MemoryFile();
      const holder = make(file);
      await holder.start();
      expect(holder.health()).toMatchObject({ status: 'down' });
      expect(() => holder.current()).toThrow(/feature registry not loaded/);
      expect(errorCode(() => holder.current())).toBe('UNAVAILABLE');
      file.write(registryWith('v1'));
      await until(() => holder.registry !== undefined);
      expect(holder.health().status).toBe('ok');
    });
  });

  describe('reloading', () => {
    it('picks up a changed file without being asked, once per change', async () => {
      const file = new MemoryFile();
      file.write(registryWith('v1'));
      const holder = make(file);
      const seen: string[][] = [];
      holder.onChange((r) => seen.push([...r.featureViews.keys()]));
      await holder.start();
      const readsAfterStart = file.reads;
      await new Promise((r) => setTimeout(r, 60));
      expect(file.reads).toBe(readsAfterStart); // unchanged file: polled, never re-read
      file.write(registryWith('v1', 'v2'));
      await until(() => holder.current().featureViews.has('v2'));
      expect(seen).toEqual([['v1'], ['v1', 'v2']]);
    });

    it('waits for writes to settle before reading (debounce)', async () => {
      const file = new MemoryFile();
      file.write(registryWith('v1'));
      const holder = make(file, 80);
      await holder.start();
      const reads = file.reads;
      for (let i = 0; i < 5; i++) {
        file.write(registryWith('v1', `step${i}`));
        await new Promise((r) => setTimeout(r, 15));
      }
      await until(() => holder.current().featureViews.has('step4'));
      expect(file.reads - reads).toBe(1);
    });

    it('keeps the last good registry when the new file is unreadable, and says so', async () => {
      const file = new MemoryFile();
      file.write(registryWith('v1'));
      const holder = make(file);
      await holder.start();
      file.write(Buffer.from('half-written garbage \xff\xff'));
      await until(() => holder.health().status === 'degraded');
      expect([...holder.current().featureViews.keys()]).toEqual(['v1']);
      expect(holder.health().detail).toMatch(/newer file failed/);
      file.write(registryWith('v3'));
      await until(() => holder.current().featureViews.has('v3'));
      expect(holder.health().status).toBe('ok');
    });
  });

  describe('with the real file system', () => {
    it('reloads when the file is replaced by rename', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'regatta-registry-'));
      try {
        const file = path.join(dir, 'registry.db');
        await writeFile(file, registryWith('v1'));
        const holder = new RegistryHolder({ path: file, project: 'p', pollIntervalMs: 10, debounceMs: 10 });
        holders.push(holder);
        await holder.start();
        await writeFile(`${file}.tmp`, registryWith('v1', 'v2'));
        await rename(`${file}.tmp`, file);
        await until(() => holder.current().featureViews.has('v2'));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
