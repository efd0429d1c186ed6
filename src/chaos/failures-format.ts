// How failures by status read in every table: `105 (500)` or `38 (502×37, timeout×1)`.

/** Failures by status, as `105 (500)` or `38 (502×37, timeout×1)`; a status of 0 is a client timeout. */
export function formatFailures(count: number, byStatus: Record<string, number>): string {
  if (count === 0) return '0';
  const name = (status: string): string => (status === '0' ? 'timeout' : status);
  const entries = Object.entries(byStatus).sort((a, b) => b[1] - a[1]);
  if (entries.length === 1) return `${count} (${name(entries[0]![0])})`;
  return `${count} (${entries.map(([status, n]) => `${name(status)}×${n}`).join(', ')})`;
}
