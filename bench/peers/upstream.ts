// The benchmark's upstream: a plain Node http server answering a patient-sized JSON document,
// the shape of the legacy API and of the extracted services that sit behind Ficus.
import { createServer } from 'node:http';

const body = JSON.stringify({
  mrn: '100042',
  lastName: 'SYNTHETIC',
  firstName: 'PATIENT',
  middleName: 'Q',
  dateOfBirth: '1961-07-14',
  sex: 'F',
  address: { line1: '12 HARBOUR ROAD', city: 'SPRINGFIELD', state: 'OR', zip: '97403' },
  phone: '555-0142',
  maritalStatus: 'M',
  active: true,
  lastUpdated: '2024-03-02T10:15:00.000Z',
});
const length = String(Buffer.byteLength(body));

const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': length });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
