/**
 * The routing rule model: one language for every Ficus deployable.
 *
 * A rule document has sections; each deployable reads the sections it owns
 * (the gateway: `upstreams` and `http`). The schemas below are the single source of
 * truth for the YAML files in routing-rules/, for the rule store and for the admin API.
 */
import { Type, type Static } from '@sinclair/typebox';

const Identifier = Type.String({
  pattern: '^[a-z0-9][a-z0-9-]{0,62}$',
  description: 'lower-case letters, digits and dashes, starting with a letter or digit',
});

/** A string enum as plain JSON Schema `enum`, so validation errors name the allowed values. */
function StringEnum<const T extends readonly string[]>(values: T, description?: string) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...(description ? { description } : {}) });
}

const PositiveMs = (description: string, dflt: number) =>
  Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000, default: dflt, description }));

export const TimeoutsSchema = Type.Object(
  {
    connectMs: PositiveMs('TCP connect timeout; exceeded: 504', 2_000),
    responseHeadersMs: PositiveMs('time to the first response byte; exceeded: 504', 30_000),
    bodyIdleMs: PositiveMs('longest pause inside a body; exceeded: connection closed', 60_000),
    // no fixed default: it follows connectMs (HAProxy's `timeout queue` falls back to `timeout connect` the same way)
    queueMs: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 3_600_000,
        description: 'longest wait for a free pooled connection while all are busy (default: connectMs); exceeded: 503 upstream-busy, or legacy for a safe request a fallback can take',
      }),
    ),
  },
  { additionalProperties: false },
);

export const PoolSchema = Type.Object(
  {
    connections: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096, default: 128 })),
    keepAliveMs: PositiveMs('how long an idle upstream connection is kept', 4_000),
  },
  { additionalProperties: false },
);

export const HealthCheckSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ default: true })),
    path: Type.Optional(Type.String({ pattern: '^/', default: '/healthz' })),
    intervalMs: PositiveMs('time between two active checks', 2_000),
    timeoutMs: PositiveMs('a check slower than this fails', 1_000),
    unhealthyAfter: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 2 })),
    healthyAfter: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 1 })),
  },
  { additionalProperties: false },
);

export const CircuitBreakerSchema = Type.Object(
  {
    failureThreshold: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10_000,
        default: 5,
        description: 'consecutive failures (connection error, timeout, 5xx) that open the circuit',
      }),
    ),
    openMs: PositiveMs('how long the circuit stays open before one trial request', 5_000),
  },
  { additionalProperties: false },
);

// absolute paths, never the PEM itself (validate-tls.ts says why when it refuses one)
const PemFile = (description: string) =>
  Type.Optional(Type.String({ minLength: 1, description: `${description} (an absolute path to a PEM file, never the PEM itself)` }));

export const UpstreamTlsSchema = Type.Object(
  {
    caFile: PemFile("the CA certificate(s) the upstream's certificate must chain to, instead of the system's trusted CAs"),
    certFile: PemFile('the client certificate (and its chain) presented to an upstream that asks for one; with keyFile'),
    keyFile: PemFile("certFile's private key"),
    passphraseEnv: Type.Optional(
      Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: "the environment variable holding keyFile's passphrase, when it is encrypted" }),
    ),
    serverName: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$',
        description: "a host name: the name the upstream's certificate must carry and the SNI sent (default: the URL's host)",
      }),
    ),
  },
  { additionalProperties: false },
);

export const UpstreamSchema = Type.Object(
  {
    url: Type.String({
      pattern: '^(https?|mllps?)://[^/?#]+/?$',
      description: 'origin only: scheme, host, port; http(s):// for HTTP upstreams, mllp(s):// for an HL7 inbound',
    }),
    description: Type.Optional(Type.String()),
    preserveHost: Type.Optional(
      Type.Boolean({
        default: true,
        description: "send the client's Host header (true) or the upstream's own host (false)",
      }),
    ),
    timeouts: Type.Optional(TimeoutsSchema),
    pool: Type.Optional(PoolSchema),
    healthCheck: Type.Optional(HealthCheckSchema),
    circuitBreaker: Type.Optional(CircuitBreakerSchema),
    tls: Type.Optional(UpstreamTlsSchema),
  },
  { additionalProperties: false },
);

const PredicateSchema = Type.Object(
  {
    equals: Type.Optional(Type.String()),
    regex: Type.Optional(Type.String()),
    present: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1, maxProperties: 1 },
);

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export const HttpMatchSchema = Type.Object(
  {
    path: Type.Optional(
      Type.String({
        pattern: '^/',
        description: "segments: literal, ':name' (one segment, captured), '*' (one segment), '**' (the rest, last only)",
      }),
    ),
    paths: Type.Optional(
      Type.Array(Type.String({ pattern: '^/' }), { minItems: 1, description: 'several path patterns, instead of "path"' }),
    ),
    methods: Type.Optional(
      Type.Array(StringEnum(HTTP_METHODS), {
        minItems: 1,
        uniqueItems: true,
        description: 'GET also matches HEAD; no methods: every method',
      }),
    ),
    headers: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' }), PredicateSchema)),
    query: Type.Optional(Type.Record(Type.String({ minLength: 1 }), PredicateSchema)),
  },
  { additionalProperties: false },
);

export const StickySchema = Type.Object(
  {
    header: Type.Optional(Type.String({ minLength: 1 })),
    param: Type.Optional(Type.String({ minLength: 1 })),
    query: Type.Optional(Type.String({ minLength: 1 })),
    cookie: Type.Optional(Type.String({ minLength: 1 })),
    salt: Type.Optional(
      Type.String({ description: 'rules with the same salt put the same keys on the same side (default: ficus)' }),
    ),
  },
  { additionalProperties: false },
);

export const HTTP_MODES = ['legacy', 'shadow', 'canary', 'new', 'retired'] as const;
export type HttpMode = (typeof HTTP_MODES)[number];

/** A JSON-pointer-like path: `/items/*\/id`; `*` is one key or index, `**` any number of them. */
const JsonPath = Type.String({ pattern: '^(/[^/]*)*$', description: 'JSON pointer with wildcards: /items/*/id (* one key or index, ** any depth); "" is the whole body' });

export const COMPARE_NORMALIZERS = ['timestamps', 'uuids', 'numbers-as-strings', 'trim', 'case-insensitive'] as const;
export type CompareNormalizer = (typeof COMPARE_NORMALIZERS)[number];

export const CompareSchema = Type.Object(
  {
    headers: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' }), { uniqueItems: true, description: 'response headers compared (default: content-type)' }),
    ),
    headHeaders: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' }), {
        uniqueItems: true,
        description: 'what stands for the body of an answer to HEAD, compared besides headers (default: content-length, etag; [content-length] for a service with ETags of its own)',
      }),
    ),
    ignore: Type.Optional(Type.Array(JsonPath, { description: 'JSON paths never compared (generated ids, server times)' })),
    normalize: Type.Optional(
      Type.Array(
        Type.Union([
          StringEnum(COMPARE_NORMALIZERS),
          Type.Object({ kind: StringEnum(COMPARE_NORMALIZERS), paths: Type.Array(JsonPath, { minItems: 1 }) }, { additionalProperties: false }),
        ]),
        { description: 'value normalizers, everywhere or on some paths: timestamps, uuids, numbers-as-strings, trim, case-insensitive' },
      ),
    ),
    arrayKeys: Type.Optional(Type.Record(Type.String({ pattern: '^(/[^/]*)*$' }), Type.String({ minLength: 1 }), { description: 'arrays compared in the order of a key: { "/items": "id" }' })),
    learnNoise: Type.Optional(Type.Boolean({ description: 'a second legacy call tells which fields differ by themselves; those are not mismatches (safe methods only)' })),
    sampleRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'share of mismatches kept as samples (default 0.1)' })),
    keepValues: Type.Optional(Type.Boolean({ description: 'keep values in mismatch samples; default false: paths and value types only (no PHI)' })),
  },
  { additionalProperties: false },
);

export const ShadowSchema = Type.Object(
  {
    writes: Type.Optional(Type.Boolean({ description: 'also shadow POST, PUT, PATCH and DELETE: only for idempotent writes (default false)' })),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, description: 'shadow requests in flight per rule and instance; over it: skipped (default 16)' })),
    timeoutMs: PositiveMs('the whole shadow exchange; exceeded: a mismatch "timeout"', 10_000),
    maxBodyBytes: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 64 * 1024 * 1024, description: 'bodies compared by structure up to this size; larger ones by SHA-256 (default 1 MiB)' }),
    ),
  },
  { additionalProperties: false },
);

const Duration = Type.String({ pattern: '^[1-9][0-9]{0,5}[mhd]$', description: 'minutes, hours or days: 15m, 1h, 7d' });

const gateProperties = {
  threshold: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'least parity (0..1) for the gate to open (default 0.99)' })),
  minCompared: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'least compared requests in the window (default 100)' })),
  minKeys: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'least distinct keys (patients: the sticky key, else the path parameters) compared in the window (default: minCompared, at most 100)' }),
  ),
  window: Type.Optional(Duration),
};

export const ParityGateSchema = Type.Object(
  {
    ...gateProperties,
    gateAbovePercent: Type.Optional(
      Type.Number({ minimum: 0, maximum: 100, multipleOf: 0.01, description: 'canary: raising the percent above this needs the gate too (default: only mode new is gated)' }),
    ),
  },
  { additionalProperties: false },
);

export const HttpRuleSchema = Type.Object(
  {
    id: Identifier,
    description: Type.Optional(Type.String()),
    match: HttpMatchSchema,
    mode: StringEnum(HTTP_MODES),
    legacy: Type.Optional(Identifier),
    target: Type.Optional(Identifier),
    percent: Type.Optional(Type.Number({ minimum: 0, maximum: 100, multipleOf: 0.01 })),
    sticky: Type.Optional(StickySchema),
    fallback: Type.Optional(
      Type.Boolean({ description: 'in mode new: answer safe requests from legacy when the target fails (default true)' }),
    ),
    shadow: Type.Optional(ShadowSchema),
    compare: Type.Optional(CompareSchema),
    parity: Type.Optional(ParityGateSchema),
  },
  { additionalProperties: false },
);

const Hl7Code = Type.String({ pattern: '^[A-Z0-9]{3}$', description: 'three upper-case letters or digits (ADT, A01)' });

export const Hl7MatchSchema = Type.Object(
  {
    messageTypes: Type.Optional(Type.Array(Hl7Code, { minItems: 1, uniqueItems: true, description: 'MSH-9.1; none: every type' })),
    triggerEvents: Type.Optional(Type.Array(Hl7Code, { minItems: 1, uniqueItems: true, description: 'MSH-9.2; none: every event' })),
    sendingApplications: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, uniqueItems: true, description: 'MSH-3.1' })),
    sendingFacilities: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, uniqueItems: true, description: 'MSH-4.1' })),
  },
  { additionalProperties: false },
);

export const HL7_MODES = ['legacy', 'dual', 'new'] as const;
export type Hl7Mode = (typeof HL7_MODES)[number];

export const Hl7LookupSchema = Type.Object(
  {
    legacy: Type.Optional(Identifier),
    target: Type.Optional(Identifier),
    path: Type.String({ pattern: '^/', description: 'path and query with field references: /api/patients/{MRN}, /api/results?mrn={PID-3.1}' }),
  },
  { additionalProperties: false },
);

export const Hl7ParitySchema = Type.Object(
  {
    ...gateProperties,
    lookups: Type.Optional(Type.Array(Hl7LookupSchema, { minItems: 1, description: 'in mode dual: records read from legacy and from the new service after a message, and compared' })),
    delayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000, description: 'wait this long after both deliveries before reading (default 1000)' })),
    attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, description: 'reads while the two differ, the new service catching up (default 3)' })),
  },
  { additionalProperties: false },
);

export const Hl7RuleSchema = Type.Object(
  {
    id: Identifier,
    description: Type.Optional(Type.String()),
    match: Hl7MatchSchema,
    mode: StringEnum(HL7_MODES, 'legacy: the legacy inbound only; dual: both (legacy stays authoritative); new: the new service only'),
    legacy: Type.Optional(Identifier),
    target: Type.Optional(Identifier),
    parity: Type.Optional(Hl7ParitySchema),
    compare: Type.Optional(CompareSchema),
  },
  { additionalProperties: false },
);

/** One rule file as written on disk: every section optional, so files can be split by concern. */
export const RuleFileSchema = Type.Object(
  {
    version: Type.Optional(Type.Literal(1)),
    upstreams: Type.Optional(Type.Record(Identifier, UpstreamSchema)),
    http: Type.Optional(Type.Array(HttpRuleSchema)),
    hl7: Type.Optional(Type.Array(Hl7RuleSchema)),
  },
  { additionalProperties: false },
);

export type Timeouts = Static<typeof TimeoutsSchema>;
export type PoolOptions = Static<typeof PoolSchema>;
export type HealthCheck = Static<typeof HealthCheckSchema>;
export type CircuitBreakerOptions = Static<typeof CircuitBreakerSchema>;
export type Upstream = Static<typeof UpstreamSchema>;
export type UpstreamTls = Static<typeof UpstreamTlsSchema>;
export type Predicate = Static<typeof PredicateSchema>;
export type HttpMatch = Static<typeof HttpMatchSchema>;
export type Sticky = Static<typeof StickySchema>;
export type HttpRule = Static<typeof HttpRuleSchema>;
export type RuleFile = Static<typeof RuleFileSchema>;
export type Hl7Match = Static<typeof Hl7MatchSchema>;
export type Hl7Rule = Static<typeof Hl7RuleSchema>;
export type CompareSettings = Static<typeof CompareSchema>;
export type ShadowSettings = Static<typeof ShadowSchema>;
export type ParityGate = Static<typeof ParityGateSchema>;
export type Hl7Parity = Static<typeof Hl7ParitySchema>;
export type Hl7Lookup = Static<typeof Hl7LookupSchema>;

/** The whole rule set a deployable runs with: every file merged, defaults applied, checked. */
export interface RuleSet {
  upstreams: Record<string, Upstream>;
  http: HttpRule[];
  /** HL7 message routing (the HL7 adapter's section); absent: none */
  hl7?: Hl7Rule[];
}

/** The upstream an HTTP rule calls "legacy" when it does not name one. */
export const DEFAULT_LEGACY_UPSTREAM = 'legacy';
/** The legacy HL7 inbound an HL7 rule sends to when it does not name one. */
export const DEFAULT_LEGACY_HL7_UPSTREAM = 'legacy-hl7';

export function isHttpUpstream(u: Pick<Upstream, 'url'>): boolean {
  return /^https?:/i.test(u.url);
}
