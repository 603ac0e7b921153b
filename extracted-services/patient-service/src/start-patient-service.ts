/**
 * Everything main.ts does short of signal handling (the kit's startService): migrate the
 * service's database, serve HTTP, and consume its HL7 queue and CDC topics. Exported so that
 * the demo and the tests run a complete patient-service in-process.
 */
import type { Logger } from '@ficus/contracts';
import type { RetryPolicy } from '@ficus/contracts/queues';
import { startService, type RunningService } from '@ficus/service-kit';
import { registerPatientServiceRoutes } from './app.js';
import { admissionsFeed, mergesFeed, patientsFeed, wardsFeed } from './cdc/patient-feeds.js';
import { patientServiceDatabaseUrl, type PatientServiceConfig } from './config.js';
import { adtHandlers } from './hl7/adt-handlers.js';
import { outboxTable, type OutboxSeam } from './outbox-seam.js';
import { MrnBlock } from './patients/mrn-block.js';

export const SERVICE_NAME = 'patient-service';
export const CDC_TOPICS = ['patients', 'wards', 'admissions', 'patient-merges'] as const;

export type RunningPatientService = RunningService;

export interface StartExtras {
  /** the queues' retry policy (tests make it short) */
  retry?: Partial<RetryPolicy>;
  /** where changes made here as system of record are handed over (default: the outbox table) */
  outbox?: OutboxSeam;
}

export async function startPatientService(config: PatientServiceConfig, log: Logger, extras: StartExtras = {}): Promise<RunningPatientService> {
  const mrns = new MrnBlock(config.PATIENT_SERVICE_MRN_FIRST, config.PATIENT_SERVICE_MRN_LAST);
  const outbox = extras.outbox ?? outboxTable;
  return startService({
    name: SERVICE_NAME,
    config,
    host: config.PATIENT_SERVICE_HOST,
    port: config.PATIENT_SERVICE_PORT,
    databaseUrl: patientServiceDatabaseUrl(config),
    systemOfRecord: config.PATIENT_SERVICE_SYSTEM_OF_RECORD,
    recordRule: config.PATIENT_SERVICE_RECORD_RULE,
    cdcTopics: CDC_TOPICS,
    log,
    retry: extras.retry,
    init: (pool) => mrns.init(pool),
    routes: (app, pool, systemOfRecord) =>
      registerPatientServiceRoutes(app, pool, {
        mrns,
        outbox,
        systemOfRecord,
        fhir: {
          baseUrl: config.FHIR_BASE_URL,
          mrnSystem: config.PATIENT_SERVICE_MRN_SYSTEM,
          visitSystem: config.PATIENT_SERVICE_VISIT_SYSTEM,
          wardSystem: config.PATIENT_SERVICE_WARD_SYSTEM,
        },
      }),
    hl7Handlers: adtHandlers(mrns, outbox),
    feeds: [patientsFeed(mrns), wardsFeed(), admissionsFeed(), mergesFeed()],
  });
}
