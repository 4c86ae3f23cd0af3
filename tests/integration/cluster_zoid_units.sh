#!/bin/bash
# integration.cluster_zoid_units: the systemd units of a zoid deployment (dist/systemd,
# docs/zoid-deploy.md) pass `systemd-analyze verify` with nothing to say (it exits 0 on unknown
# keys and bad values and only prints them, so any output fails), and name the commands that
# docs/zoid-deploy.md gives. The installed path /usr/local/bin/zepto is replaced with the built
# zepto for the check (verify wants an executable). Skips (77) without systemd-analyze.
source "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || { echo "skip: systemd-analyze not installed"; exit 77; }
DIST=$(cd "$(dirname "$0")/../../dist/systemd" && pwd)
ZEPTO=$(readlink -f "$ZEPTO")
units=(zepto-zoid.service zepto-zoid-mount@.service)
for u in "${units[@]}"; do
  [ -f "$DIST/$u" ] || { fail "missing $DIST/$u"; continue; }
  inst=$u
  [ "$u" = zepto-zoid-mount@.service ] && inst=zepto-zoid-mount@scratch.service
  sed "s#/usr/local/bin/zepto#$ZEPTO#g" "$DIST/$u" >"$WORK/$inst"
  out=$(systemd-analyze verify "$WORK/$inst" 2>&1) || fail "$u: systemd-analyze verify exited non-zero: $out"
  [ -z "$out" ] || fail "$u: systemd-analyze verify: $out"
done
grep -q '^ExecStart=/usr/local/bin/zepto zoid serve .*--token-file' "$DIST/zepto-zoid.service" ||
  fail "zepto-zoid.service does not run zoid serve with a token"
grep -q '^ExecStart=/usr/local/bin/zepto zoid mount --foreground .*%f$' "$DIST/zepto-zoid-mount@.service" ||
  fail "zepto-zoid-mount@.service does not run zoid mount --foreground on its instance's path"
# The check itself catches a mistake: an unknown key is reported.
sed 's/^Type=simple/Tpye=simple/' "$WORK/zepto-zoid.service" >"$WORK/bad.service"
[ -n "$(systemd-analyze verify "$WORK/bad.service" 2>&1)" ] || fail "verify did not report an unknown key"
finish
