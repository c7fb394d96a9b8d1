import { describe, expect, it } from 'vitest';
import {
  durationText,
  estimatedRolloutSeconds,
  estimatedSeconds,
  FINAL_DRAIN_SECONDS,
  launchSeconds,
  RUN_INSTANCES_BURST,
  RUN_INSTANCES_REFILL_PER_SECOND,
  WAVE_SECONDS,
} from '../../functions/domain/estimate';

describe('estimatedSeconds', () => {
  it.each([
    [0, 0],
    [1, WAVE_SECONDS + FINAL_DRAIN_SECONDS],
    [20, 20 * WAVE_SECONDS + FINAL_DRAIN_SECONDS],
  ])('%i waves take %i s', (waves, seconds) => {
    expect(estimatedSeconds(waves)).toBe(seconds);
  });

  it('stays near what the convergence model measured: 100 instances five at a time in 31 min', () => {
    expect(estimatedSeconds(20) / 60).toBeGreaterThan(25);
    expect(estimatedSeconds(20) / 60).toBeLessThan(35);
  });

  it("stays near the convergence model's waves: 950 s, 950 s and 4,871 s at 100, 1,000 and 10,000 instances, 10 % at once, within 11 %", () => {
    for (const [n, modelSeconds] of [
      [100, 950],
      [1000, 950],
      [10_000, 4871],
    ] as const) {
      const seconds = estimatedSeconds(Math.ceil(n / (n / 10)), { replacements: n });
      expect(Math.abs(seconds / modelSeconds - 1)).toBeLessThan(0.11);
    }
  });

  it("paces any fleet's launches by EC2's token bucket: 1,000 at once, then 2 a second", () => {
    expect(launchSeconds(RUN_INSTANCES_BURST)).toBe(0);
    expect(launchSeconds(RUN_INSTANCES_BURST + 2 * RUN_INSTANCES_REFILL_PER_SECOND)).toBe(2);
    // A tag fleet of 10,000 in 10 waves: the bucket, not the waves, sets the pace.
    expect(estimatedSeconds(10, { replacements: 10_000 })).toBe(
      (10_000 - RUN_INSTANCES_BURST) / RUN_INSTANCES_REFILL_PER_SECOND + FINAL_DRAIN_SECONDS,
    );
    // Few launches, no group: the waves alone.
    expect(estimatedSeconds(4, { replacements: 20 })).toBe(estimatedSeconds(4));
  });

  it.each([-1, 1.5, Number.NaN])('refuses %s waves', (waves) => {
    expect(() => estimatedSeconds(waves)).toThrow(RangeError);
  });
});

describe('durationText', () => {
  it.each([
    [45, '≈ 45 s'],
    [375, '≈ 6 min'],
    [5340, '≈ 89 min'],
    [5400, '≈ 1.5 h'],
  ])('%i s reads %s', (seconds, text) => {
    expect(durationText(seconds)).toBe(text);
  });
});

describe('estimatedRolloutSeconds', () => {
  it('counts the canary wave and its drain, the bake, then the rest in waves', () => {
    expect(estimatedRolloutSeconds({ canaryWaves: 1, bakeMinutes: 30, waves: 4 })).toBe(
      WAVE_SECONDS + FINAL_DRAIN_SECONDS + 30 * 60 + 4 * WAVE_SECONDS + FINAL_DRAIN_SECONDS,
    );
  });

  it('is the plain estimate without a canary wave to go: a bake already done is not counted again', () => {
    expect(estimatedRolloutSeconds({ canaryWaves: 0, bakeMinutes: 30, waves: 4 })).toBe(estimatedSeconds(4));
  });

  it("paces the canary and the rest by EC2's token bucket", () => {
    const shape = { canaryWaves: 1, bakeMinutes: 30, waves: 9 };
    expect(estimatedRolloutSeconds({ ...shape, pace: { canary: 10, rest: 5_000 } })).toBe(
      WAVE_SECONDS + FINAL_DRAIN_SECONDS + 30 * 60 + launchSeconds(5_000) + FINAL_DRAIN_SECONDS,
    );
    expect(estimatedRolloutSeconds({ ...shape, pace: { canary: 10, rest: 90 } })).toBe(
      estimatedRolloutSeconds(shape),
    );
  });

  it('is the canary and its bake alone when nothing else is left', () => {
    expect(estimatedRolloutSeconds({ canaryWaves: 1, bakeMinutes: 10, waves: 0 })).toBe(
      WAVE_SECONDS + FINAL_DRAIN_SECONDS + 600,
    );
  });

  it.each([-1, Number.NaN])('refuses a bake of %s minutes', (bakeMinutes) => {
    expect(() => estimatedRolloutSeconds({ canaryWaves: 1, bakeMinutes, waves: 1 })).toThrow(RangeError);
  });
});
