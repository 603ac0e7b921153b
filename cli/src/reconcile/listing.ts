/**
 * Every MRN a side lists, by paging through GET /api/patients (page 1, 2, … of the contract's
 * largest page size; the list is sorted by name, then MRN). The first page tells how many
 * pages there are; the others are read with bounded concurrency. Offset paging over a list
 * that changes while it is read can skip or repeat a patient: a repeat is harmless (MRNs are
 * a set), a skip is reported (`changed`), and the patient is still compared if the other
 * side lists it.
 */
import { forEachBounded } from './bounded.js';
import { PAGE_SIZE, type ContractClient } from './contract-client.js';

export interface MrnListing {
  mrns: Set<string>;
  /** the total the first page announced */
  total: number;
  /** the list changed while it was read (fewer or more distinct MRNs than announced) */
  changed: boolean;
}

/** the contract's page numbers stop at 999999 */
const MAX_PAGE = 999_999;

export async function listMrns(client: ContractClient, concurrency: number): Promise<MrnListing> {
  const first = await client.patientPage(1);
  const mrns = new Set(first.mrns);
  const pages = Math.min(MAX_PAGE, Math.ceil(first.total / PAGE_SIZE));
  const rest = Array.from({ length: Math.max(0, pages - 1) }, (_, i) => i + 2);
  await forEachBounded(rest, concurrency, async (page) => {
    for (const mrn of (await client.patientPage(page)).mrns) mrns.add(mrn);
  });
  return { mrns, total: first.total, changed: mrns.size !== first.total };
}
