/**
 * Rules as YAML for people: keys in the order the README writes them, short lists and small
 * maps of plain values on one line, as in routing-rules/. Used by `rules show` and `export`.
 */
import { Document, isScalar, isSeq, visit } from 'yaml';

// The store keeps rules as JSONB, which sorts keys by length; people read them in this order.
const KEY_ORDER = [
  // a rule, its match and its sticky key
  'id', 'match', 'mode', 'percent', 'target', 'legacy', 'sticky', 'fallback', 'shadow', 'compare', 'parity',
  'methods', 'kind', 'path', 'paths', 'headers', 'query', 'header', 'param', 'cookie', 'salt',
  // an upstream and its settings
  'url', 'preserveHost', 'timeouts', 'pool', 'healthCheck', 'circuitBreaker',
  'connectMs', 'queueMs', 'responseHeadersMs', 'bodyIdleMs', 'connections', 'keepAliveMs',
  'intervalMs', 'timeoutMs', 'unhealthyAfter', 'healthyAfter', 'failureThreshold', 'openMs',
  // shadow, comparison and parity gate
  'writes', 'concurrency', 'maxBodyBytes', 'ignore', 'normalize', 'arrayKeys', 'learnNoise', 'sampleRate', 'keepValues',
  'threshold', 'minCompared', 'window', 'gateAbovePercent', 'lookups', 'delayMs', 'attempts',
];

function rank(key: string): number {
  const i = KEY_ORDER.indexOf(key);
  return i < 0 ? KEY_ORDER.length : i;
}

/** A copy with the keys of every object in reading order (known keys first, the rest a-z). */
export function inReadingOrder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(inReadingOrder);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
  return Object.fromEntries(entries.map(([k, v]) => [k, inReadingOrder(v)]));
}

const isLeafSeq = (n: unknown) => isSeq(n) && n.items.every((i) => isScalar(i));

/** YAML for people: short lists and small maps of plain values on one line, as in routing-rules/. */
export function toYaml(value: unknown, header?: string): string {
  const doc = new Document(inReadingOrder(value));
  visit(doc, {
    Seq(_, node) {
      if (isLeafSeq(node)) node.flow = true;
    },
    Map(_, node, ancestors) {
      // a rule itself stays a block, whatever it holds
      if (isSeq(ancestors[ancestors.length - 1])) return;
      if (node.items.length <= 4 && node.items.every((p) => isScalar(p.value) || isLeafSeq(p.value))) node.flow = true;
    },
  });
  if (header) doc.commentBefore = header;
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
