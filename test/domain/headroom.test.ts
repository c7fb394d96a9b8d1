import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { headroomOf, healthyFloor } from '../../functions/domain/headroom';

const group = (desired: number, min: number, max: number) => ({ name: 'web-asg', desired, min, max });

describe('headroomOf', () => {
  it.each([
    { group: group(3, 1, 4), percent: 100, expected: { kind: 'surge' } },
    { group: group(4, 1, 4), percent: 75, expected: { kind: 'standby-first', dips: 1 } },
    { group: group(4, 1, 4), percent: 50, expected: { kind: 'standby-first', dips: 2 } },
    { group: group(4, 0, 4), percent: 0, expected: { kind: 'standby-first', dips: 4 } },
    {
      group: group(10, 1, 10),
      percent: 100,
      expected: {
        kind: 'none',
        code: 'no-headroom',
        why: 'no headroom: Auto Scaling group web-asg is at MaxSize 10 and minHealthyPercent 100 forbids taking one out first (10 of 10 must stay healthy); raise MaxSize by 1',
      },
    },
    {
      // 91% of 10 rounds up to 10: still no instance may go out.
      group: group(10, 1, 10),
      percent: 91,
      expected: { kind: 'none', code: 'no-headroom' },
    },
    { group: group(3, 3, 3), percent: 0, expected: { kind: 'none', code: 'pinned' } },
  ])(
    '$group.desired of max $group.max (min $group.min), minHealthyPercent $percent → $expected.kind',
    ({ group: g, percent, expected }) => {
      expect(headroomOf(g, percent)).toMatchObject(expected);
    },
  );

  it('says "none" exactly when no replacement could ever be granted: no surge, and no dip the floor allows', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 100 }),
        (a, b, c, percent) => {
          const [min, desired, max] = [a, b, c].sort((x, y) => x - y) as [number, number, number];
          const headroom = headroomOf(group(desired, min, max), percent);
          const canSurge = desired < max;
          const canDip = desired - 1 >= min && desired - 1 >= healthyFloor(desired, percent);
          expect(headroom.kind === 'none').toBe(!canSurge && !canDip);
          if (headroom.kind === 'standby-first')
            expect(desired - headroom.dips).toBe(healthyFloor(desired, percent));
        },
      ),
    );
  });
});
