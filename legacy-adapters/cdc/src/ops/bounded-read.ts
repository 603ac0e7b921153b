/**
 * A Redis read that the status waits for only a short time. The CDC's Redis connections retry a
 * command for as long as Redis is away (BullMQ needs maxRetriesPerRequest: null), so during an
 * outage such a read neither answers nor fails: awaited as it is, it held GET /api/cdc/status for
 * the whole outage. Past the bound the answer is null ("Redis did not answer").
 */
export const STATUS_REDIS_WAIT_MS = 2_000;

/**
 * `read`, bounded by `ms`, with at most one read in flight: a status polled every few seconds
 * through an outage reuses the read still waiting rather than queueing one more per poll on the
 * connection (they would all run at once when Redis comes back).
 */
export function boundedRead<T>(read: () => Promise<T>, ms = STATUS_REDIS_WAIT_MS): () => Promise<T | null> {
  let inFlight: Promise<T | null> | undefined;
  return () => {
    inFlight ??= read()
      .catch(() => null)
      .finally(() => {
        inFlight = undefined;
      });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
    return Promise.race([inFlight, late]).finally(() => clearTimeout(timer));
  };
}
