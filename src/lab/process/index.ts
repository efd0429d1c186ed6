export { ProcessGuard, processGuard } from './process-guard.ts';
