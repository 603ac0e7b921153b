/**
 * FHIR search paging as a client (a SMART app) uses it: `_count`, then the Bundle's `next`
 * links until there is none. A chart longer than any page (5,002 results, 1,668 reports) comes
 * whole, each entry once, in the search's order; results filed or removed while the client
 * pages shift nothing; `previous` and `self` give back the pages they name. Every Bundle (with
 * its first entries) is validated against the R4 schema.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirProblems } from '../../test-support/fhir-schema.js';
import { reportId } from '../results-service/src/fhir/report-id.js';
import { addPatients, addResults, addStays, startFhirScene, type FhirScene } from './support/fhir-scene.js';

interface Bundle {
  resourceType: 'Bundle';
  total: number;
  link: { relation: string; url: string }[];
  entry?: { fullUrl: string; resource: { id: string; result?: unknown[] } }[];
}

let scene: FhirScene;
const LONG = '7600001';

async function bundle(url: string, status = 200): Promise<Bundle> {
  const res = await fetch(url);
  const body = (await res.json()) as Bundle;
  expect(res.status, `${url}: ${JSON.stringify(body)}`).toBe(status);
  // the Bundle and its first entries (the schema takes over a second for 200 entries of one shape)
  expect(fhirProblems(body.entry ? { ...body, entry: body.entry.slice(0, 3) } : body), url).toEqual([]);
  return body;
}

const link = (b: Bundle, relation: string) => b.link.find((l) => l.relation === relation)?.url;
const ids = (b: Bundle) => (b.entry ?? []).map((e) => e.resource.id);

/** every page from `url` on, following `next` */
async function walk(url: string): Promise<Bundle[]> {
  const pages = [await bundle(url)];
  for (let next = link(pages[0]!, 'next'); next; next = link(pages[pages.length - 1]!, 'next')) {
    pages.push(await bundle(next));
    expect(pages.length, 'pages').toBeLessThan(1_000);
  }
  return pages;
}

beforeAll(async () => {
  scene = await startFhirScene('svc_fhir_paging');
  // 5,001 results in 1,667 orders of three, and one more (an order number that is no FHIR id) collected before all of them
  await addResults(scene.results, { mrn: LONG, count: 5_001, firstId: 980_000_000_000, orderPrefix: 'LONG' });
  await scene.results.pool.query(
    "INSERT INTO lab_result (id, mrn, order_number, test_code, test_name, value, status, collected_at) VALUES (979999999999, $1, 'ORD 77/1', 'NOTE', 'NOTE', 'SEE NOTE', 'F', '2019-06-01 08:00')",
    [LONG],
  );
  // 23 patients, five of them one family and given name (the MRN orders them), and one with 7 stays
  const same = ['7700005', '7700001', '7700004', '7700002', '7700003'].map((mrn) => ({ mrn, family: 'SAMENAME', given: 'ANNA' }));
  const others = Array.from({ length: 18 }, (_, i) => ({ mrn: `77001${String(i).padStart(2, '0')}`, family: `FAMILY${String.fromCharCode(90 - i)}`, given: `GIVEN${i % 4}` }));
  await addPatients(scene.patients, [...same, ...others]);
  await addStays(scene.patients, '7700001', 7, 2_000_000_000);
});

afterAll(async () => {
  await scene?.close();
});

describe('Observation', () => {
  it('pages a chart of 5,002 results whole: each once, newest first, 200 to a page at most, with a total', async () => {
    const expected = (await scene.results.pool.query<{ id: string }>('SELECT id::text FROM lab_result WHERE mrn = $1 ORDER BY collected_at DESC, id DESC', [LONG])).rows.map((r) => r.id);
    expect(expected).toHaveLength(5_002);
    // the default page
    const first = await bundle(`${scene.results.url}/fhir/Observation?patient=${LONG}`);
    expect([first.total, ids(first).length, link(first, 'previous')]).toEqual([5_002, 50, undefined]);
    // a _count above the most a page holds is served that many at a time, as the self link says
    const pages = await walk(`${scene.results.url}/fhir/Observation?patient=${LONG}&_count=1000`);
    expect(link(pages[0]!, 'self')).toBe(`${scene.results.url}/fhir/Observation?patient=${LONG}&_count=200`);
    expect(pages.map((p) => ids(p).length)).toEqual([...Array<number>(25).fill(200), 2]);
    expect(pages.flatMap(ids)).toEqual(expected);
    for (const p of pages) expect(p.total).toBe(5_002);
    // the links are absolute, at the service's FHIR base (no FHIR_BASE_URL: the request's own)
    expect(link(pages[1]!, 'next')).toMatch(new RegExp(`^${scene.results.url}/fhir/Observation\\?patient=${LONG}&_count=200&_cursor=[\\w-]+$`));
  });

  it('self names its page, previous goes back to the page before, and _count=0 gives the total alone', async () => {
    const pages = await walk(`${scene.results.url}/fhir/Observation?patient=${LONG}&date=ge2020-01-01&_count=100`);
    expect(pages[0]!.total).toBe(5_001);
    const third = pages[2]!;
    expect(ids(await bundle(link(third, 'self')!))).toEqual(ids(third));
    expect(ids(await bundle(link(third, 'previous')!))).toEqual(ids(pages[1]!));
    const second = await bundle(link(third, 'previous')!);
    expect(ids(await bundle(link(second, 'previous')!))).toEqual(ids(pages[0]!));
    expect(link(await bundle(link(second, 'previous')!), 'previous')).toBeUndefined();
    expect(ids(await bundle(link(second, 'next')!))).toEqual(ids(third));
    const none = await bundle(`${scene.results.url}/fhir/Observation?patient=${LONG}&_count=0`);
    expect([none.total, none.entry, link(none, 'next')]).toEqual([5_002, undefined, undefined]);
  });

  it('results filed and removed while a client pages change nothing in the pages still to come', async () => {
    const all = async () => (await scene.results.pool.query<{ id: string }>('SELECT id::text FROM lab_result WHERE mrn = $1 ORDER BY collected_at DESC, id DESC', [LONG])).rows.map((r) => r.id);
    const before = await all();
    const first = await bundle(`${scene.results.url}/fhir/Observation?patient=${LONG}&_count=200`);
    // one result of the page already read moved to another patient (a merge), a late one filed
    // among the older ones (not read yet), and one filed newer than all (on the page already read)
    const moved = ids(first)[10]!;
    await scene.results.pool.query('UPDATE lab_result SET mrn = $2 WHERE id = $1', [moved, '7600002']);
    const insert = "INSERT INTO lab_result (id, mrn, order_number, test_code, test_name, value, status, collected_at) VALUES ($1, $2, 'LATE', 'NOTE', 'NOTE', 'LATE', 'F', $3)";
    await scene.results.pool.query(insert, [981000000001, LONG, '2020-01-01 08:30']);
    await scene.results.pool.query(insert, [981000000002, LONG, '2030-01-01 08:00']);
    try {
      const rest: string[] = [];
      for (let next = link(first, 'next'); next; ) {
        const page = await bundle(next);
        rest.push(...ids(page));
        next = link(page, 'next');
      }
      const now = await all();
      expect(rest).toEqual(now.slice(now.indexOf(ids(first)[199]!) + 1));
      // an offset (200) would have started one further on: this result never shown
      expect(rest[0]).toBe(before[200]);
      expect(rest.filter((id) => id === '981000000001')).toHaveLength(1);
    } finally {
      await scene.results.pool.query('DELETE FROM lab_result WHERE id IN (981000000001, 981000000002)');
      await scene.results.pool.query('UPDATE lab_result SET mrn = $1 WHERE id = $2', [LONG, moved]);
    }
  });

  it('a cursor this server did not give, or with an offset, is refused, never read as a first page', async () => {
    for (const q of ['_cursor=bm9wZQ', '_cursor=%22%3B%20DROP', `_cursor=${Buffer.from('["n","2020-02-30 08:00:00","1"]').toString('base64url')}`, '_count=2.5', '_count=ten', '_offset=10']) {
      const res = await fetch(`${scene.results.url}/fhir/Observation?patient=${LONG}&${q}`);
      expect(res.status, q).toBe(400);
      expect(await res.json(), q).toMatchObject({ resourceType: 'OperationOutcome' });
    }
  });
});

describe('DiagnosticReport', () => {
  it("pages 1,668 reports, each whole on one page with all of its order's results, newest first", async () => {
    const pages = await walk(`${scene.results.url}/fhir/DiagnosticReport?patient=${LONG}&_count=200`);
    const reports = pages.flatMap((p) => (p.entry ?? []).map((e) => e.resource));
    expect(pages[0]!.total).toBe(1_668);
    expect(reports).toHaveLength(1_668);
    expect(new Set(reports.map((r) => r.id)).size).toBe(1_668);
    expect(reports.slice(0, 2).map((r) => r.id)).toEqual([`${LONG}-LONG1666`, `${LONG}-LONG1665`]);
    for (const r of reports.slice(0, -1)) expect(r.result, r.id).toHaveLength(3);
    expect(reports[reports.length - 1]!.id).toBe(reportId(LONG, 'ORD 77/1'));
  });

  it("reads a report by its hashed id (an order number that is no FHIR id) behind a patient's newest 5,000 results", async () => {
    const id = reportId(LONG, 'ORD 77/1');
    expect(id).toMatch(/^h-7600001-[0-9a-f]{32}$/);
    const read = await fetch(`${scene.results.url}/fhir/DiagnosticReport/${id}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ id, result: [{ reference: 'Observation/979999999999' }] });
  });
});

describe('Patient and Encounter', () => {
  it('pages patients by name and then MRN, whole, with previous and an _offset as before', async () => {
    const pages = await walk(`${scene.patients.url}/fhir/Patient?_count=4`);
    const all = pages.flatMap(ids);
    expect(pages.map((p) => p.total)).toEqual(Array<number>(6).fill(23));
    expect(all).toHaveLength(23);
    expect(all.filter((id) => /^77000/.test(id))).toEqual(['7700001', '7700002', '7700003', '7700004', '7700005']);
    expect(ids(await bundle(link(pages[3]!, 'previous')!))).toEqual(ids(pages[2]!));
    const byName = await walk(`${scene.patients.url}/fhir/Patient?family=samename&_count=2`);
    expect(byName.map(ids)).toEqual([['7700001', '7700002'], ['7700003', '7700004'], ['7700005']]);
    // _offset is still read (clients used it); its next link continues by cursor
    const offset = await bundle(`${scene.patients.url}/fhir/Patient?family=samename&_count=2&_offset=1`);
    expect(ids(offset)).toEqual(['7700002', '7700003']);
    expect(ids(await bundle(link(offset, 'next')!))).toEqual(['7700004', '7700005']);
    expect(ids(await bundle(link(offset, 'previous')!))).toEqual(['7700001']);
    await bundle(`${link(offset, 'next')!}&_offset=1`, 400);
  });

  it("pages a patient's stays, newest first", async () => {
    const pages = await walk(`${scene.patients.url}/fhir/Encounter?patient=7700001&_count=3`);
    expect(pages.map(ids)).toEqual([
      ['2000000006', '2000000005', '2000000004'],
      ['2000000003', '2000000002', '2000000001'],
      ['2000000000'],
    ]);
    expect(pages[0]!.total).toBe(7);
  });
});
