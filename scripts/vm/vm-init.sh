#!/bin/sh
# PID 1 of a stickyscope test VM: mounts what the lab needs, runs /payload/run.sh from the
# second disk (an ext4 image), writes its results as a tar onto the third disk, powers off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
bb=/bin/busybox
say() { echo "ss-vm: $*" >/dev/console; }
$bb mount -t proc proc /proc 2>/dev/null
$bb mount -t sysfs sysfs /sys 2>/dev/null
$bb mount -t devtmpfs devtmpfs /dev 2>/dev/null
$bb mount -t tmpfs tmpfs /tmp
$bb mount -t tmpfs tmpfs /run
$bb mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
$bb mkdir -p /payload /tmp/results
if $bb mount -t ext4 -o ro /dev/vdb /payload; then
	say "booted $(uname -r), running the payload"
	sh /payload/run.sh /tmp/results >/tmp/results/console.log 2>&1
	echo $? >/tmp/results/exit-code
else
	echo "failed to mount the payload disk /dev/vdb" >/tmp/results/console.log
	echo 125 >/tmp/results/exit-code
fi
$bb tar -C /tmp/results -cf /dev/vdc .
$bb sync
say "done, exit $(cat /tmp/results/exit-code)"
$bb poweroff -f
