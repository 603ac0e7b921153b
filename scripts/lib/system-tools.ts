/**
 * External programs the benchmarks and some tests need (wrk, nginx, mllp_send). Installed from
 * Debian's packages when missing and we are root; otherwise the error names the command that
 * installs them. Several worktrees may install at once: apt waits for dpkg's lock.
 */
import { execFileSync, execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export class MissingToolError extends Error {}

function has(cmd: string): boolean {
  if (cmd.startsWith('/')) return existsSync(cmd);
  try {
    execSync(`command -v ${cmd}`, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure each program exists; `packages` maps a program (a name on the PATH, or an
 * absolute path) to its Debian package. Returns the packages it installed.
 */
export function ensureTools(packages: Record<string, string>, log: (line: string) => void = (l) => console.error(l)): string[] {
  const missing = Object.entries(packages).filter(([bin]) => !has(bin));
  if (missing.length === 0) return [];
  const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
  const command = `apt-get install -y ${pkgs.join(' ')}`;
  const names = missing.map(([b]) => b).join(', ');
  if (process.getuid?.() !== 0 || !has('apt-get')) {
    throw new MissingToolError(`missing ${names}: install with \`sudo ${command}\` (Debian/Ubuntu)`);
  }
  log(`installing ${pkgs.join(', ')} from Debian packages (${command})...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=120', 'install', '-y', '--no-install-recommends', ...pkgs], { stdio: 'pipe', env });
  try {
    try {
      install();
    } catch {
      // a fresh machine has no package lists yet
      execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=120', 'update'], { stdio: 'pipe', env });
      install();
    }
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new MissingToolError(`missing ${names}, and \`${command}\` failed: ${err.stderr?.toString().trim().split('\n').slice(-3).join(' ') ?? (e as Error).message}; run it by hand`);
  }
  const still = missing.filter(([bin]) => !has(bin)).map(([b]) => b);
  if (still.length > 0) throw new MissingToolError(`installed ${pkgs.join(', ')}, but ${still.join(', ')} is still missing`);
  return pkgs;
}
