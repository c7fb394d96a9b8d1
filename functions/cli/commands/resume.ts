/** `phoenix resume`: turns the pause switch off; remediations start again at their next recheck. */
import type { CliIo } from '../io';
import { setSwitch } from './pause';

/** `phoenix resume [--table NAME] [--by NAME] [--region R] [--endpoint URL]` */
export function run(argv: string[], io: CliIo): Promise<number> {
  return setSwitch(false, argv, io);
}
