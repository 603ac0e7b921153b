/**
 * Everything main.ts does short of signal handling (the kit's startService): migrate the
 * service's database, serve HTTP, and consume its HL7 queue and CDC topic. Exported so that
 * the demo and the tests run a complete results-service in-process.
 */
import type { Logger } from '@ficus/contracts';
import type { RetryPolicy } from '@ficus/contracts/queues';
import { outboxTable, startService, type OutboxSeam, type RunningService } from '@ficus/service-kit';
import { registerResultsServiceRoutes } from './app.js';
import { labResultsFeed } from './cdc/results-feed.js';
import { resultsServiceDatabaseUrl, type ResultsServiceConfig } from './config.js';
import { oruHandlers } from './hl7/oru-handler.js';
import { HttpPatientDirectory, type PatientDirectory } from './patient-directory.js';
import { ProvisionalResultsFollowMerges } from './results/provisional-merges.js';

export const SERVICE_NAME = 'results-service';
export const CDC_TOPICS = ['lab-results'] as const;

export type RunningResultsService = RunningService;

export interface StartExtras {
  /** the queues' retry policy (tests make it short) */
  retry?: Partial<RetryPolicy>;
  /** who answers for patients and stays (default: patient-service at PATIENT_SERVICE_URL) */
  patients?: PatientDirectory;
  /** where results taken here as system of record are handed over (default: the outbox table) */
  outbox?: OutboxSeam;
}

export async function startResultsService(config: ResultsServiceConfig, log: Logger, extras: StartExtras = {}): Promise<RunningResultsService> {
  const patients = extras.patients ?? new HttpPatientDirectory(config.PATIENT_SERVICE_URL, config.PATIENT_SERVICE_TIMEOUT_MS);
  return startService({
    name: SERVICE_NAME,
    config,
    host: config.RESULTS_SERVICE_HOST,
    port: config.RESULTS_SERVICE_PORT,
    databaseUrl: resultsServiceDatabaseUrl(config),
    systemOfRecord: config.RESULTS_SERVICE_SYSTEM_OF_RECORD,
    recordRule: config.RESULTS_SERVICE_RECORD_RULE,
    cdcTopics: CDC_TOPICS,
    log,
    retry: extras.retry,
    routes: (app, pool) =>
      registerResultsServiceRoutes(app, pool, {
        patients,
        fhir: {
          baseUrl: config.FHIR_BASE_URL,
          patientBase: (config.PATIENT_SERVICE_FHIR_BASE_URL ?? `${config.PATIENT_SERVICE_URL.replace(/\/$/, '')}/fhir`).replace(/\/$/, ''),
          orderSystem: config.RESULTS_SERVICE_ORDER_SYSTEM,
          localTestSystem: config.RESULTS_SERVICE_TEST_SYSTEM,
        },
      }),
    hl7Handlers: oruHandlers(patients, extras.outbox ?? outboxTable),
    feeds: [labResultsFeed()],
    background: (pool) => {
      const follow = new ProvisionalResultsFollowMerges(pool, patients, log, config.RESULTS_SERVICE_PROVISIONAL_CHECK_MS);
      follow.start();
      return follow;
    },
  });
}
