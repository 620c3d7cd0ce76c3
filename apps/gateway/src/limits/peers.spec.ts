import { afterEach, describe, expect, it } from '@jest/globals';
import { GATEWAY } from '@regatta/contracts';
import { createLogger } from '@regatta/telemetry';
import { eventually } from '@regatta/testing';
import { InProcessBus, RpcClient, encodeJson } from '@regatta/transport';
import { GatewayPeers } from './peers.js';

const quiet = createLogger('peers-spec').child({}, { level: 'silent' });
const buses: InProcessBus[] = [];
const counters: GatewayPeers[] = [];

/** A bus on which each of `instances` answers a count, the way a gateway replica does. */
function busAnswering(instances: string[]): InProcessBus {
  const bus = new InProcessBus();
  buses.push(bus);
  for (const instance of instances) {
    bus.subscribe(GATEWAY.peers.subject, undefined, (msg) => msg.reply(encodeJson({ instance }), new Map()));
  }
  return bus;
}

function peersOn(bus: InProcessBus, everyMs = 0): GatewayPeers {
  const peers = new GatewayPeers({ client: new RpcClient({ bus }), everyMs, windowMs: 100, logger: quiet });
  counters.push(peers);
  return peers;
}

afterEach(async () => {
  for (const peers of counters.splice(0)) peers.close();
  for (const bus of buses.splice(0)) await bus.close();
});

describe(GatewayPeers.name, () => {
  it('counts the replicas that answer, each instance once', async () => {
    const peers = peersOn(busAnswering(['a', 'b', 'c', 'b']));
    expect(await peers.start()).toBe(3);
    expect(peers.count).toBe(3);
  });

  it('counts at least itself when nobody else answers well', async () => {
    const bus = new InProcessBus();
    buses.push(bus);
    bus.subscribe(GATEWAY.peers.subject, undefined, (msg) =>
      msg.reply(encodeJson({ instance: '' }), new Map()),
    );
    expect(await peersOn(bus).start()).toBe(1);
  });

  it('keeps the last count while the bus cannot be reached', async () => {
    const bus = busAnswering(['a', 'b']);
    const peers = peersOn(bus);
    expect(await peers.start()).toBe(2);
    await bus.close();
    expect(await peers.refresh()).toBe(2);
  });

  it('counts again on its timer', async () => {
    const bus = busAnswering(['a']);
    const peers = peersOn(bus, 20);
    expect(await peers.start()).toBe(1);
    bus.subscribe(GATEWAY.peers.subject, undefined, (msg) =>
      msg.reply(encodeJson({ instance: 'b' }), new Map()),
    );
    await eventually(() => peers.count === 2, 'peers.count === 2');
  });
});
