/** What the client was told about one write. 0 means no answer (a timeout or a broken connection). */
export interface LedgerEntry {
  key: string;
  productId: number;
  quantity: number;
  sentAt: number;
  answeredAt: number;
  status: number;
  orderId: number | null;
}

/**
 * The order ledger: every write the client sent, with its Idempotency-Key and what the client
 * was told. The audit checks it against the database afterwards (Jepsen's history, in small).
 */
export class OrderLedger {
  readonly #entries: LedgerEntry[] = [];

  record(entry: LedgerEntry): void {
    this.#entries.push(entry);
  }

  get entries(): readonly LedgerEntry[] {
    return this.#entries;
  }
}
