/**
 * What each Ficus service serves of FHIR, in one place: each service validates its searches
 * against its own resources' parameters, and states what the whole FHIR base serves.
 *
 * The shipped rules (routing-rules/05-fhir.yaml) put both services behind one base, the
 * gateway's /fhir, and send /fhir/metadata to patient-service. A FHIR client learns what a base
 * serves from that one CapabilityStatement: listing only Patient and Encounter there tells it
 * the base has no Observation, and a client that checks (most SMART apps and test tools do) never
 * asks for results. So a service told the public base (FHIR_BASE_URL: it is reached through the
 * gateway) states the whole base; reached directly, its own resources only.
 */
import { capabilityStatement, type SearchParamType } from './fhir-http.js';

export type FicusFhirService = 'patient-service' | 'results-service';

interface ServedResource {
  type: string;
  servedBy: FicusFhirService;
  searchParams: Readonly<Record<string, SearchParamType>>;
}

export const PATIENT_SEARCH = { identifier: 'token', name: 'string', family: 'string', given: 'string', birthdate: 'date', _count: 'number', _offset: 'number' } as const;
export const ENCOUNTER_SEARCH = { patient: 'reference', subject: 'reference', identifier: 'token', _count: 'number' } as const;
export const OBSERVATION_SEARCH = { patient: 'reference', subject: 'reference', date: 'date', _count: 'number' } as const;
export const REPORT_SEARCH = { patient: 'reference', subject: 'reference', identifier: 'token', _count: 'number' } as const;

const SERVED: readonly ServedResource[] = [
  { type: 'Patient', servedBy: 'patient-service', searchParams: PATIENT_SEARCH },
  { type: 'Encounter', servedBy: 'patient-service', searchParams: ENCOUNTER_SEARCH },
  { type: 'Observation', servedBy: 'results-service', searchParams: OBSERVATION_SEARCH },
  { type: 'DiagnosticReport', servedBy: 'results-service', searchParams: REPORT_SEARCH },
];

/**
 * The CapabilityStatement `service` answers GET /fhir/metadata with: the whole base's resources
 * when it knows the public base (`publicBase`), its own otherwise.
 */
export function ficusCapabilityStatement(service: FicusFhirService, publicBase: string | undefined) {
  const resources = SERVED.filter((r) => publicBase !== undefined || r.servedBy === service).map((r) => ({ type: r.type, searchParams: { ...r.searchParams } }));
  const statement = capabilityStatement(publicBase === undefined ? `Ficus ${service}` : 'Ficus', resources);
  return publicBase === undefined ? statement : { ...statement, implementation: { description: 'Ficus FHIR R4 base (patient-service and results-service behind the gateway)', url: publicBase } };
}
