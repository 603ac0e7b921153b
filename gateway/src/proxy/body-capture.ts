/**
 * What a shadow comparison keeps of one side's answer (shadow.ts): a SHA-256 of the whole body
 * and, up to a limit, a copy to compare JSON by structure; and the chosen response headers.
 */
import { createHash, type Hash } from 'node:crypto';
import { parseComparedJson, type ObservedBody } from '@ficus/contracts';

/** A SHA-256 of a whole body and a copy of it up to a limit. */
export class BodyCapture {
  private readonly hash: Hash = createHash('sha256');
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private total = 0;
  private over = false;

  constructor(private readonly limit: number) {}

  add(chunk: Buffer): void {
    this.hash.update(chunk);
    this.total += chunk.length;
    if (this.over) return;
    if (this.kept + chunk.length > this.limit) {
      this.over = true;
      this.chunks.length = 0;
      return;
    }
    this.chunks.push(chunk);
    this.kept += chunk.length;
  }

  /** JSON when the content type says so and it parses (numbers exact, repeated keys seen), else the digest. */
  body(contentType: string | undefined): ObservedBody {
    if (this.total === 0) return { kind: 'none' };
    const sha256 = this.hash.digest('hex');
    if (!this.over && contentType && /[/+]json\b/i.test(contentType)) {
      try {
        return { kind: 'json', value: parseComparedJson(Buffer.concat(this.chunks, this.kept).toString('utf8')), sha256 };
      } catch {
        /* not JSON after all: by digest */
      }
    }
    return { kind: 'bytes', sha256, bytes: this.total };
  }
}

export function pickHeaders(names: string[], get: (name: string) => string | undefined): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const n of names) out[n] = get(n);
  return out;
}
