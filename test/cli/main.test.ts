import { describe, expect, it } from 'vitest';
import { memoryIo } from '../../functions/cli/io';
import { COMMANDS, main } from '../../functions/cli/main';

describe('phoenix (the dispatcher)', () => {
  it('lists every command on --help and exits 0', async () => {
    const io = memoryIo();

    const code = await main(['--help'], io);

    expect(code).toBe(0);
    const lines = io.out().split('\n');
    for (const [name, summary] of Object.entries(COMMANDS)) {
      expect(lines.some((line) => line.startsWith(`  ${name} `) && line.endsWith(summary))).toBe(true);
    }
    expect(io.err()).toBe('');
  });

  it('prints the usage on standard error and exits 1 when no command is given', async () => {
    const io = memoryIo();

    const code = await main([], io);

    expect(code).toBe(1);
    expect(io.err()).toContain('Usage: phoenix <command> [options]');
    expect(io.out()).toBe('');
  });

  it('names an unknown command, lists the real ones and exits 1', async () => {
    const io = memoryIo();

    const code = await main(['valdate', 'phoenix.yaml'], io);

    expect(code).toBe(1);
    expect(io.err()).toContain('phoenix: unknown command "valdate"');
    for (const name of Object.keys(COMMANDS)) expect(io.err()).toContain(`  ${name} `);
  });

  it('does not treat inherited object properties as commands', async () => {
    const io = memoryIo();

    const code = await main(['constructor'], io);

    expect(code).toBe(1);
    expect(io.err()).toContain('unknown command "constructor"');
  });

  it('says a listed command whose module is not there yet is not available, and exits 1', async () => {
    const io = memoryIo();

    const code = await main(['ghost'], io, { ghost: 'a command nobody has written' });

    expect(code).toBe(1);
    expect(io.err()).toBe('phoenix: the "ghost" command is not available yet in this version\n');
  });

  it('loads the command on demand and passes it the remaining arguments', async () => {
    const io = memoryIo();

    const code = await main(['validate', 'examples/minimal.yaml'], io);

    expect(code).toBe(0);
    expect(io.out()).toMatch(/^examples\/minimal\.yaml: valid \(1 fleet, revision [0-9a-f]{12}\)\n$/);
  });
});
