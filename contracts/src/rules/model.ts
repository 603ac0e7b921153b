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

export const HTTP_MODES = ['legacy', 'canary', 'new', 'retired'] as const;
export type HttpMode = (typeof HTTP_MODES)[number];

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

export const Hl7RuleSchema = Type.Object(
  {
    id: Identifier,
    description: Type.Optional(Type.String()),
    match: Hl7MatchSchema,
    mode: StringEnum(HL7_MODES, 'legacy: the legacy inbound only; dual: both (legacy stays authoritative); new: the new service only'),
    legacy: Type.Optional(Identifier),
    target: Type.Optional(Identifier),
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
export type Predicate = Static<typeof PredicateSchema>;
export type HttpMatch = Static<typeof HttpMatchSchema>;
export type Sticky = Static<typeof StickySchema>;
export type HttpRule = Static<typeof HttpRuleSchema>;
export type RuleFile = Static<typeof RuleFileSchema>;
export type Hl7Match = Static<typeof Hl7MatchSchema>;
export type Hl7Rule = Static<typeof Hl7RuleSchema>;

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
