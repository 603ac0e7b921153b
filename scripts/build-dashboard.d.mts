/** Types of build-dashboard.mjs (plain JavaScript: it runs before anything is compiled). */
export function sourceHash(): string;
export function buildDashboard(force?: boolean): boolean;
