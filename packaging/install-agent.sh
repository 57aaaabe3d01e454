#!/usr/bin/env bash
# Installs musterd on a node from a muster source tree: /opt/muster, the systemd unit, and the
# config and certificates you pass. Run as root on the node.
#   packaging/install-agent.sh NODE_NAME CA_CRT AGENT_CRT AGENT_KEY
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 NODE_NAME CA_CRT AGENT_CRT AGENT_KEY" >&2; exit 2; }
name=$1; ca=$2; cert=$3; key=$4
src=$(cd "$(dirname "$0")/.." && pwd)
command -v node >/dev/null || { echo "node (20 or newer) is required" >&2; exit 1; }

install -d -m 0755 /opt/muster
cp -a "$src/README.md" "$src/package.json" "$src/package-lock.json" "$src/bin" "$src/agent" "$src/controller" "$src/common" "$src/proto" "$src/tsconfig.json" "$src/tsconfig.build.json" /opt/muster/
(cd /opt/muster && npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev)

install -d -m 0700 /etc/muster/pki
install -m 0644 "$ca" /etc/muster/pki/ca.crt
install -m 0644 "$cert" /etc/muster/pki/agent.crt
install -m 0600 "$key" /etc/muster/pki/agent.key
if [ ! -f /etc/muster/musterd.yaml ]; then
  sed "s/^name: m1 .*/name: $name/" "$src/packaging/musterd.yaml" > /etc/muster/musterd.yaml
  chmod 0644 /etc/muster/musterd.yaml
fi
install -m 0644 "$src/packaging/systemd/musterd.service" /etc/systemd/system/musterd.service
systemctl daemon-reload
systemctl enable --now musterd
echo "musterd installed; check: systemctl status musterd; curl -s 127.0.0.1:7444/readyz"
