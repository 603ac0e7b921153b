/**
 * The HL7 part of the admin API: the messages the adapter holds, the frames it refused, dead letters, and replay of
 * one message or a time range. Same tokens, roles and audit log as the gateway's admin API
 * (which forwards /api/hl7/* here). Listings carry header fields only; the message itself
 * (patient data) is shown to operators on request, and that viewing is on the record.
 */
import type { FastifyInstance } from 'fastify';
import { deliveryRoutes } from './delivery-routes.js';
import { messageRoutes } from './message-routes.js';
import { rejectRoutes } from './reject-routes.js';
import { replayRoute } from './replay-route.js';
import type { Hl7ApiDeps } from './route-support.js';

export type { Hl7ApiDeps } from './route-support.js';
export { storedText } from './message-routes.js';

export function hl7Routes(app: FastifyInstance, d: Hl7ApiDeps): void {
  messageRoutes(app, d);
  deliveryRoutes(app, d);
  replayRoute(app, d);
  rejectRoutes(app, d);
}
