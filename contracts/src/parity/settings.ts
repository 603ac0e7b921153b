/**
 * The shadow, comparison and parity-gate settings of a rule with their defaults applied: one
 * place, read by the gateway's data plane, its control plane and the HL7 adapter.
 */
import type { CompareSettings, Hl7Parity, ParityGate, ShadowSettings } from '../rules/model.js';

export interface ResolvedShadow {
  writes: boolean;
  concurrency: number;
  timeoutMs: number;
  maxBodyBytes: number;
}

export const SHADOW_DEFAULTS: ResolvedShadow = { writes: false, concurrency: 16, timeoutMs: 10_000, maxBodyBytes: 1024 * 1024 };

export function resolveShadow(s: ShadowSettings | undefined): ResolvedShadow {
  return {
    writes: s?.writes ?? SHADOW_DEFAULTS.writes,
    concurrency: s?.concurrency ?? SHADOW_DEFAULTS.concurrency,
    timeoutMs: s?.timeoutMs ?? SHADOW_DEFAULTS.timeoutMs,
    maxBodyBytes: s?.maxBodyBytes ?? SHADOW_DEFAULTS.maxBodyBytes,
  };
}

export interface ResolvedGate {
  threshold: number;
  minCompared: number;
  /** distinct keys (patients) the window must have compared */
  minKeys: number;
  window: string;
  windowMinutes: number;
  /** canary above this percent is gated; undefined: only new (and retired) */
  gateAbovePercent: number | undefined;
}

export const GATE_DEFAULTS = { threshold: 0.99, minCompared: 100, window: '1h' } as const;
/** minKeys defaults to minCompared up to this: breadth, without asking a big minCompared in patients */
export const DEFAULT_MIN_KEYS_CAP = 100;

/** `15m`, `1h`, `7d` in minutes; undefined when malformed. */
export function durationMinutes(text: string): number | undefined {
  const m = /^([1-9][0-9]{0,5})([mhd])$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === 'm' ? n : m[2] === 'h' ? n * 60 : n * 1440;
}

/** The gate of a rule, or undefined when the rule has none (no `parity` section: not gated). */
export function resolveGate(p: (ParityGate & { gateAbovePercent?: number }) | Hl7Parity | undefined): ResolvedGate | undefined {
  if (!p) return undefined;
  const window = p.window ?? GATE_DEFAULTS.window;
  const minCompared = p.minCompared ?? GATE_DEFAULTS.minCompared;
  return {
    threshold: p.threshold ?? GATE_DEFAULTS.threshold,
    minCompared,
    minKeys: p.minKeys ?? Math.min(minCompared, DEFAULT_MIN_KEYS_CAP),
    window,
    windowMinutes: durationMinutes(window) ?? 60,
    gateAbovePercent: 'gateAbovePercent' in p ? p.gateAbovePercent : undefined,
  };
}

/** What a gate weighs: requests and the distinct keys among them. */
export interface GateEvidence {
  compared: number;
  parity: number | null;
  keys: number;
  keyParity: number | null;
}

/**
 * Open when both the requests and the keys (patients) clear the threshold, each over its
 * minimum: a key that differed once in the window counts as differing, so repeating one good
 * request neither adds breadth nor dilutes a patient who differs.
 */
export function gateOpen(e: GateEvidence, gate: Pick<ResolvedGate, 'threshold' | 'minCompared' | 'minKeys'>): boolean {
  return e.compared >= gate.minCompared && e.parity !== null && e.parity >= gate.threshold && e.keys >= gate.minKeys && e.keyParity !== null && e.keyParity >= gate.threshold;
}

export const DEFAULT_COMPARED_HEADERS = ['content-type'];
export const DEFAULT_SAMPLE_RATE = 0.1;

export type { CompareSettings };
