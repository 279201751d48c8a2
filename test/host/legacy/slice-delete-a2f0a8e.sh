set -eu
unit='__UNIT__'
dir='/etc/systemd/system'
if ! command -v systemctl >/dev/null 2>&1 || [ ! -d /run/systemd/system ]; then
  echo 'metamcp-guard: host slices need systemd, and' "$(hostname)" 'does not run it (set host.slices.enabled false)' >&2
  exit 1
fi
tasks=$(systemctl show -p TasksCurrent --value "$unit" 2>/dev/null || true)
case "$tasks" in ""|*[!0-9]*) tasks=0 ;; esac
if [ "$tasks" -gt 0 ]; then
  echo "metamcp-guard: $unit still holds $tasks tasks; left in place (its limits keep binding). Once it is empty: systemctl stop $unit; rm $dir/$unit; systemctl daemon-reload" >&2
  exit 0
fi
systemctl stop "$unit" 2>/dev/null || true
rm -f "$dir/$unit"
systemctl daemon-reload
echo "metamcp-guard: $unit stopped and removed"
