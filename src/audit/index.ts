export { OrderLedger } from './ledger.ts';
export type { LedgerEntry } from './ledger.ts';
export { auditBaseline, auditOrders } from './order-audit.ts';
export type { AuditBaseline, AuditResult } from './order-audit.ts';
