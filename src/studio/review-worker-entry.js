// Worker threads do not inherit tsx's loader from --import in Node 20: register it, then load the worker.
import { register } from 'tsx/esm/api';

register();
await import('./review-worker.ts');
