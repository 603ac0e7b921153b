/**
 * External tools from Debian's packages (wrk and nginx for the benchmarks, chromium for the
 * dashboard test): installed when missing and we are root; otherwise named, with the command
 * that installs them.
 */
import { execFileSync, execSync } from 'node:child_process';

function has(cmd: string): boolean {
  try {
    execSync(`command -v ${cmd}`, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Makes sure each binary exists; `packages` maps binary name to its Debian package. */
export function ensureTools(packages: Record<string, string>): void {
  const missing = Object.entries(packages).filter(([bin]) => !has(bin));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
  if (process.getuid?.() !== 0 || !has('apt-get')) {
    throw new Error(`missing ${missing.map(([b]) => b).join(', ')}: install with \`sudo apt-get install ${pkgs.join(' ')}\``);
  }
  console.error(`[ficus] installing ${pkgs.join(', ')} from Debian packages...`);
  const install = () => execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  try {
    install();
  } catch {
    execFileSync('apt-get', ['update'], { stdio: 'ignore' });
    install();
  }
  // Debian starts the packaged nginx on port 80; the benchmark runs its own
  if (pkgs.some((p) => p.startsWith('nginx'))) {
    try {
      execFileSync('nginx', ['-s', 'stop'], { stdio: 'ignore' });
    } catch {
      /* was not running */
    }
  }
}
