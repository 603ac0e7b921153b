/**
 * What the data plane's request handlers share: the gateway's settings for proxying and the
 * running parts an exchange uses (the router is swapped on every rule change).
 */
import type { Logger } from '@ficus/contracts';
import type { GatewayMetrics } from '../ops/metrics.js';
import type { RecentWrites } from '../routing/recent-writes.js';
import type { Router } from '../routing/router.js';
import type { UpstreamRegistry } from '../upstreams/registry.js';
import type { Shadows } from './shadow.js';

export interface ProxyOptions {
  routeHeader: boolean;
  trustForwarded: boolean;
  proto: 'http' | 'https';
  /** FICUS_REQUEST_BUFFER_BYTES: bodies up to this size are read before a connection is taken (0: none) */
  requestBufferBytes?: number;
}

/** What an Exchange needs from the running gateway; `router` is swapped on every rule change. */
export interface ProxyRuntime {
  router: Router;
  upstreams: UpstreamRegistry;
  metrics: GatewayMetrics;
  log: Logger;
  /** the access log, and whether it takes every request or only failed and fallback ones */
  accessLog: Logger | undefined;
  accessLogAll: boolean;
  options: ProxyOptions;
  /** shadow traffic of rules in mode shadow */
  shadows: Shadows;
  /** paths and records just written through legacy: their reads stay on legacy a while (recent-writes.ts) */
  recentWrites: RecentWrites;
}
