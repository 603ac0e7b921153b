/**
 * The demo's ports: each one's default and the variable that moves it (the demo, its test and
 * the end-to-end migration test set them the same way).
 */
import { portAvoiding } from './local-services.js';

export const DEMO_PORTS = {
  gateway: { variable: 'FICUS_GATEWAY_PORT', port: 8080 },
  admin: { variable: 'FICUS_ADMIN_PORT', port: 8081 },
  legacy: { variable: 'LEGACY_HIS_PORT', port: 8000 },
  patientService: { variable: 'PATIENT_SERVICE_PORT', port: 8101 },
  resultsService: { variable: 'RESULTS_SERVICE_PORT', port: 8102 },
  legacyHl7: { variable: 'LEGACY_HIS_HL7_PORT', port: 2576 },
  hl7: { variable: 'HL7_PORT', port: 2575 },
  hl7Api: { variable: 'HL7_API_PORT', port: 8091 },
  cdc: { variable: 'CDC_API_PORT', port: 8092 },
} as const;

export type DemoPort = keyof typeof DEMO_PORTS;
export type DemoPorts = Record<DemoPort, number>;

const names = Object.keys(DEMO_PORTS) as DemoPort[];

/** The ports as the environment sets them, else the defaults. */
export function demoPorts(env: NodeJS.ProcessEnv = {}): DemoPorts {
  return Object.fromEntries(names.map((n) => [n, Number(env[DEMO_PORTS[n].variable] ?? DEMO_PORTS[n].port)])) as DemoPorts;
}

/** The variables that make the demo use these ports. */
export function demoPortEnv(ports: DemoPorts): Record<string, string> {
  return Object.fromEntries(names.map((n) => [DEMO_PORTS[n].variable, String(ports[n])]));
}

/** Each port from `pick` (a spare one, say), no two alike: a port freed by one pick can come back at the next. */
export async function pickDemoPorts(pick: (name: DemoPort) => Promise<number> | number): Promise<DemoPorts> {
  const ports = {} as DemoPorts;
  const taken = new Set<number>();
  for (const n of names) {
    ports[n] = await portAvoiding(() => pick(n), taken);
    taken.add(ports[n]);
  }
  return ports;
}
