/**
 * Messages that ask for data and expect it back in the answer (ADR, RSP, RTB, VXR, RPI…), not an
 * acknowledgement: original-mode queries (QRY, and chapter 4's VXQ, chapter 11's RQI…) and
 * query-by-parameter (QBP, QSB, QVR, and v2.3's EQQ, ERQ, VQQ, SPQ). A store-and-forward
 * receiver that answered one of them with an ACK would tell the sender "accepted" and never give
 * it the data.
 */
const QUERY_MESSAGE_TYPES: ReadonlySet<string> = new Set(['QRY', 'QBP', 'QSB', 'QVR', 'VXQ', 'RQI', 'RQQ', 'EQQ', 'ERQ', 'VQQ', 'SPQ']);

/** whether MSH-9.1 names a query (answered with data) */
export const isQuery = (messageType: string): boolean => QUERY_MESSAGE_TYPES.has(messageType);
