/**
 * What results-service needs to know about patients and stays, asked of patient-service's
 * HTTP API (never its database): whether a patient exists (the legacy answers 404 for an
 * unknown patient, an empty list for a known one without results), who an MRN means after
 * merges (FHIR Patient.link replaced-by), and the stay of a visit number (FHIR Encounter
 * identifier). An unreachable patient-service is an error the caller turns into a retry (HL7)
 * or a 503 (HTTP, which the gateway answers from legacy).
 */
import { followMerges } from '@ficus/hl7-protocol';

export class PatientServiceUnavailable extends Error {
  override readonly name = 'PatientServiceUnavailable';
}

export interface PatientDirectory {
  exists(mrn: string): Promise<boolean>;
  /** the MRN's survivor at the end of a chain of merges, or undefined when the patient is unknown */
  resolve(mrn: string): Promise<string | undefined>;
  /** the id of the patient's stay with this visit number, or null */
  stayOf(mrn: string, visitNumber: string): Promise<number | null>;
}

export class HttpPatientDirectory implements PatientDirectory {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMs = 5_000,
  ) {
    this.base = baseUrl.replace(/\/$/, '');
  }

  private async get(path: string, method = 'GET'): Promise<{ status: number; body: unknown }> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: 'application/fhir+json, application/json' } });
    } catch (e) {
      throw new PatientServiceUnavailable(`patient-service is unreachable: ${(e as Error).name}`);
    }
    const text = method === 'HEAD' ? '' : await res.text();
    if (res.status >= 500) throw new PatientServiceUnavailable(`patient-service answered ${res.status}`);
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  async exists(mrn: string): Promise<boolean> {
    const { status } = await this.get(`/api/patients/${encodeURIComponent(mrn)}`, 'HEAD');
    if (status === 200) return true;
    if (status === 404) return false;
    throw new PatientServiceUnavailable(`patient-service answered ${status} for a patient`);
  }

  async resolve(mrn: string): Promise<string | undefined> {
    const first = await this.replacedBy(mrn);
    if (first === undefined) return undefined;
    return followMerges(mrn, async (current) => (current === mrn ? first : await this.replacedBy(current)) ?? undefined);
  }

  /** the MRN a record was merged into (FHIR Patient.link replaced-by): null when none, undefined when there is no such patient */
  private async replacedBy(mrn: string): Promise<string | null | undefined> {
    const { status, body } = await this.get(`/fhir/Patient/${encodeURIComponent(mrn)}`);
    if (status === 404) return undefined;
    if (status !== 200) throw new PatientServiceUnavailable(`patient-service answered ${status} for a patient`);
    const links = (body as { link?: { type: string; other: { reference?: string } }[] }).link ?? [];
    return links.find((l) => l.type === 'replaced-by')?.other.reference?.replace(/^Patient\//, '') ?? null;
  }

  async stayOf(mrn: string, visitNumber: string): Promise<number | null> {
    const q = new URLSearchParams({ patient: `Patient/${mrn}`, identifier: visitNumber });
    const { status, body } = await this.get(`/fhir/Encounter?${q.toString()}`);
    if (status !== 200) throw new PatientServiceUnavailable(`patient-service answered ${status} for a stay`);
    const id = (body as { entry?: { resource: { id: string } }[] }).entry?.[0]?.resource.id;
    return id === undefined ? null : Number(id);
  }
}
