/**
 * Problem bodies of the admin API, told to a person: what was refused, why, and what to do
 * next. The API's own wording comes first; the CLI adds only what a terminal user is missing
 * (which token was used, how to move on from a conflict).
 */
import type { Problem } from './failures.js';

interface ProblemIssue {
  ruleId?: string;
  field?: string;
  reason?: string;
  pointer?: string;
}

export function formatProblemIssue(i: ProblemIssue): string {
  const what = [i.ruleId ? `rule "${i.ruleId}"` : '', i.field ? `field "${i.field}"` : ''].filter(Boolean).join(', ');
  // the pointer only when there is no rule and field to name
  const where = what || i.pointer || 'rule set';
  return `${where}: ${i.reason ?? 'invalid'}`;
}

export function describeProblem(status: number, p: Problem, tokenSource: string | undefined): { message: string; details: string[] } {
  const title = p.title ?? `HTTP ${status}`;
  const message = `refused (${status}): ${title}${p.detail && status !== 422 ? `: ${p.detail}` : ''}`;
  const details: string[] = [];
  switch (status) {
    case 401:
      details.push(`the admin API did not accept the token from ${tokenSource ?? 'nowhere'}: it is unknown, revoked, or not a Ficus token`);
      break;
    case 403:
      // a refusal that says what the caller may do instead: that first, then the role
      if (Array.isArray(p.instead) && p.instead.length > 0) details.push('what you may do instead:', ...p.instead.map((c) => `  ${String(c)}`));
      details.push('ask an admin for a token with that role');
      break;
    case 409:
      if (typeof p.currentVersion === 'number') {
        details.push(
          `another change won: see it with \`ficus rules diff ${String(p.baseVersion ?? p.currentVersion)} ${p.currentVersion}\`, then, if your change still holds, run the command again (without --base it starts from the version current then)`,
        );
      }
      break;
    case 422:
      if (Array.isArray(p.gates)) {
        details.push(...(p.detail ? [p.detail] : []), 'see the figures with `ficus parity <rule>`; an admin may pass --force with a reason');
      } else if (Array.isArray(p.errors)) details.push(...(p.errors as ProblemIssue[]).map(formatProblemIssue));
      else if (p.detail) details.push(p.detail);
      break;
  }
  return { message, details };
}
