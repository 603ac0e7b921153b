import { describe, expect, it } from 'vitest';
import { parseWrk } from './wrk.js';

const report = `Running 10s test @ http://127.0.0.1:8080
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.01ms    1.12ms  40.33ms   91.20%
    Req/Sec    24.90k     1.20k   26.80k    70.00%
  Latency Distribution
     50%    1.85ms
     75%    2.20ms
     90%    2.75ms
     99%    6.48ms
  247830 requests in 10.00s, 113.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  24782.31
Transfer/sec:     11.30MB
`;

describe('parseWrk', () => {
  it('reads throughput, requests, percentiles and errors', () => {
    expect(parseWrk(report)).toEqual({ rps: 24782.31, requests: 247830, p50ms: 1.85, p99ms: 6.48, errors: 3, non2xx: 4 });
  });

  it('reads microseconds and seconds', () => {
    const r = parseWrk(report.replace('1.85ms', '850.00us').replace('6.48ms', '1.20s'));
    expect(r.p50ms).toBeCloseTo(0.85);
    expect(r.p99ms).toBe(1200);
  });
});
