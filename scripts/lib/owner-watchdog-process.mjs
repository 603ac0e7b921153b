// The watchdog of owner-watchdog.ts: holds the reading end of a pipe whose only writer is the
// process that started some servers (the owner). The owner sends one JSON line per duty it
// takes on ({"guard": id, "duty": …}) and one when it has done it itself ({"release": id}).
// End of input means the owner is gone, however it ended (the kernel closes its end, SIGKILL
// included), or that it holds nothing any more: the duties still held are carried out then,
// the last taken first, and the watchdog exits.
// Plain JavaScript on purpose: it starts with node alone, no loader, in a few tens of ms.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

const STOP_GRACE_MS = 15_000;
const COMMAND_TIMEOUT_MS = 90_000;

const held = new Map();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    return;
  }
  if (message.guard !== undefined) held.set(message.guard, message.duty);
  else if (message.release !== undefined) held.delete(message.release);
});
lines.on('close', async () => {
  for (const duty of [...held.values()].reverse()) {
    try {
      await carryOut(duty);
    } catch {
      // nobody to tell: the next duty still runs
    }
  }
  process.exit(0);
});

async function carryOut(duty) {
  if (duty.signal) await stopProcess(duty.pid, duty.startTime, duty.signal);
  else if (duty.command) spawnSync(duty.command[0], duty.command.slice(1), { stdio: 'ignore', timeout: COMMAND_TIMEOUT_MS });
  else if (duty.remove) rmSync(duty.remove, { recursive: true, force: true });
}

/** The signal, then SIGKILL if it is still there after the grace period; back once it is gone. */
async function stopProcess(pid, startTime, signal) {
  // a pid the system has handed to another process since is not ours to signal
  if (!running(pid, startTime)) return;
  process.kill(pid, signal);
  const end = Date.now() + STOP_GRACE_MS;
  while (running(pid, startTime) && Date.now() < end) await sleep(50);
  if (running(pid, startTime)) process.kill(pid, 'SIGKILL');
}

/** Whether the process runs, the same one (its start time) where /proc tells; a zombie runs nothing. */
function running(pid, startTime) {
  let stat;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    if (startTime !== undefined) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] !== 'Z' && (startTime === undefined || fields[19] === startTime);
}
