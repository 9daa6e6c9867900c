// One extended attribute of every member of a tar stream, read from the members' pax records
// (`SCHILY.xattr.NAME`, as GNU tar and BuildKit write them) with their exact bytes: node-tar's
// pax parser decodes values as UTF-8, which breaks binary values such as security.capability, so
// only the pax bodies are parsed here; node-tar's Header decodes the header blocks.
// Bodies are skipped as they stream by; only headers and pax records are kept.

import { Header } from 'tar';
import { KilnError } from '../errors.js';
import { TAR_BLOCK } from './tar.js';

/** Pax records larger than this are refused (a capability is 20 or 24 bytes). */
const MAX_PAX_BODY = 1024 * 1024;

/** Member path (as written: leading './' and '/' and a trailing '/' removed) -> the attribute's bytes. */
export async function xattrInTar(input: AsyncIterable<Buffer>, attribute: string): Promise<Map<string, Buffer>> {
  const key = Buffer.from(`SCHILY.xattr.${attribute}=`);
  const found = new Map<string, Buffer>();
  let buffered: Buffer = Buffer.alloc(0);
  /** Bytes of the current body still to skip (with padding) before the next header. */
  let skip = 0;
  /** Collecting a pax body of this padded size, for the next member. */
  let paxBody: { size: number; padded: number } | undefined;
  let pending: { value?: Buffer; path?: string } = {};

  for await (const chunk of input) {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, buffered.length);
        buffered = buffered.subarray(n);
        skip -= n;
        if (skip > 0) break;
      }
      if (paxBody) {
        if (buffered.length < paxBody.padded) break;
        const records = parsePaxRecords(buffered.subarray(0, paxBody.size));
        buffered = buffered.subarray(paxBody.padded);
        paxBody = undefined;
        for (const record of records) {
          if (record.subarray(0, key.length).equals(key)) pending.value = Buffer.from(record.subarray(key.length));
          else if (record.subarray(0, 5).toString('latin1') === 'path=') pending.path = record.subarray(5).toString('utf8');
        }
        continue;
      }
      if (buffered.length < TAR_BLOCK) break;
      const block = buffered.subarray(0, TAR_BLOCK);
      buffered = buffered.subarray(TAR_BLOCK);
      // node-tar's Header decodes the block (name and prefix, size, type); only the pax body is ours.
      const h = new Header(block);
      if (h.nullBlock) continue; // end-of-archive blocks
      const size = Number(h.size ?? 0);
      if (!h.cksumValid || !Number.isSafeInteger(size) || size < 0) throw new KilnError('unreadable tar header while reading file attributes');
      const padded = Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
      if (h.type === 'ExtendedHeader') {
        if (size > MAX_PAX_BODY) throw new KilnError(`a pax header of ${size} bytes while reading file attributes`);
        paxBody = { size, padded };
        continue;
      }
      if (h.type === 'GlobalExtendedHeader' || h.type === 'NextFileHasLongPath' || h.type === 'NextFileHasLongLinkpath') {
        skip = padded; // global records and GNU long names: not used for the members we ask tar for
        continue;
      }
      const name = pending.path ?? h.path ?? '';
      if (pending.value) found.set(name.replace(/^(\.\/|\/)+/, '').replace(/\/$/, ''), pending.value);
      pending = {};
      skip = h.type === 'Directory' ? 0 : padded;
    }
  }
  return found;
}

/** The records of a pax body: each `LEN key=value\n`, LEN counting the whole record; values may be binary. */
function parsePaxRecords(body: Buffer): Buffer[] {
  const records: Buffer[] = [];
  for (let at = 0; at < body.length; ) {
    const space = body.indexOf(0x20, at);
    const length = space < 0 ? NaN : Number(body.toString('latin1', at, space));
    if (!Number.isSafeInteger(length) || length <= space - at + 1 || at + length > body.length) {
      throw new KilnError('malformed pax record while reading file attributes');
    }
    records.push(body.subarray(space + 1, at + length - 1)); // without the trailing newline
    at += length;
  }
  return records;
}
