import { describe, expect, it } from 'vitest';
import { createStateTable } from '../../emulator/table';
import { StateStore } from '../../functions/aws/state-store';
import { testClients } from '../helpers/emulator';

describe('notification claims in the state table (emulated DynamoDB)', () => {
  it('a released claim can be claimed again; an unreleased one cannot', async () => {
    const { dynamodb } = testClients();
    const store = new StateStore(dynamodb, await createStateTable(dynamodb, 'phoenix-claims'));
    const key = 'drift.detected#i-0123456789abcdef0#v1-0123456789abcdef01234567';

    const first = await store.claimNotification(key, 3600);
    const whileHeld = await store.claimNotification(key, 3600);
    await store.releaseNotification(key);
    const afterRelease = await store.claimNotification(key, 3600);

    expect([first, whileHeld, afterRelease]).toEqual([true, false, true]);
  });

  it('releasing a claim nobody holds is not an error', async () => {
    const { dynamodb } = testClients();
    const store = new StateStore(dynamodb, await createStateTable(dynamodb, 'phoenix-claims-2'));

    await expect(store.releaseNotification('never-claimed')).resolves.toBeUndefined();
    await expect(store.releaseNotification('')).rejects.toThrow(/cannot be empty/);
  });
});
