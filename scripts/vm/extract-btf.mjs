// Cuts the kernel's BTF (the .BTF section bpftool reads from /sys/kernel/btf/vmlinux on a running
// kernel) out of a kernel image file, so the BPF build can target a kernel this machine does not run.
// Usage: node extract-btf.mjs VMLINUZ OUT   (VMLINUZ: a raw or gzip-compressed Image, as Debian ships arm64's)
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  process.stderr.write('usage: node extract-btf.mjs VMLINUZ OUT\n');
  process.exit(2);
}
const file = readFileSync(input);
const image = file[0] === 0x1f && file[1] === 0x8b ? gunzipSync(file) : file;
// struct btf_header: u16 magic 0xeb9f, u8 version 1, u8 flags, u32 hdr_len, u32 type_off, u32 type_len,
// u32 str_off, u32 str_len; type and string sections follow the header (little endian here).
const MAGIC = Buffer.from([0x9f, 0xeb, 0x01, 0x00]);
const found = [];
for (let at = image.indexOf(MAGIC); at >= 0; at = image.indexOf(MAGIC, at + 1)) {
  if (at + 24 > image.length) break;
  const hdrLen = image.readUInt32LE(at + 4);
  const [typeOff, typeLen, strOff, strLen] = [8, 12, 16, 20].map((o) => image.readUInt32LE(at + o));
  if (hdrLen !== 24 || typeOff !== 0 || strOff !== typeLen || strLen === 0) continue;
  const size = hdrLen + strOff + strLen;
  // the string section starts with the empty string and ends with a NUL
  if (at + size > image.length || image[at + hdrLen + strOff] !== 0 || image[at + size - 1] !== 0) continue;
  found.push({ at, size });
}
// the kernel's own BTF is by far the largest blob carrying the header (several MB)
const best = found.sort((a, b) => b.size - a.size)[0];
if (!best || best.size < 1 << 20) {
  process.stderr.write(
    `extract-btf: found no BTF of at least 1 MiB in ${input} (${found.length} smaller candidates): ` +
      'expected a kernel built with CONFIG_DEBUG_INFO_BTF\n',
  );
  process.exit(1);
}
writeFileSync(output, image.subarray(best.at, best.at + best.size));
process.stdout.write(`${output}: ${best.size} bytes of BTF at offset ${best.at} of ${input}\n`);
