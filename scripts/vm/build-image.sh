#!/usr/bin/env bash
# Builds once, under $STICKYSCOPE_VM_CACHE (default /var/cache/stickyscope/vm) and outside
# the clone, the disk image, kernel and initrd of one test VM: one Debian bookworm userland
# with bookworm's 6.1 cloud kernel, or bullseye's 5.10 cloud kernel installed into it; for
# arm64 (6.1 only) an arm64 userland with Debian's nodejs (the host's Node is x86) and the
# kernel's BTF cut out of its image (vmlinux.btf, what the arm64 BPF build reads).
# Usage: build-image.sh 6.1|5.10 [x86_64|arm64]
# Prints the directory holding rootfs.img, vmlinuz, initrd.img (and vmlinux.btf for arm64).
set -euo pipefail
kernel=${1:?usage: build-image.sh 6.1|5.10 [x86_64|arm64]}
arch=${2:-x86_64}
here=$(cd "$(dirname "$0")" && pwd)
cache=${STICKYSCOPE_VM_CACHE:-/var/cache/stickyscope/vm}
fail() { printf 'build-image: failed to %s\n' "$*" >&2; exit 1; }
# The image is rebuilt when the VM's init or this recipe changes: raise recipe when editing below.
recipe=2
case $arch in
x86_64)
  key=$( (echo "recipe $recipe" && cat "$here/vm-init.sh") | sha256sum | cut -c1-16)
  out=$cache/$kernel
  ;;
arm64)
  [ "$kernel" = 6.1 ] || fail "build an arm64 image for kernel '$kernel': only 6.1 is built for arm64"
  key=$( (echo "recipe $recipe arm64" && cat "$here/vm-init.sh" "$here/extract-btf.mjs") | sha256sum | cut -c1-16)
  out=$cache/arm64/$kernel
  ;;
*) fail "build an image for arch '$arch': expected x86_64 or arm64" ;;
esac
if [ -f "$out/ready-$key" ]; then
  echo "$out"
  exit 0
fi
for tool in mmdebstrap mkfs.ext4 apt-get; do
  command -v "$tool" >/dev/null || fail "find $tool: install it (scripts/setup.sh does)"
done
mmdebstrap_arch=()
if [ "$arch" = arm64 ]; then
  # mmdebstrap runs the arm64 packages' scripts through qemu-user-static, which the kernel
  # starts for arm64 binaries only once binfmt_misc is mounted and the entry enabled.
  if ! command -v arch-test >/dev/null || ! arch-test arm64 >/dev/null 2>&1; then
    for tool in qemu-aarch64-static update-binfmts arch-test; do
      command -v "$tool" >/dev/null ||
        fail "find $tool: install qemu-user-static, binfmt-support and arch-test (scripts/setup.sh does)"
    done
    mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
      fail "mount binfmt_misc on /proc/sys/fs/binfmt_misc (needed to run arm64 package scripts)"
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    arch-test arm64 >/dev/null 2>&1 ||
      fail "run arm64 binaries through qemu-user-static (arch-test arm64: $(arch-test arm64 2>&1 | tail -1))"
  fi
  mmdebstrap_arch=(--architectures=arm64)
fi
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.build-$kernel.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
packages=iproute2,iptables,conntrack,libbpf1,libelf1,libnetfilter-conntrack3,busybox,kmod,initramfs-tools,linux-base
hooks=(--customize-hook="copy-in $here/vm-init.sh /sbin")
case $kernel-$arch in
6.1-arm64) packages+=,linux-image-cloud-arm64,nodejs ;;
6.1-x86_64) packages+=,linux-image-cloud-amd64 ;;
5.10-x86_64)
  # bullseye's kernel package, fetched with a private apt configuration (the host's stays as it is)
  apt=$tmp/apt
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$tmp/deb"
  echo 'deb http://deb.debian.org/debian bullseye main' >"$apt/sources.list"
  opts=(-o APT::Sandbox::User=root -o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)
  apt-get -q "${opts[@]}" update >/dev/null || fail "read bullseye's package lists from deb.debian.org"
  pkg=$(apt-cache "${opts[@]}" depends linux-image-cloud-amd64/bullseye 2>/dev/null |
    awk '/Depends: linux-image-5\.10/ { print $2; exit }')
  [ -n "$pkg" ] || fail "find bullseye's 5.10 cloud kernel package (linux-image-cloud-amd64 depends on none)"
  (cd "$tmp/deb" && apt-get -q "${opts[@]}" download "$pkg" >/dev/null) || fail "download $pkg"
  hooks+=(--customize-hook="copy-in $(echo "$tmp"/deb/*.deb) /tmp"
    --customize-hook='chroot "$1" sh -c "dpkg -i --force-depends /tmp/linux-image-*.deb && rm /tmp/linux-image-*.deb"')
  ;;
*) fail "build an image for kernel '$kernel': expected 6.1 or 5.10" ;;
esac
mmdebstrap --quiet "${mmdebstrap_arch[@]}" --variant=minbase --include="$packages" "${hooks[@]}" bookworm "$tmp/root" ||
  fail "build the bookworm root file system with mmdebstrap"
chmod 755 "$tmp/root/sbin/vm-init.sh"
vmlinuz=$(ls "$tmp"/root/boot/vmlinuz-* 2>/dev/null | head -1)
initrd=$(ls "$tmp"/root/boot/initrd.img-* 2>/dev/null | head -1)
[ -n "$vmlinuz" ] && [ -n "$initrd" ] || fail "find a kernel and an initrd in the image's /boot"
cp "$vmlinuz" "$tmp/vmlinuz"
cp "$initrd" "$tmp/initrd.img"
basename "$vmlinuz" | sed 's/^vmlinuz-//' >"$tmp/release"
files=("$tmp/vmlinuz" "$tmp/initrd.img" "$tmp/release" "$tmp/rootfs.img")
if [ "$arch" = arm64 ]; then
  node "$here/extract-btf.mjs" "$tmp/vmlinuz" "$tmp/vmlinux.btf" || fail "cut the BTF out of $vmlinuz"
  files+=("$tmp/vmlinux.btf")
fi
rm -rf "$tmp/root/var/cache/apt" "$tmp/root/var/lib/apt/lists"
truncate -s 1200M "$tmp/rootfs.img"
mkfs.ext4 -q -F -L root -d "$tmp/root" "$tmp/rootfs.img" || fail "make the ext4 disk image"
rm -rf "$out"
mkdir -p "$out"
mv "${files[@]}" "$out/"
touch "$out/ready-$key"
echo "$out"
