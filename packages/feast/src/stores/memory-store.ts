import type { DependencyCheck } from '@regatta/contracts';
import { decodeValueJson } from '../value.js';
import {
  notFound,
  storeUnavailable,
  type OnlineReadRequest,
  type OnlineReadResult,
  type OnlineStore,
  type OnlineWriteBatch,
  type OnlineWriteResult,
} from './online-store.js';

interface StoredView {
  eventTimeMs: number;
  values: Map<string, Uint8Array>;
}

/**
 * An in-process online store with the same semantics as the real ones (serialized values, whole-second
 * newer-only writes per entity and view), for unit tests of code built on OnlineStore.
 */
export class MemoryOnlineStore implements OnlineStore {
  readonly kind = 'memory' as const;
  /** Number of read calls, so tests can assert one store round trip per request. */
  reads = 0;
  /** Set to make every call fail as an unreachable store would. */
  down = false;
  private readonly data = new Map<string, StoredView>();

  private id(view: string, entityKey: Uint8Array): string {
    return `${view}\u0000${Buffer.from(entityKey).toString('hex')}`;
  }

  private unavailable(): Error {
    return storeUnavailable('memory', new Error('marked down'));
  }

  read(requests: readonly OnlineReadRequest[]): Promise<OnlineReadResult[]> {
    this.reads++;
    if (this.down) return Promise.reject(this.unavailable());
    return Promise.resolve(
      requests.map((r) => {
        const stored = this.data.get(this.id(r.view, r.entityKey));
        if (!stored) return notFound(r.features);
        return {
          values: r.features.map((f) => {
            const bytes = stored.values.get(f);
            return bytes === undefined ? undefined : decodeValueJson(bytes);
          }),
          eventTimesMs: r.features.map((f) => (stored.values.has(f) ? stored.eventTimeMs : undefined)),
        };
      }),
    );
  }

  write(batch: OnlineWriteBatch): Promise<OnlineWriteResult> {
    if (this.down) return Promise.reject(this.unavailable());
    const result = { written: 0, skipped: 0 };
    for (const row of batch.rows) {
      const id = this.id(batch.view, row.entityKey);
      const prev = this.data.get(id);
      const seconds = Math.floor(row.eventTimeMs / 1000);
      if (prev && prev.eventTimeMs !== 0 && seconds * 1000 <= prev.eventTimeMs) {
        result.skipped++;
        continue;
      }
      const values = prev?.values ?? new Map<string, Uint8Array>();
      batch.features.forEach((f, i) => {
        const v = row.values[i];
        if (v !== undefined) values.set(f, v);
      });
      this.data.set(id, { eventTimeMs: seconds * 1000, values });
      result.written++;
    }
    return Promise.resolve(result);
  }

  health(): Promise<DependencyCheck> {
    return Promise.resolve(this.down ? { status: 'down', detail: 'marked down' } : { status: 'ok' });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
