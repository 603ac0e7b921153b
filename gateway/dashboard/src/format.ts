/** Figures as people read them. */
export const pct = (x: number | null | undefined, digits = 1) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(digits)} %`);
export const ratio = (n: number, total: number) => (total > 0 ? n / total : null);
export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '–');
export const ago = (iso: string) => {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 2 * 86_400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
};
/** a time of day as HH:MM:SS, local, whatever the browser's locale */
export const clock = (ms: number) => {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
};
/** since when: HH:MM:SS within a day of `now`, else with the date */
export const since = (iso: string, now = Date.now()) => {
  const t = Date.parse(iso);
  return now - t < 86_400_000 ? clock(t) : new Date(t).toLocaleString();
};
