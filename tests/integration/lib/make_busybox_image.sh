#!/usr/bin/env bash
# make_busybox_image.sh — builds tidemark-busybox:latest without a registry: a rootfs tarball made of
# busybox-static's /bin/busybox plus one symlink per applet, fed to `docker import`. Idempotent: does
# nothing when the image already exists (FORCE=1 rebuilds). Needs a running dockerd.
# Environment overrides: DOCKER (default /usr/bin/docker), BUSYBOX (default /bin/busybox),
# IMAGE (default tidemark-busybox:latest).
set -euo pipefail

DOCKER="${DOCKER:-/usr/bin/docker}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
IMAGE="${IMAGE:-tidemark-busybox:latest}"

if [[ "${FORCE:-0}" != 1 ]] && "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "make_busybox_image: $IMAGE already exists"
  exit 0
fi
[[ -x "$BUSYBOX" ]] || { echo "make_busybox_image: $BUSYBOX missing (apt-get install busybox-static)" >&2; exit 1; }
if ! file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked'; then
  if ldd "$BUSYBOX" >/dev/null 2>&1; then
    echo "make_busybox_image: $BUSYBOX is dynamically linked; need busybox-static" >&2
    exit 1
  fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,var}
chmod 1777 "$root/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
# `busybox --list-full` names every applet with its directory (bin/sh, usr/bin/env, ...).
"$root/bin/busybox" --list-full | while read -r applet; do
  [[ -n "$applet" && "$applet" != bin/busybox ]] || continue
  ln -sf /bin/busybox "$root/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$work/rootfs.tar" .
"$DOCKER" import \
  --change 'CMD ["/bin/sh"]' \
  --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
  --message 'tidemark test image: busybox-static' \
  "$work/rootfs.tar" "$IMAGE" >/dev/null
echo "make_busybox_image: built $IMAGE"
