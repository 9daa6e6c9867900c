// Writes examples/hello/hello: the smallest program the example image can run with no base image
// (FROM scratch has no shell or libc): a static x86-64 Linux ELF of 169 bytes that writes
// "hello from kiln" and exits 0. Its bytes are spelled out here, instruction by instruction, so
// the file in the repository can be checked against this script (the example test does).
//
// Run: node scripts/make-example-binary.mjs [--check]
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const message = Buffer.from('hello from kiln\n');
const base = 0x400000n;
const headers = 64 + 56; // ELF header + one program header
// write(1, message, length); exit(0)
const code = Buffer.from([
  0xb8, 0x01, 0x00, 0x00, 0x00, //       mov eax, 1 (write)
  0xbf, 0x01, 0x00, 0x00, 0x00, //       mov edi, 1 (stdout)
  0x48, 0x8d, 0x35, 0x10, 0x00, 0x00, 0x00, // lea rsi, [rip + 16] (the message, after the code)
  0xba, message.length, 0x00, 0x00, 0x00, // mov edx, length
  0x0f, 0x05, //                         syscall
  0xb8, 0x3c, 0x00, 0x00, 0x00, //       mov eax, 60 (exit)
  0x31, 0xff, //                         xor edi, edi
  0x0f, 0x05, //                         syscall
]);
const size = BigInt(headers + code.length + message.length);

const elf = Buffer.alloc(64);
elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]); // magic, 64-bit, little endian, version 1, System V
elf.writeUInt16LE(2, 16); // executable
elf.writeUInt16LE(0x3e, 18); // x86-64
elf.writeUInt32LE(1, 20);
elf.writeBigUInt64LE(base + BigInt(headers), 24); // entry: the code, right after the headers
elf.writeBigUInt64LE(64n, 32); // program headers at 64
elf.writeUInt16LE(64, 52); // header size
elf.writeUInt16LE(56, 54); // program header size
elf.writeUInt16LE(1, 56); // one program header

const load = Buffer.alloc(56);
load.writeUInt32LE(1, 0); // PT_LOAD
load.writeUInt32LE(5, 4); // read + execute
load.writeBigUInt64LE(0n, 8); // the whole file...
load.writeBigUInt64LE(base, 16); // ...mapped at 0x400000
load.writeBigUInt64LE(base, 24);
load.writeBigUInt64LE(size, 32);
load.writeBigUInt64LE(size, 40);
load.writeBigUInt64LE(0x1000n, 48);

const bytes = Buffer.concat([elf, load, code, message]);
const target = fileURLToPath(new URL('../examples/hello/hello', import.meta.url));
if (process.argv.includes('--check')) {
  if (!readFileSync(target).equals(bytes)) {
    console.error(`${target} is not what scripts/make-example-binary.mjs writes: run it`);
    process.exit(1);
  }
} else {
  writeFileSync(target, bytes);
  chmodSync(target, 0o755);
}
