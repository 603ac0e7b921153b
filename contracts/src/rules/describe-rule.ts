/** How a rule routes, in words, as the CLI, the change summaries and the audit log say it. */
export function describeRule(rule: { mode: string; percent?: number; target?: string }): string {
  if (rule.mode === 'canary') return `canary ${rule.percent ?? 0} % to ${rule.target ?? '?'}`;
  if (rule.mode === 'legacy') return 'legacy';
  return `${rule.mode} (${rule.target ?? '?'})`;
}
