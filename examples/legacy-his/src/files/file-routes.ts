/**
 * Binary transfers through the legacy system: a large download (GET and HEAD) and a streamed
 * upload of any size that answers the byte count and SHA-256 of what it received. Neither
 * ever holds a whole file in memory.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LegacyError } from '../contract/errors.js';
import { pseudoRandomStream } from './pseudo-random-stream.js';

export const MAX_DOWNLOAD_MIB = 1024;
const MIB = 1024 * 1024;

const DownloadQuery = Type.Object({
  sizeMb: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: `a whole number of MiB from 0 to ${MAX_DOWNLOAD_MIB}` })),
});
type DownloadQuery = Static<typeof DownloadQuery>;

export interface UploadReceipt {
  bytes: number;
  sha256: string;
}

function downloadSize(query: DownloadQuery): number {
  const mib = query.sizeMb === undefined ? 1 : Number(query.sizeMb);
  if (mib > MAX_DOWNLOAD_MIB) throw new LegacyError(400, 'Invalid request parameters', [{ field: 'sizeMb', issue: `must be at most ${MAX_DOWNLOAD_MIB}` }]);
  return mib;
}

function downloadHeaders(reply: FastifyReply, mib: number) {
  return reply
    .type('application/octet-stream')
    .header('content-length', String(mib * MIB))
    .header('content-disposition', `attachment; filename="download-${mib}MiB.bin"`);
}

export async function hashStream(stream: AsyncIterable<Buffer>): Promise<UploadReceipt> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

export function registerFileRoutes(app: FastifyInstance) {
  const schema = { querystring: DownloadQuery };
  // HEAD first: fastify then keeps it instead of deriving one from GET (which would make the bytes)
  app.head<{ Querystring: DownloadQuery }>('/files/download', { schema }, (request, reply) => {
    downloadHeaders(reply, downloadSize(request.query)).send();
  });
  app.get<{ Querystring: DownloadQuery }>('/files/download', { schema }, (request, reply) => {
    const mib = downloadSize(request.query);
    downloadHeaders(reply, mib).send(pseudoRandomStream(mib * MIB));
  });

  // the upload gets a scope of its own, where every content type is handed over unparsed
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    scope.post('/files/upload', async (request: FastifyRequest, reply: FastifyReply): Promise<UploadReceipt | undefined> => {
      // without a body (no Content-Length, no Transfer-Encoding) fastify skips the parser
      const body = (request.body as Readable | undefined) ?? request.raw;
      try {
        return await hashStream(body);
      } catch (e) {
        // a client that gives up mid-upload is not a server error
        if (request.raw.destroyed || reply.raw.destroyed) return undefined;
        throw e;
      }
    });
  });
}
