#!/usr/bin/env bash
# A small web4p2p mesh across Linux network namespaces: three public nodes
# on a bridge (one of them a relay) and two nodes each behind its own NAT
# router (nftables masquerade). Builds the binary, creates the namespaces,
# starts the nodes, waits until the NATed nodes reach each other (through
# the relay, then directly by hole punching), prints `peers` of every node
# and tears everything down again (also on Ctrl-C or error).
#
# Needs root, iproute2 (ip) and nftables (nft). Addresses are from the
# benchmarking range 198.18.0.0/15 and exist only inside the namespaces;
# the root namespace gets no address, route or device.
#
#   sudo scripts/netns-mesh.sh           # build, run, show, tear down
#   sudo scripts/netns-mesh.sh --keep    # leave it running until Enter
set -euo pipefail
cd "$(dirname "$0")/.."

keep=false
[[ "${1:-}" == "--keep" ]] && keep=true
for tool in ip nft go; do
  command -v "$tool" >/dev/null || { echo "netns-mesh: $tool not found (apt-get install iproute2 nftables)" >&2; exit 1; }
done
[[ $(id -u) -eq 0 ]] || { echo "netns-mesh: needs root (network namespaces)" >&2; exit 1; }

P="w4mesh$$-" # namespace prefix: unique per run, removed on exit
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for ns in $(ip netns list | awk '{print $1}' | grep "^$P" || true); do ip netns del "$ns"; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "== building web4p2p"
go build -o "$work/web4p2p" ./cmd/web4p2p
bin="$work/web4p2p"

ns() { echo "$P$1"; }
inns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }

echo "== namespaces: pub1 pub2 pub3 on 198.18.0.0/24; nat1/nat2 routers; n1 behind nat1, n2 behind nat2"
ip netns add "$(ns sw)"
ip -n "$(ns sw)" link add br0 type bridge
ip -n "$(ns sw)" link set br0 up
uplink() { # uplink NS ADDR: NS's eth0 on the public bridge
  ip netns add "$(ns "$1")"
  ip -n "$(ns "$1")" link set lo up
  ip -n "$(ns sw)" link add "$1" type veth peer name eth0 netns "$(ns "$1")"
  ip -n "$(ns sw)" link set "$1" master br0 up
  ip -n "$(ns "$1")" addr add "$2/24" dev eth0
  ip -n "$(ns "$1")" link set eth0 up
}
uplink pub1 198.18.0.1
uplink pub2 198.18.0.2
uplink pub3 198.18.0.3
natted() { # natted ROUTER RADDR NODE LAN: NODE behind ROUTER doing masquerade
  uplink "$1" "$2"
  ip netns add "$(ns "$3")"
  ip -n "$(ns "$3")" link set lo up
  ip -n "$(ns "$1")" link add lan0 type veth peer name eth0 netns "$(ns "$3")"
  ip -n "$(ns "$1")" addr add "$4.1/24" dev lan0
  ip -n "$(ns "$1")" link set lan0 up
  ip -n "$(ns "$3")" addr add "$4.2/24" dev eth0
  ip -n "$(ns "$3")" link set eth0 up
  ip -n "$(ns "$3")" route add default via "$4.1"
  inns "$1" sysctl -qw net.ipv4.ip_forward=1
  inns "$1" nft -f internal/netlab/router.nft # masquerade + home-router firewall
}
natted nat1 198.18.0.11 n1 198.19.1
natted nat2 198.18.0.12 n2 198.19.2

start() { # start NAME ARGS...: web4p2p in namespace NAME, data in $work/NAME
  local n=$1; shift
  mkdir -p "$work/$n"
  # ip netns exec execs the node itself, so $! is the node's pid.
  ip netns exec "$(ns "$n")" "$bin" start ${LOG_LEVEL:+--log-level "$LOG_LEVEL"} --data-dir "$work/$n" --agent-id "$n" --port 4001 --quiet \
    --mesh netns-demo --public-cidr 198.18.0.0/15 "$@" >"$work/$n.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [[ -f "$work/$n/api.addr" ]] && return; sleep 0.1; done
  echo "netns-mesh: $n did not start:" >&2; cat "$work/$n.log" >&2; exit 1
}
peerid() { "$bin" id --data-dir "$work/$1" --json | sed -n 's/.*"peer_id": *"\([^"]*\)".*/\1/p'; }

echo "== starting nodes"
start pub1 --dht server --relay-service
boot="/ip4/198.18.0.1/udp/4001/quic-v1/p2p/$(peerid pub1)"
start pub2 --dht server --bootstrap "$boot"
start pub3 --dht server --bootstrap "$boot"
start n1 --reachability private --bootstrap "$boot"
start n2 --reachability private --bootstrap "$boot"

echo "== waiting until n1 holds a CIP session with n2 over a direct connection (relay, then hole punch)"
direct=false
for i in $(seq 90); do
  # AGENT is known once the CIP handshake ran; VIA lists the connections.
  if inns n1 "$bin" peers --data-dir "$work/n1" | awk '$2 == "n2"' | grep -q "direct"; then
    echo "   after ${i}s"; direct=true; break
  fi
  [[ $i == 90 ]] && echo "   not within 90s (see peers below)"
  sleep 1
done
for n in pub1 pub2 pub3 n1 n2; do
  echo "== peers of $n"
  inns "$n" "$bin" peers --data-dir "$work/$n"
done
if $keep; then
  echo "running; data dirs under $work; press Enter to tear down"
  read -r _
fi
echo "== tearing down"
$direct || { echo "netns-mesh: n1 and n2 never held a direct connection with a CIP session" >&2; exit 1; }
