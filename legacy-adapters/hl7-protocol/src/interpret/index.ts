/**
 * What HL7 v2 messages mean to the hospital's records, read into neutral objects: a PID's
 * demographics (HL7's "empty keeps, `""` clears" rule), a PV1's stay, an A03's discharge, an
 * A06/A07's change of class, an A40's merge pairs, an ORU's results with their fallbacks, and the refusals, worded alike
 * everywhere. The stand-in legacy system's HL7 inbound and the new services read messages
 * through it, each then writing its own storage, so that one message has one effect.
 * Nothing here does I/O.
 */
export { Hl7Refusal, refuse, at, type RefusalKind } from './refusal.js';
export { nth, dateTimeField, eventTime, segmentOccurrences, requireSegment, facilityKey, MRN_PATTERN, checkMrn, listedMrn, mrnRepetitionOf, patientMrn } from './message-reading.js';
export {
  readDemographics,
  demographicChanges,
  registration,
  otherIdentifiers,
  type Demographics,
  type DemographicField,
  type PatientRegistration,
  type OtherIdentifier,
  type SexCode,
  type MaritalCode,
} from './demographics.js';
export { UNKNOWN_WARD, visitNumber, readVisit, describesVisit, admissionTime, visitChanges, readDischarge, type VisitFields, type VisitChange, type Discharge } from './visit.js';
export { mergePairs, followMerges, type MergePair } from './merge.js';
export { readClassChange, stayToChange, classChangeOfDischargedStay, type ClassChangeEvent, type ClassChange, type NamedBy, type StayToChange, type StayLookups } from './class-change.js';
export { readIdentifierChange, noPatientToRenumber, mrnTaken, type IdentifierChange, type OtherIdentifierChange } from './identifier-change.js';
export {
  readResultMessage,
  readOrder,
  readObservation,
  type ResultMessage,
  type PatientGroup,
  type OrderGroup,
  type Order,
  type Observation,
  type LabResultValues,
  type PrintedResult,
} from './lab-results.js';
export { finalized, type FinalStatus } from './final-status.js';
export {
  unknownPatient,
  visitOfAnotherPatient,
  noStayWithVisitNumber,
  noOpenStay,
  admittedAfterDischarge,
  dischargedBeforeAdmission,
  mergeIntoItself,
  noSurvivor,
  noPatientToMerge,
  noResultToFinalize,
  noDischargedStay,
  stayNotDischarged,
  noVisitToCancel,
  cancelOfDischargedStay,
  resultsFiledUnderStay,
} from './record-refusals.js';
