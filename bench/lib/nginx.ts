/**
 * A private nginx (one worker) with a generated config, for the upstream and the nginx peer.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startProcess, waitForPort } from './processes.js';

/** `core`: pinned to that CPU (taskset, which runs nginx in its own place). Returns the master's pid. */
export async function startNginx(dir: string, port: number, serverBlock: string, upstreamBlock = '', core?: string): Promise<number> {
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const asRoot = process.getuid?.() === 0;
  const conf = `${asRoot ? 'user root root;' : ''}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 8192; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  ${upstreamBlock}
  server {
    listen 127.0.0.1:${port} backlog=4096;
    ${serverBlock}
  }
}
`;
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  const master = core === undefined ? startProcess('nginx', ['-p', dir, '-c', file]) : startProcess('taskset', ['-c', core, 'nginx', '-p', dir, '-c', file]);
  await waitForPort(port);
  return master.pid!;
}
