/**
 * Why a component behind the admin API (the HL7 adapter, the CDC reader) gave no figures, from
 * the forwarder's answer (gateway/src/admin/component-forwarder.ts). A timed-out read (504
 * component-timeout) is not a component that is not running: the adapter busy on a slow
 * database still takes messages, and an on-call admin told "not running" restarts it for
 * nothing. No imports: the unit test runs it under Node.
 */

export type TroubleKind = 'down' | 'timeout' | 'bad';

export interface Trouble {
  kind: TroubleKind;
  /** the answer's status and the forwarder's detail, as shown in brackets */
  why: string;
}

interface ProblemLike {
  type?: unknown;
  detail?: unknown;
}

const slugOf = (p: ProblemLike) => (typeof p.type === 'string' ? p.type.slice(p.type.lastIndexOf('/') + 1) : undefined);

/**
 * A status the forwarder answers for a component that gave no answer, or null for an answer of
 * the component itself (an error the panel shows as such). 404: no forwarder (or no such route).
 */
export function componentTrouble(status: number, problem: ProblemLike = {}): Trouble | null {
  const slug = slugOf(problem);
  const kind: TroubleKind | null =
    slug === 'component-timeout' || status === 504 ? 'timeout' : slug === 'bad-component-response' || status === 502 ? 'bad' : status === 404 || status === 503 ? 'down' : null;
  if (!kind) return null;
  const detail = typeof problem.detail === 'string' && problem.detail !== '' ? `: ${problem.detail}` : '';
  return { kind, why: `HTTP ${status}${detail}` };
}

/** What a panel says instead of figures it could not read; `title` is "The HL7 adapter". */
export function troubleText(title: string, t: Trouble): string {
  switch (t.kind) {
    case 'timeout':
      return `${title} did not answer in time (${t.why}). It may well be running, busy or slowed down: this is not the same as not running. The page keeps trying.`;
    case 'bad':
      return `${title} answered badly (${t.why}): it is running, but its answer broke off. The page keeps trying.`;
    case 'down':
      return `${title} is not running, or not reachable through the admin API (${t.why}).`;
  }
}
