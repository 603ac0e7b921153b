/**
 * patient-service's routes (the kit adds /healthz, /readyz and /metrics): the legacy
 * contract's /api/patients and /api/encounters over its own tables, and FHIR R4 under /fhir.
 * Patients are written here only while patient-service is their system of record; before
 * that they belong to the legacy system, and a write sent here by mistake is refused
 * (PAT-503) rather than kept where the legacy would never see it.
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { LegacyError, registerEncounterRoutes, registerPatientRoutes } from '@ficus/legacy-his/contract';
import type { SystemOfRecordSource } from '@ficus/service-kit';
import { encountersOf } from './encounters/encounter-store.js';
import { registerPatientFhir, type FhirOptions } from './fhir/fhir-routes.js';
import type { OutboxSeam } from './outbox-seam.js';
import type { MrnBlock } from './patients/mrn-block.js';
import { PatientStore } from './patients/patient-store.js';

export interface PatientRoutesOptions {
  mrns: MrnBlock;
  outbox: OutboxSeam;
  systemOfRecord: SystemOfRecordSource;
  fhir: FhirOptions;
}

export async function registerPatientServiceRoutes(app: FastifyInstance, pool: pg.Pool, o: PatientRoutesOptions): Promise<void> {
  const patients = new PatientStore(pool, o.mrns, o.outbox);
  registerPatientRoutes(app, patients, {
    beforeWrite: async () => {
      const sor = o.systemOfRecord;
      // the emergency file as it is now, and, where that leaves the legacy the record, the rules
      // too: a write just after a flip may come before the change notification
      if ((await sor.fresh()) === 'service' || (await sor.refresh()) === 'service') return;
      const file = sor.emergencyFile();
      throw new LegacyError(
        503,
        file
          ? `Patients are written in the legacy system while the emergency override file ${file} holds their record there (break glass); patient-service takes writes again once it is removed`
          : 'Patients are written in the legacy system until patient-service becomes their system of record',
      );
    },
  });
  registerEncounterRoutes(app, { patientExists: (mrn) => patients.exists(mrn), encountersOf: (mrn) => encountersOf(pool, mrn) });
  await registerPatientFhir(app, pool, o.fhir);
}
