import { InProcessBus } from './in-process-bus.js';
import { transportSuite } from '../test/suite.js';

transportSuite('the in-process bus', () => Promise.resolve(new InProcessBus()));
