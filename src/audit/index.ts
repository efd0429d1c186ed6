export { OrderLedger } from './ledger.ts';
export type { LedgerEntry } from './ledger.ts';
export { auditBaseline, auditOrders } from './order-audit.ts';
export type { AuditBaseline, AuditResult, QueueLookup, RejectedAfterAcceptance } from './order-audit.ts';
