/**
 * Answers a test upstream holds until the test lets them go.
 *
 * A test that needs an upstream "still busy" when its next request arrives used to answer after a
 * sleep (1.5 s against a 400 ms queue wait): on two cores shared with other test files the next
 * request sometimes came after the sleep, and the test saw a free connection where it meant a
 * busy one. Held answers make "still busy" a fact of the test: nothing is answered before
 * `release`, and the test waits for the upstream to have the requests (`arrived`) instead of
 * guessing how long they take to get there.
 */
import { until } from '../../../test-support/until.js';

export class HeldAnswers {
  private readonly finishes: Array<() => void> = [];

  /** requests held since the last `release` */
  get held(): number {
    return this.finishes.length;
  }

  /** Holds an answer: `finish` is called at the next `release`. */
  hold(finish: () => void): void {
    this.finishes.push(finish);
  }

  /** Answers every held request. */
  release(): void {
    for (const finish of this.finishes.splice(0)) finish();
  }

  /**
   * Resolves once `n` requests are held (since the last `release`). The deadline only turns a
   * hang into a readable failure; nothing waits for it to pass.
   */
  async arrived(n: number, what = `${n} requests held at the upstream`): Promise<void> {
    await until(() => this.held >= n, what, 15_000);
  }
}
