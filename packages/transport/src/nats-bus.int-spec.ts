import { NatsBus } from './nats-bus.js';
import { transportSuite } from '../test/suite.js';

const url = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
transportSuite('NATS', () => NatsBus.connect({ url, name: 'transport-test' }));
