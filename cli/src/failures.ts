/**
 * What can go wrong in a command, as errors that carry their exit code: 1 when the command was
 * refused or failed (the API said no, a file is invalid, the API cannot be reached), 2 when it
 * was called wrongly, 3 when `ficus reconcile` ran to the end and found differences (so a
 * script can tell "the data differ" from "the check could not be made"). main.ts turns them
 * into output and the process's exit code.
 */

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_DIFFERENCES = 3;
export const EXIT_INCOMPLETE = 4;

/** An RFC 9457 problem body, as the admin API answers errors. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  [extension: string]: unknown;
}

/** A failure the CLI found itself (no token, an invalid file): exit 1. */
export class CliFailure extends Error {
  readonly exitCode: number = EXIT_FAILED;

  constructor(
    message: string,
    /** more lines for people: hints, the list of issues */
    readonly details: string[] = [],
    /** extra members of the problem object printed with --json */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** The problem object printed on stderr with --json. */
  toProblem(): Problem {
    return { type: 'about:blank', title: this.message, ...(this.details.length ? { detail: this.details.join('\n') } : {}), ...this.extra };
  }
}

/** The command line itself is wrong (a bad option value found after parsing): exit 2. */
export class UsageFailure extends CliFailure {
  override readonly exitCode = EXIT_USAGE;
}

/** The admin API could not be reached at all. */
export class UnreachableFailure extends CliFailure {
  constructor(
    readonly url: string,
    cause: string,
  ) {
    super(`cannot reach the admin API at ${url}: ${cause}`, ['set FICUS_ADMIN_URL, --url or "adminUrl" in the config file to the admin API (default http://127.0.0.1:8081)']);
  }
}

/** Something answered at the admin URL, but not a Ficus admin API (the gateway's data plane, most often). */
export class NotAdminApiFailure extends CliFailure {
  constructor(
    readonly url: string,
    request: string,
    status: number,
    /** set when the gateway's data plane passed the request on to an upstream */
    route: string | null,
  ) {
    const what = route ? `is the gateway's data plane: it passed the request on (x-ficus-route: ${route})` : 'did not say "x-ficus-admin-api", as every Ficus admin API does';
    super(`${url} is not the Ficus admin API: it answered ${request} with HTTP ${status} and ${what}`, [
      'the admin API listens on its own port (default 8081; the gateway serves traffic on 8080): set FICUS_ADMIN_URL, --url or "adminUrl" in the config file to it',
    ]);
  }
}

/** The admin API answered with an error status. */
export class ApiFailure extends CliFailure {
  constructor(
    readonly status: number,
    readonly problem: Problem,
    message: string,
    details: string[] = [],
  ) {
    super(message, details);
  }

  /** With --json a script gets the API's own problem body, unchanged. */
  override toProblem(): Problem {
    return this.problem;
  }
}

/** The command has already printed why it failed (validate's issue list): exit 1, print nothing more. */
export class ReportedFailure extends CliFailure {}

/** `ficus reconcile` printed its report, and the two sides differ: exit 3, print nothing more. */
export class DifferencesFound extends ReportedFailure {
  override readonly exitCode: number = EXIT_DIFFERENCES;
}

/** The command printed what it could read, but a source of it did not answer (a component down): exit 4, print nothing more. */
export class IncompleteResult extends ReportedFailure {
  override readonly exitCode: number = EXIT_INCOMPLETE;
}

/** A system other than the admin API (legacy, a new service) could not be reached, or answered nonsense. */
export class SystemFailure extends CliFailure {
  constructor(
    /** "the legacy system", "the service" */
    readonly system: string,
    readonly url: string,
    problem: string,
    hint: string,
  ) {
    super(`${system} at ${url}: ${problem}`, [hint]);
  }
}
