import { describe, expect, it } from 'vitest';
import {
  durationText,
  estimatedRolloutSeconds,
  estimatedSeconds,
  FINAL_DRAIN_SECONDS,
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

  it('is the canary and its bake alone when nothing else is left', () => {
    expect(estimatedRolloutSeconds({ canaryWaves: 1, bakeMinutes: 10, waves: 0 })).toBe(
      WAVE_SECONDS + FINAL_DRAIN_SECONDS + 600,
    );
  });

  it.each([-1, Number.NaN])('refuses a bake of %s minutes', (bakeMinutes) => {
    expect(() => estimatedRolloutSeconds({ canaryWaves: 1, bakeMinutes, waves: 1 })).toThrow(RangeError);
  });
});
