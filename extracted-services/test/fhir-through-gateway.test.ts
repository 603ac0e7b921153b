/**
 * A FHIR client reaches the services' FHIR APIs through the gateway, as a hospital deploys
 * them: the shipped rules (routing-rules/), a real gateway on a real port, patient-service and
 * results-service told the public FHIR base (`FHIR_BASE_URL`, `PATIENT_SERVICE_FHIR_BASE_URL`)
 * as docker-compose.yml and deploy/k8s set it: the gateway's /fhir. The client reads a Patient,
 * pages an Observation search by its `next` links and follows each result's references to the
 * Patient and Encounter, all at the gateway. Legacy has no FHIR API: when a service is down the
 * client gets the gateway's 5xx, never the legacy's answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/lib/local-services.js';
import { fhirProblems } from '../../test-support/fhir-schema.js';
import { startHarness, type Harness } from '../../test-support/legacy-his.js';
import { SHIPPED_RULES_DIR, startGatewayUnderTest, type GatewayUnderTest } from '../../gateway/test/support/gateway-harness.js';
import { addPatients, addResults, addStays, startFhirScene, type FhirScene } from './support/fhir-scene.js';

interface Answer<T> {
  status: number;
  route: string | null;
  type: string | null;
  body: T;
}
interface Bundle {
  total: number;
  link: { relation: string; url: string }[];
  entry?: { fullUrl: string; resource: { id: string; subject: { reference: string }; encounter?: { reference: string }; result?: { reference: string }[] } }[];
}

let legacy: Harness;
let scene: FhirScene;
let gw: GatewayUnderTest;
let fhirBase: string;
const MRN = '7800001';

async function get<T>(url: string): Promise<Answer<T>> {
  const res = await fetch(url, { headers: { accept: 'application/fhir+json' } });
  const text = await res.text();
  return { status: res.status, route: res.headers.get('x-ficus-route'), type: res.headers.get('content-type'), body: (text ? JSON.parse(text) : undefined) as T };
}

beforeAll(async () => {
  legacy = await startHarness('svc_fhir_gw_legacy', { patients: 5, seed: 7_808 });
  // the services need the gateway's address (their public FHIR base) before it knows theirs
  const port = await freePort();
  fhirBase = `http://127.0.0.1:${port}/fhir`;
  scene = await startFhirScene('svc_fhir_gw', { patients: { FHIR_BASE_URL: fhirBase }, results: { FHIR_BASE_URL: fhirBase, PATIENT_SERVICE_FHIR_BASE_URL: fhirBase } });
  await addPatients(scene.patients, [{ mrn: MRN, family: 'GATEWAY', given: 'GRETA', birthDate: '1961-02-03' }]);
  await addStays(scene.patients, MRN, 2, 3_000_000_000);
  await addResults(scene.results, { mrn: MRN, count: 130, firstId: 990_100_000_000, orderPrefix: 'GW' });
  await scene.results.pool.query('UPDATE lab_result SET encounter_id = 3000000001 WHERE mrn = $1', [MRN]);
  gw = await startGatewayUnderTest(
    { dir: SHIPPED_RULES_DIR },
    { FICUS_GATEWAY_PORT: String(port) },
    { FICUS_UPSTREAM_LEGACY_URL: legacy.base, FICUS_UPSTREAM_PATIENT_SERVICE_URL: scene.patients.url, FICUS_UPSTREAM_RESULTS_SERVICE_URL: scene.results.url },
  );
  expect(gw.url).toBe(`http://127.0.0.1:${port}`);
});

afterAll(async () => {
  await gw?.close();
  await scene?.close();
  await legacy?.close();
});

describe('the FHIR APIs through the gateway (shipped rules)', () => {
  it('GET /fhir/Patient/{id} is answered by patient-service, a valid Patient', async () => {
    const patient = await get<{ resourceType: string; id: string }>(`${fhirBase}/Patient/${MRN}`);
    expect(patient).toMatchObject({ status: 200, route: 'fhir-patients; patient-service', type: 'application/fhir+json; charset=utf-8', body: { resourceType: 'Patient', id: MRN } });
    expect(fhirProblems(patient.body)).toEqual([]);
    // the base's CapabilityStatement, and a FHIR answer for what no service serves
    expect(await get(`${fhirBase}/metadata`)).toMatchObject({ status: 200, route: 'fhir-patients; patient-service', body: { resourceType: 'CapabilityStatement' } });
    expect(await get(`${fhirBase}/Medication/1`)).toMatchObject({ status: 404, route: 'fhir-patients; patient-service', body: { resourceType: 'OperationOutcome' } });
    // the legacy API goes on as the shipped rules say
    expect((await get(`${gw.url}/api/patients/100001`)).route).toBe('patients-read; legacy');
  });

  it("the base's CapabilityStatement states every resource the base serves, and each is searchable there", async () => {
    type Capability = { resourceType: string; implementation?: { url: string }; rest: { resource: { type: string; searchParam: { name: string }[] }[] }[] };
    const capability = await get<Capability>(`${fhirBase}/metadata`);
    expect(capability).toMatchObject({ status: 200, route: 'fhir-patients; patient-service', body: { resourceType: 'CapabilityStatement', implementation: { url: fhirBase } } });
    expect(fhirProblems(capability.body)).toEqual([]);
    // before 2026-12-07 it listed patient-service's Patient and Encounter only: a client reading
    // it learnt that the base has no Observation, and never asked for results
    const resources = capability.body.rest[0]!.resource;
    expect(resources.map((r) => r.type).sort()).toEqual(['DiagnosticReport', 'Encounter', 'Observation', 'Patient']);
    for (const r of resources) {
      const byPatient = r.searchParam.some((p) => p.name === 'patient') ? `patient=${MRN}` : `identifier=${MRN}`;
      const search = await get<{ resourceType: string; type: string; total: number }>(`${fhirBase}/${r.type}?${byPatient}`);
      expect(search, r.type).toMatchObject({ status: 200, body: { resourceType: 'Bundle', type: 'searchset' } });
      expect(search.body.total, r.type).toBeGreaterThan(0);
    }
    // results-service, told the same base, states the same
    const direct = await get<Capability>(`${scene.results.url}/fhir/metadata`);
    expect(direct.body.rest[0]!.resource.map((r) => r.type).sort()).toEqual(['DiagnosticReport', 'Encounter', 'Observation', 'Patient']);
  });

  it('an Observation search pages by next links at the gateway, and every reference resolves there', async () => {
    const ids: string[] = [];
    let page = await get<Bundle>(`${fhirBase}/Observation?patient=${MRN}&_count=50`);
    for (;;) {
      expect(page).toMatchObject({ status: 200, route: 'fhir-results; results-service', type: 'application/fhir+json; charset=utf-8' });
      expect(fhirProblems(page.body)).toEqual([]);
      expect(page.body.total).toBe(130);
      for (const l of page.body.link) expect(l.url.startsWith(`${fhirBase}/Observation?`), l.url).toBe(true);
      for (const e of page.body.entry ?? []) {
        expect(e.fullUrl).toBe(`${fhirBase}/Observation/${e.resource.id}`);
        expect([e.resource.subject.reference, e.resource.encounter?.reference]).toEqual([`${fhirBase}/Patient/${MRN}`, `${fhirBase}/Encounter/3000000001`]);
        ids.push(e.resource.id);
      }
      const next = page.body.link.find((l) => l.relation === 'next')?.url;
      if (!next) break;
      page = await get<Bundle>(next);
    }
    const expected = (await scene.results.pool.query<{ id: string }>('SELECT id::text FROM lab_result WHERE mrn = $1 ORDER BY collected_at DESC, id DESC', [MRN])).rows.map((r) => r.id);
    expect(ids).toEqual(expected);
    // a result's references, followed as they stand
    const first = (await get<Bundle>(`${fhirBase}/Observation?patient=${MRN}&_count=1`)).body.entry![0]!;
    expect(await get(first.fullUrl)).toMatchObject({ status: 200, route: 'fhir-results; results-service', body: { resourceType: 'Observation', id: first.resource.id } });
    expect(await get(first.resource.subject.reference)).toMatchObject({ status: 200, route: 'fhir-patients; patient-service', body: { resourceType: 'Patient', id: MRN } });
    expect(await get(first.resource.encounter!.reference)).toMatchObject({ status: 200, route: 'fhir-patients; patient-service', body: { resourceType: 'Encounter', id: '3000000001' } });
  });

  it('a DiagnosticReport search and the report it finds, at the gateway', async () => {
    const reports = await get<Bundle>(`${fhirBase}/DiagnosticReport?patient=Patient/${MRN}&_count=10`);
    expect(reports).toMatchObject({ status: 200, route: 'fhir-results; results-service', body: { total: 44 } });
    const newest = reports.body.entry![0]!;
    expect(newest.fullUrl).toBe(`${fhirBase}/DiagnosticReport/${MRN}-GW43`);
    const read = await get<{ result: { reference: string }[] }>(newest.fullUrl);
    expect(read).toMatchObject({ status: 200, route: 'fhir-results; results-service' });
    expect(read.body.result).toHaveLength(1);
    expect(await get(`${fhirBase}/${read.body.result[0]!.reference}`)).toMatchObject({ status: 200, body: { resourceType: 'Observation' } });
  });

  it('with results-service down, a FHIR read gets the gateway 5xx, never an answer of the legacy', async () => {
    await scene.results.close();
    const down = await get<unknown>(`${fhirBase}/Observation?patient=${MRN}`);
    expect([502, 503, 504]).toContain(down.status);
    expect(down.route).toMatch(/^fhir-results; results-service/);
    expect(down.route).not.toMatch(/legacy/);
  });
});
