/**
 * A port that never accepts: a listening socket with a backlog of zero, filled by two
 * connections nobody accepts. The kernel then drops further SYNs, so a connect attempt hangs
 * until the client's connect timeout, as with a firewalled or powered-off host.
 */
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';

export async function startBlackhole(): Promise<{ port: number; close(): void }> {
  const py = spawn('python3', ['-c', "import socket,sys,time\ns=socket.socket();s.bind(('127.0.0.1',0));s.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()"], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [line] = (await once(py.stdout!, 'data')) as [Buffer];
  const port = Number(line.toString().trim());
  const fillers: Socket[] = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')];
  for (const f of fillers) f.on('error', () => undefined);
  await new Promise((r) => setTimeout(r, 200));
  return {
    port,
    close() {
      for (const f of fillers) f.destroy();
      py.kill();
    },
  };
}
