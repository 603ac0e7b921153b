/** The patient table read as the legacy contract's neutral record (patientJson). */
import { sqlDate, sqlTimestamp } from '@ficus/legacy-his/contract';

/** the patient table's columns as the contract's neutral record (patientJson) */
export const PATIENT_COLUMNS = `p.mrn, p.family_name AS "lastName", p.given_name AS "firstName", p.middle_name AS "middleName",
  ${sqlDate('p.birth_date')} AS "dateOfBirth", p.sex, p.address_line AS line1, p.city, p.state, p.postal_code AS zip, p.phone,
  p.marital_status AS "maritalStatus", p.active, ${sqlTimestamp('p.created_at')} AS created, ${sqlTimestamp('p.updated_at')} AS "lastUpdated",
  p.updated_by AS "lastUpdatedBy"`;
