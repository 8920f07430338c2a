#!/usr/bin/env bash
# Installs what the LDAP connector's tests need: OpenLDAP (slapd + client tools) and a Samba AD DC.
# The tests start and stop their own throwaway servers; nothing is started here.
set -euo pipefail

packages=(slapd ldap-utils samba samba-ad-dc samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind krb5-user smbclient)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's packages start their services on install on some machines; the tests need the ports free.
for svc in slapd samba-ad-dc smbd nmbd winbind; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
    systemctl disable "$svc" >/dev/null 2>&1 || true
  fi
done
