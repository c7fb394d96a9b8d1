/**
 * Reads a file a person named (a desired state, an instance's JSON) and says in one line
 * why it cannot be read: missing, a directory, not a regular file, not allowed, too large,
 * not UTF-8 text (with the line and column of the first bad byte).
 */
import { closeSync, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { InvalidInputError } from '../domain/errors';

/** The most a command reads from one file; a desired state or an instance is far smaller. */
export const MAX_INPUT_BYTES = 32 * 1024 * 1024;

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  ENOTDIR: 'no such file (a part of its path is not a directory)',
  EISDIR: 'it is a directory, not a file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
};

/** The file's bytes and its text (UTF-8, a leading byte order mark dropped). */
export interface InputFile {
  bytes: Buffer;
  text: string;
}

/**
 * The position of the first byte that is not valid UTF-8, or undefined when all are. Lines
 * and columns count from 1; a column counts characters, as an editor shows them.
 */
export function firstInvalidUtf8(
  bytes: Uint8Array,
): { offset: number; line: number; column: number } | undefined {
  let line = 1;
  let column = 1;
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] ?? 0;
    let length = 0;
    let min = 0;
    if (b < 0x80) length = 1;
    else if (b >= 0xc2 && b <= 0xdf) [length, min] = [2, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [length, min] = [3, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [length, min] = [4, 0x10000];
    else return { offset: i, line, column };
    let codePoint = length === 1 ? b : b & (0xff >> (length + 1));
    for (let k = 1; k < length; k += 1) {
      const next = bytes[i + k];
      if (next === undefined || (next & 0xc0) !== 0x80) return { offset: i, line, column };
      codePoint = (codePoint << 6) | (next & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8 either.
    if (codePoint < min || (codePoint >= 0xd800 && codePoint <= 0xdfff) || codePoint > 0x10ffff) {
      return { offset: i, line, column };
    }
    if (b === 0x0a) {
      line += 1;
      column = 1;
    } else {
      column += 1;
    }
    i += length;
  }
  return undefined;
}

/**
 * Reads `file` whole.
 *
 * @param what how messages name it: `desired-state file`, `--instance-json file`.
 * @throws InvalidInputError saying, in one line, why it cannot be read.
 */
export async function readInputFile(file: string, what: string): Promise<InputFile> {
  return readInputFileSync(file, what);
}

/**
 * {@link readInputFile}, synchronously: a CDK construct's constructor (`desiredStatePath`)
 * cannot await, and one small file is not worth an event loop.
 */
export function readInputFileSync(file: string, what: string): InputFile {
  const fail = (why: string, cause?: unknown): InvalidInputError =>
    new InvalidInputError(`cannot read ${what} ${file}: ${why}`, cause === undefined ? undefined : { cause });
  let bytes: Buffer;
  try {
    // Looked at before it is opened: opening a FIFO waits for a writer, reading a device may never end.
    const kind = statSync(file);
    if (kind.isDirectory()) throw fail(ERRNO_TEXT.EISDIR ?? 'a directory');
    if (!kind.isFile()) throw fail('it is not a regular file');
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size > MAX_INPUT_BYTES) throw fail(`it is ${size} bytes; at most ${MAX_INPUT_BYTES} are read`);
      bytes = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw fail(ERRNO_TEXT[code ?? ''] ?? (code === undefined ? String(error) : `error ${code}`), error);
  }
  const bad = firstInvalidUtf8(bytes);
  if (bad !== undefined) {
    const byte = (bytes[bad.offset] ?? 0).toString(16).padStart(2, '0');
    throw new InvalidInputError(
      `${what} ${file}:${bad.line}:${bad.column} is not UTF-8 text (byte 0x${byte}): save it as UTF-8`,
    );
  }
  const text = bytes.toString('utf8');
  return { bytes, text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
}
