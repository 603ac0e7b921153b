/**
 * One side of a reconciliation, spoken to through the legacy HTTP contract only (the legacy
 * HIS, or a new service that serves the same contract): the patient list, a patient, their
 * stays, their results. Every answer is checked for the shape the contract promises before
 * it is used; anything else (no answer, a 5xx, a body that is not the contract's) stops the
 * run with a failure naming the system and its URL. Messages never quote an MRN.
 */
import { networkCause } from '../admin-client.js';
import { SystemFailure } from '../failures.js';
import { isObject, type Json } from './canonical.js';

export type ContractRecord = { [key: string]: Json };

/** the contract's largest page */
export const PAGE_SIZE = 100;

const USER_AGENT = 'ficus-cli/0.1.0 (reconcile)';

export class ContractClient {
  constructor(
    /** for messages: "the legacy system", "patient-service" */
    readonly system: string,
    /** no trailing slash */
    readonly url: string,
    /** how to point the CLI elsewhere: "set --legacy or FICUS_LEGACY_URL" */
    private readonly hint: string,
    private readonly timeoutMs = 30_000,
  ) {}

  /** records listed but refused by their own URL (400: an MRN the contract does not accept) */
  refusedRecords = 0;

  private fail(problem: string): SystemFailure {
    return new SystemFailure(this.system, this.url, problem, this.hint);
  }

  /**
   * GET a path; 404 answers undefined (the contract's "no such patient"). With `oneRecord`, a
   * 400 does too, counted: a record whose MRN the contract refuses (a legacy row keyed outside
   * the MRN format) cannot be compared, and must not stop the comparison of all the others.
   */
  private async get(path: string, what: string, oneRecord = false): Promise<unknown> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.url + path, { headers: { accept: 'application/json', 'user-agent': USER_AGENT }, signal: AbortSignal.timeout(this.timeoutMs) });
      text = await res.text();
    } catch (e) {
      throw this.fail(`cannot reach it: ${networkCause(e)}`);
    }
    if (res.status === 404) return undefined;
    if (res.status === 400 && oneRecord) {
      this.refusedRecords++;
      return undefined;
    }
    if (!res.ok) throw this.fail(`${what} answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw this.fail(`${what} answered ${res.status} without JSON: does it serve the legacy contract?`);
    }
  }

  private itemsOf(body: unknown, idField: string, what: string): ContractRecord[] {
    if (!isObject(body) || !Array.isArray(body.items)) throw this.fail(`${what}: the answer has no "items" list: does it serve the legacy contract?`);
    for (const item of body.items) {
      if (!isObject(item) || (typeof item[idField] !== 'number' && typeof item[idField] !== 'string')) throw this.fail(`${what}: an item without "${idField}"`);
    }
    return body.items as ContractRecord[];
  }

  /** GET /api/patients?page=&pageSize=: the MRNs on one page, and how many there are in all */
  async patientPage(page: number, pageSize = PAGE_SIZE): Promise<{ total: number; mrns: string[] }> {
    const what = `GET /api/patients (page ${page})`;
    const body = await this.get(`/api/patients?page=${page}&pageSize=${pageSize}`, what);
    if (body === undefined) throw this.fail(`${what} answered 404: is this the legacy contract's base URL?`);
    const items = this.itemsOf(body, 'mrn', what);
    const total = (body as { total?: unknown }).total;
    if (typeof total !== 'number' || !Number.isInteger(total) || total < 0) throw this.fail(`${what}: the answer has no "total"`);
    return { total, mrns: items.map((i) => String(i.mrn)) };
  }

  /** GET /api/patients/{mrn}; undefined when the patient is unknown here */
  async patient(mrn: string): Promise<ContractRecord | undefined> {
    const body = await this.get(`/api/patients/${encodeURIComponent(mrn)}`, 'GET /api/patients/{mrn}', true);
    if (body === undefined) return undefined;
    if (!isObject(body) || body.mrn !== mrn) throw this.fail('GET /api/patients/{mrn}: the answer is not that patient');
    return body;
  }

  /** GET /api/encounters?mrn=: the stays, newest first; none when the patient is unknown here */
  async encounters(mrn: string): Promise<ContractRecord[]> {
    const body = await this.get(`/api/encounters?mrn=${encodeURIComponent(mrn)}`, 'GET /api/encounters?mrn=');
    return body === undefined ? [] : this.itemsOf(body, 'admissionId', 'GET /api/encounters?mrn=');
  }

  /** GET /api/results?mrn=: the laboratory results, newest first; none when the patient is unknown here */
  async results(mrn: string): Promise<ContractRecord[]> {
    const body = await this.get(`/api/results?mrn=${encodeURIComponent(mrn)}`, 'GET /api/results?mrn=', true);
    return body === undefined ? [] : this.itemsOf(body, 'resultId', 'GET /api/results?mrn=');
  }
}
