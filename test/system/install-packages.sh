#!/usr/bin/env bash
# Installs the real programs the system tests run (Debian 12 packages). Idempotent: skips apt
# when everything is already there.
set -euo pipefail
packages=(
  containerd                       # the node runtime: containerd parses the generated config.toml
  etcd-server etcd-client          # etcd 3.4: real clusters with muster's certificates, discovery
  jq                               # the crictl stand-in filters the stand-in kubelet's pods by namespace
  haproxy nginx libnginx-mod-stream keepalived curl   # load balancer configs, validated and run
  openssl                          # openssl verify of issued certificates
  systemd                          # systemd-analyze verify of generated units; systemctl for the service kind; journald for the log priorities
  apt-utils gpg                    # the package kind: a signed local repository (apt-ftparchive, gpg; dpkg-deb is dpkg)
  kmod procps                      # kernel-module (modprobe) and sysctl -p
  # packaging: the .debs (dpkg-deb, strip from binutils), lintian, a Debian 12 tree to install into
  dpkg-dev binutils lintian debootstrap strace   # strace: the system calls the agent makes vs the unit's filter
  prometheus                       # promtool check metrics on the agent's and the controller's /metrics
  zsh                              # muster completion zsh, run by a real zsh
  chromium                         # the dashboard's browser test (driven by playwright-core) and its screenshot
  # storage: real servers and userspace clients for the mount task's system tests
  e2fsprogs xfsprogs util-linux psmisc
  glusterfs-server glusterfs-client
  tgt libiscsi-bin open-iscsi
  nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils
  ceph-mon ceph-mgr ceph-osd ceph-mds ceph-fuse rbd-fuse ceph-common
)
# kubectl for the kubeconfig test: Debian's kubernetes-client only where none is installed yet.
command -v kubectl >/dev/null || packages+=(kubernetes-client)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system test packages: all installed"
  exit 0
fi
echo "system test packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Daemons must not start on install: the tests start their own copies on loopback.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq "${missing[@]}"
