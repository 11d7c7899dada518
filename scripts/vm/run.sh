#!/bin/sh
# The test inside the VM (PID 1's child, see vm-init.sh): builds a kube-proxy-style node from
# network namespaces, then for each attach mode in /payload/modes runs the probe helper,
# `conntrack -E` and the client, leaving raw outputs in $1 for the host to check.
# Lab: client 10.0.1.2 -> node (10.0.1.1 | 10.1.1.1, 10.1.2.1) -> backends be1 10.1.1.2, be2 10.1.2.2.
R=$1
P=/payload
COUNT=$(cat $P/count)
ATTACH_SECONDS=120
set -u
say() { echo "ss-vm: [$(cut -d" " -f1 /proc/uptime)] $*" >/dev/console; echo "$*"; }
inns() { ns=$1; shift; ip netns exec "$ns" "$@"; }

uname -r >$R/release
grep -E '^CONFIG_(KPROBES|DEBUG_INFO_BTF|DEBUG_INFO_BTF_MODULES|FUNCTION_TRACER|BPF_EVENTS)=' /boot/config-"$(uname -r)" >$R/config
modprobe nf_conntrack && grep -c __nf_conntrack_confirm /sys/kernel/tracing/available_filter_functions >$R/filter-functions

for ns in node cli be1 be2; do ip netns add $ns; inns $ns ip link set lo up; done
link() { # link NS ADDR NODE-ADDR
  ip link add v-$1 type veth peer name n-$1
  ip link set v-$1 netns $1
  ip link set n-$1 netns node
  inns $1 ip addr add $2/24 dev v-$1
  inns $1 ip link set v-$1 up
  inns node ip addr add $3/24 dev n-$1
  inns node ip link set n-$1 up
  inns $1 ip route add default via $3
}
link cli 10.0.1.2 10.0.1.1
link be1 10.1.1.2 10.1.1.1
link be2 10.1.2.2 10.1.2.1
inns node sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
# the node's own connections to Services need a route out before OUTPUT's DNAT reroutes them
inns node ip route add 10.96.0.0/16 dev n-cli

# kube-proxy's shape: KUBE-SERVICES -> KUBE-SVC-* (random 1/2) -> KUBE-SEP-* (DNAT); the masq
# Service marks its traffic like kube-proxy does for sources outside the pod range.
ipt() { inns node iptables -w "$@"; }
ipt -t nat -N KUBE-SERVICES
ipt -t nat -N KUBE-MARK-MASQ
ipt -t nat -N KUBE-POSTROUTING
ipt -t nat -A PREROUTING -j KUBE-SERVICES
ipt -t nat -A OUTPUT -j KUBE-SERVICES
ipt -t nat -A POSTROUTING -j KUBE-POSTROUTING
ipt -t nat -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
ipt -t nat -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
ipt -t nat -A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
ipt -t nat -A KUBE-POSTROUTING -j MASQUERADE
service() { # service NAME IP PORT PROTO BACKEND-PORT masq|plain
  svc=KUBE-SVC-$1
  ipt -t nat -N $svc
  ipt -t nat -A KUBE-SERVICES -d $2/32 -p $4 --dport $3 -j $svc
  [ "$6" = masq ] && ipt -t nat -A $svc -p $4 -j KUBE-MARK-MASQ
  ipt -t nat -N KUBE-SEP-$1-A
  ipt -t nat -N KUBE-SEP-$1-B
  ipt -t nat -A $svc -m statistic --mode random --probability 0.5 -j KUBE-SEP-$1-A
  ipt -t nat -A $svc -j KUBE-SEP-$1-B
  ipt -t nat -A KUBE-SEP-$1-A -p $4 -j DNAT --to-destination 10.1.1.2:$5
  ipt -t nat -A KUBE-SEP-$1-B -p $4 -j DNAT --to-destination 10.1.2.2:$5
}
service WEB 10.96.0.10 80 tcp 8080 plain
service DNS 10.96.0.10 53 udp 5353 plain
service WEBM 10.96.0.11 80 tcp 8080 masq
service DNSM 10.96.0.11 53 udp 5353 masq
# DNATed, then dropped before confirmation: must never count
service GONE 10.96.0.12 80 tcp 9090 plain
ipt -A FORWARD -p tcp --dport 9090 -j DROP
ipt -t nat -S >$R/rules

for be in be1 be2; do
  inns $be $P/node $P/backend.mjs $be $R/$be.log >$R/$be.out 2>&1 &
done
for be in be1 be2; do
  for i in $(seq 100); do grep -q ready $R/$be.out 2>/dev/null && break; sleep 0.1; done
done
say "lab up"

TARGETS="tcp:10.96.0.10:80 udp:10.96.0.10:53 tcp:10.96.0.11:80 udp:10.96.0.11:53"
for mode in $(cat $P/modes); do
  inns node conntrack -F 2>/dev/null
  inns node conntrack -E -e NEW >$R/$mode.conntrack 2>/dev/null &
  ct=$!
  $P/stickyscope-probe --netns /run/netns/node --attach $mode >$R/$mode.records 2>$R/$mode.err </dev/null &
  probe=$!
  attached=no
  # loading BTF and programs takes seconds under emulation
  deadline=$(($(cut -d. -f1 /proc/uptime) + ATTACH_SECONDS))
  while kill -0 $probe 2>/dev/null && [ "$(cut -d. -f1 /proc/uptime)" -lt $deadline ]; do
    [ "$(stat -c %s $R/$mode.records)" -ge 120 ] && { attached=yes; break; }
    sleep 0.2
  done
  if [ $attached = yes ]; then
    sleep 0.3 # conntrack -E subscribes asynchronously
    say "mode $mode: attached, traffic"
    inns cli $P/node $P/client.mjs $mode $COUNT $TARGETS >$R/$mode.client 2>&1
    say "mode $mode: client done"
    inns cli $P/node $P/client.mjs $mode-drop 2 tcp:10.96.0.12:80 >>$R/$mode.client 2>&1
    inns node $P/node $P/client.mjs $mode-local 3 tcp:10.96.0.10:80 udp:10.96.0.11:53 >>$R/$mode.client 2>&1
    sleep 0.5
  fi
  kill -TERM $probe 2>/dev/null
  wait $probe
  echo $? >$R/$mode.rc
  kill $ct 2>/dev/null
  wait $ct 2>/dev/null
  say "mode $mode: attached=$attached exit=$(cat $R/$mode.rc)"
done
