/**
 * Live figures: every panel reads the admin API every 2 s while the tab is visible. Polling
 * rather than Server-Sent Events: EventSource cannot send an Authorization header, and the token
 * must not travel in a URL (proxy and access logs keep URLs); a 2 s poll of a handful of small
 * JSON answers is cheap for the admin port.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

export const POLL_MS = 2_000;

export interface Polled<T> {
  data: T | undefined;
  error: unknown;
  /** when the latest read ended, answered or not */
  at: number | undefined;
  /** when `data` was read: older than `at` while reads fail */
  okAt: number | undefined;
  refresh: () => void;
}

type PollState<T> = Omit<Polled<T>, 'refresh'>;

export function usePoll<T>(load: () => Promise<T>, deps: unknown[] = []): Polled<T> {
  const [state, setState] = useState<PollState<T>>({ data: undefined, error: undefined, at: undefined, okAt: undefined });
  const loadRef = useRef(load);
  loadRef.current = load;
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      if (document.visibilityState === 'visible') {
        try {
          const data = await loadRef.current();
          const now = Date.now();
          if (!stopped) setState({ data, error: undefined, at: now, okAt: now });
        } catch (error) {
          if (!stopped) setState((s) => ({ ...s, error, at: Date.now() }));
        }
      }
      if (!stopped) timer = setTimeout(() => void run(), POLL_MS);
    };
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [tick, ...deps]);

  return { ...state, refresh: () => setTick((t) => t + 1) };
}
