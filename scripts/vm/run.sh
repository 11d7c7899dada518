#!/bin/sh
# The test inside the VM (PID 1's child, see vm-init.sh): builds a kube-proxy-style node from
# network namespaces, then for each attach mode in /payload/modes, and for each capability set in
# /payload/caps, runs the probe helper, `conntrack -E` and the client, leaving raw outputs in $1
# for the host to check.
# Lab: client 10.0.1.2 -> node (10.0.1.1 | 10.1.1.1, 10.1.2.1) -> backends be1 10.1.1.2, be2 10.1.2.2.
R=$1
P=/payload
COUNT=$(cat $P/count)
ATTACH_SECONDS=120
set -u
say() { echo "ss-vm: [$(cut -d" " -f1 /proc/uptime)] $*" >/dev/console; echo "$*"; }
inns() { ns=$1; shift; ip netns exec "$ns" "$@"; }

uname -r >$R/release
uname -m >$R/machine
grep -E '^CONFIG_(KPROBES|DEBUG_INFO_BTF|DEBUG_INFO_BTF_MODULES|FUNCTION_TRACER|BPF_EVENTS)=' /boot/config-"$(uname -r)" >$R/config
modprobe nf_conntrack && grep -c __nf_conntrack_confirm /sys/kernel/tracing/available_filter_functions >$R/filter-functions

# one `ip -batch` per namespace and one `iptables-restore`: every process start is slow under emulation
for ns in node cli be1 be2; do echo "netns add $ns"; done >$R/ip-root
echo "link set lo up" >$R/ip-node
# the node's own connections to Services need a route out before OUTPUT's DNAT reroutes them
echo "route add 10.96.0.0/16 dev n-cli" >$R/ip-node-routes
for l in "cli 10.0.1.2 10.0.1.1" "be1 10.1.1.2 10.1.1.1" "be2 10.1.2.2 10.1.2.1"; do
  set -- $l
  echo "link add v-$1 netns $1 type veth peer name n-$1 netns node" >>$R/ip-root
  printf 'link set lo up\naddr add %s/24 dev v-%s\nlink set v-%s up\nroute add default via %s\n' $2 $1 $1 $3 >$R/ip-$1
  printf 'addr add %s/24 dev n-%s\nlink set n-%s up\n' $3 $1 $1 >>$R/ip-node
done
ip -batch $R/ip-root
for ns in node cli be1 be2; do ip -n $ns -batch $R/ip-$ns; done
ip -n node -batch $R/ip-node-routes
inns node sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'

# kube-proxy's shape: KUBE-SERVICES -> KUBE-SVC-* (random 1/2) -> KUBE-SEP-* (DNAT); the masq
# Service marks its traffic like kube-proxy does for sources outside the pod range.
service() { # service NAME IP PORT PROTO BACKEND-PORT masq|plain
  echo ":KUBE-SVC-$1 - [0:0]"
  echo ":KUBE-SEP-$1-A - [0:0]"
  echo ":KUBE-SEP-$1-B - [0:0]"
  echo "-A KUBE-SERVICES -d $2/32 -p $4 --dport $3 -j KUBE-SVC-$1"
  [ "$6" = masq ] && echo "-A KUBE-SVC-$1 -p $4 -j KUBE-MARK-MASQ"
  echo "-A KUBE-SVC-$1 -m statistic --mode random --probability 0.5 -j KUBE-SEP-$1-A"
  echo "-A KUBE-SVC-$1 -j KUBE-SEP-$1-B"
  echo "-A KUBE-SEP-$1-A -p $4 -j DNAT --to-destination 10.1.1.2:$5"
  echo "-A KUBE-SEP-$1-B -p $4 -j DNAT --to-destination 10.1.2.2:$5"
}
{
  echo '*nat'
  echo ':KUBE-SERVICES - [0:0]'
  echo ':KUBE-MARK-MASQ - [0:0]'
  echo ':KUBE-POSTROUTING - [0:0]'
  echo '-A PREROUTING -j KUBE-SERVICES'
  echo '-A OUTPUT -j KUBE-SERVICES'
  echo '-A POSTROUTING -j KUBE-POSTROUTING'
  echo '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000'
  echo '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN'
  echo '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0'
  echo '-A KUBE-POSTROUTING -j MASQUERADE'
  service WEB 10.96.0.10 80 tcp 8080 plain
  service DNS 10.96.0.10 53 udp 5353 plain
  service WEBM 10.96.0.11 80 tcp 8080 masq
  service DNSM 10.96.0.11 53 udp 5353 masq
  # DNATed, then dropped before confirmation: must never count
  service GONE 10.96.0.12 80 tcp 9090 plain
  # the overhead runs' flood: one datagram per flow to a port nobody answers (no Node on the path)
  service FLOOD 10.96.0.13 9 udp 9 plain
  echo 'COMMIT'
  echo '*filter'
  echo '-A FORWARD -p tcp --dport 9090 -j DROP'
  echo 'COMMIT'
} >$R/rules
inns node iptables-restore $R/rules
say "rules loaded"

for be in be1 be2; do
  inns $be $P/node $P/backend.mjs $be $R/$be.log >$R/$be.out 2>&1 &
done
for be in be1 be2; do
  for i in $(seq 100); do grep -q ready $R/$be.out 2>/dev/null && break; sleep 0.1; done
done
say "lab up"

# the helper runs until its stdin ends: hold a pipe open for it
mkfifo /tmp/hold
exec 3<>/tmp/hold
TARGETS="tcp:10.96.0.10:80 udp:10.96.0.10:53 tcp:10.96.0.11:80 udp:10.96.0.11:53"
# start_probe NAME COMMAND...: the helper (COMMAND) in the background, its outputs in $R/NAME.*;
# sets probe and attached (yes once its HELLO and ATTACH records are out).
start_probe() {
  name=$1
  shift
  "$@" >$R/$name.records 2>$R/$name.err <&3 &
  probe=$!
  attached=no
  # loading BTF and programs takes seconds under emulation
  deadline=$(($(cut -d. -f1 /proc/uptime) + ATTACH_SECONDS))
  while kill -0 $probe 2>/dev/null && [ "$(cut -d. -f1 /proc/uptime)" -lt $deadline ]; do
    [ "$(stat -c %s $R/$name.records)" -ge 120 ] && { attached=yes; break; }
    sleep 0.2
  done
}
stop_probe() {
  kill -TERM $probe 2>/dev/null
  wait $probe
  echo $? >$R/$name.rc
}

# run_probe NAME COUNT COMMAND...: the helper (COMMAND) with `conntrack -E` beside it, once attached
# the client's COUNT connections per target, its dropped and node-local ones; outputs in $R/NAME.*
run_probe() {
  name=$1 count=$2
  shift 2
  inns node conntrack -F 2>/dev/null
  inns node conntrack -E -e NEW >$R/$name.conntrack 2>/dev/null &
  ct=$!
  start_probe $name "$@"
  if [ $attached = yes ]; then
    sleep 0.3 # conntrack -E subscribes asynchronously
    say "$name: attached, traffic"
    inns cli $P/node $P/client.mjs $name $count 10000 $TARGETS >$R/$name.client 2>&1
    say "$name: client done"
    inns cli $P/node $P/client.mjs $name-drop 2 1500 tcp:10.96.0.12:80 >>$R/$name.client 2>&1
    inns node $P/node $P/client.mjs $name-local 3 10000 tcp:10.96.0.10:80 udp:10.96.0.11:53 >>$R/$name.client 2>&1
    sleep 0.5
  fi
  # conntrack -E stops first: every entry it saw was made while the helper was attached
  kill $ct 2>/dev/null
  wait $ct 2>/dev/null
  stop_probe
  say "$name: attached=$attached exit=$(cat $R/$name.rc)"
}

for mode in $(cat $P/modes); do
  run_probe $mode $COUNT $P/stickyscope-probe --netns /run/netns/node --attach $mode
done

# Overhead: the same flood of new UDP flows through a Service without the helper, then under each
# mode in $P/overhead with --stats (the programs' run time, the helper's CPU time per record).
FLOOD="--dst 10.96.0.13:9 --src-base 10.0.1.2 --src-count 1 --count $(cat $P/flood-count) --duration 300"
# the first flood also warms up: under emulation, code runs slowly the first time it runs
inns cli $P/flood $FLOOD >/dev/null 2>&1
for mode in none $(cat $P/overhead); do
  name=overhead-$mode
  attached=yes
  [ $mode = none ] || start_probe $name $P/stickyscope-probe --netns /run/netns/node --attach $mode --stats
  inns node conntrack -F 2>/dev/null
  [ $attached = yes ] && inns cli $P/flood $FLOOD >$R/$name.flood 2>&1
  [ $mode = none ] || { sleep 0.5; stop_probe; }
  say "$name: attached=$attached $(cat $R/$name.flood 2>/dev/null)"
done

# Capability sets ($P/caps lines: NAME MODE +cap,+cap... [PARANOID]): root holding only those, in the
# node's namespace already (as with the DaemonSet's hostNetwork, so no setns), no_new_privs like
# allowPrivilegeEscalation: false; PARANOID, if given, is kernel.perf_event_paranoid for that run only.
cat /proc/sys/kernel/perf_event_paranoid >$R/perf_event_paranoid
exec 4<$P/caps
while read -r name mode caps paranoid <&4; do
  [ -n "$paranoid" ] && echo "$paranoid" >/proc/sys/kernel/perf_event_paranoid
  run_probe $name 2 nsenter --net=/run/netns/node \
    setpriv --no-new-privs --inh-caps=-all --bounding-set=-all,$caps -- $P/stickyscope-probe --attach $mode
  cat $R/perf_event_paranoid >/proc/sys/kernel/perf_event_paranoid
done
exec 4<&-

# Without nf_conntrack_netlink (a node without the module, or one that will not load it): the helper says so in one
# line and traces new connections as before. Last, since conntrack -E needs the module: the backends' logs are the
# ground truth here.
if rmmod nf_conntrack_netlink 2>/dev/null || ! grep -q '^nf_conntrack_netlink ' /proc/modules; then
  echo 'install nf_conntrack_netlink /bin/false' >/etc/modprobe.d/stickyscope-no-ctnetlink.conf
  name=no-ctnetlink
  start_probe $name $P/stickyscope-probe --netns /run/netns/node --attach auto
  if [ $attached = yes ]; then
    inns cli $P/node $P/client.mjs $name 2 10000 $TARGETS >$R/$name.client 2>&1
    sleep 0.5
  fi
  stop_probe
  say "$name: attached=$attached exit=$(cat $R/$name.rc)"
else
  say "no-ctnetlink: nf_conntrack_netlink could not be removed"
fi
