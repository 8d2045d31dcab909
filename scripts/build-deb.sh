#!/usr/bin/env bash
# Builds vigil's Debian package from a built binary with plain dpkg-deb:
# vigil_VERSION_ARCH.deb (binary stripped, unit, conffiles, rule packs,
# polkit rule, man page) and vigil-dbgsym_VERSION_ARCH.deb (its debug info,
# found by build-id). `make deb` runs it on build/vigil. Files it installs
# come from deploy/ and deploy/debian/ (see docs/deploy.md, "Debian package").
#
#   scripts/build-deb.sh [--vigil build/vigil] [--out build/deb] [--no-dbgsym]
#
# The version is the binary's own (`vigil version`, from CMake's project
# version); deploy/debian/changelog must have an entry for it.
set -euo pipefail

src="$(cd "$(dirname "$0")/.." && pwd)"
vigil="$src/build/vigil"
out="$src/build/deb"
dbgsym=1
while [ $# -gt 0 ]; do
  case $1 in
    --vigil) vigil=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-dbgsym) dbgsym=0; shift ;;
    *) echo "usage: $0 [--vigil BINARY] [--out DIR] [--no-dbgsym]" >&2; exit 2 ;;
  esac
done
for tool in dpkg-deb dpkg-shlibdeps dpkg-parsechangelog help2man objcopy strip readelf; do
  command -v "$tool" >/dev/null || { echo "build-deb: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done

version=$("$vigil" version | sed -n 's/^vigil version \([^ ]*\).*/\1/p')
changelog="$src/deploy/debian/changelog"
if [ "$(dpkg-parsechangelog -l "$changelog" -S Version)" != "$version" ]; then
  echo "build-deb: $vigil is version $version but the newest entry of $changelog is" \
    "$(dpkg-parsechangelog -l "$changelog" -S Version): add one for $version" >&2
  exit 1
fi
arch=$(dpkg --print-architecture)
# Every date in the package (file times, the man page's) is the changelog's,
# so the same inputs give the same package.
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$changelog" -S Timestamp)
export SOURCE_DATE_EPOCH

mkdir -p "$out"
out="$(cd "$out" && pwd)"
# dpkg-shlibdeps wants debian/control above the package trees.
work="$out/staging"
rm -rf "$work"
mkdir -p "$work/debian"
printf 'Source: vigil\n\nPackage: vigil\nArchitecture: any\n' >"$work/debian/control"
root="$work/debian/vigil"
dbg="$work/debian/vigil-dbgsym"
umask 022

# The binary, stripped as dh_strip does; its debug info goes to the dbgsym
# package under the build-id gdb looks for.
install -d "$root/usr/bin"
build_id=$(readelf -n "$vigil" | sed -n 's/^ *Build ID: \([0-9a-f]*\)$/\1/p')
if [ "$dbgsym" -eq 1 ]; then
  [ -n "$build_id" ] || { echo "build-deb: $vigil has no build-id; use --no-dbgsym" >&2; exit 1; }
  install -d "$dbg/usr/lib/debug/.build-id/${build_id:0:2}"
  objcopy --only-keep-debug --compress-debug-sections "$vigil" \
    "$dbg/usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug"
  chmod 0644 "$dbg/usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug"
fi
strip --remove-section=.comment --remove-section=.note -o "$root/usr/bin/vigil" "$vigil"
chmod 0755 "$root/usr/bin/vigil"

# The hardened unit as in deploy/systemd/, its install comment replaced.
install -d "$root/lib/systemd/system"
{
  echo "# vigil as a hardened system service, installed by the vigil package."
  echo "# Change it with a drop-in (systemctl edit vigil), not here: see"
  echo "# /usr/share/doc/vigil/README.Debian and docs/deploy.md."
  sed -n '/^\[Unit\]/,$p' "$src/deploy/systemd/vigil.service"
} >"$root/lib/systemd/system/vigil.service"
chmod 0644 "$root/lib/systemd/system/vigil.service"

install -D -m 0644 "$src/deploy/debian/vigil.yml" "$root/etc/vigil/vigil.yml"
install -D -m 0644 "$src/deploy/debian/recovery-units" "$root/etc/vigil/recovery-units"
install -D -m 0644 "$src/deploy/debian/50-vigil.rules" "$root/usr/share/polkit-1/rules.d/50-vigil.rules"
install -d "$root/usr/share/vigil/rules"
install -m 0644 "$src"/deploy/rules/*.yml "$root/usr/share/vigil/rules/"

doc="$root/usr/share/doc/vigil"
install -d "$doc/examples"
install -m 0644 "$src/deploy/debian/copyright" "$src/deploy/debian/README.Debian" "$doc/"
gzip -9n <"$changelog" >"$doc/changelog.gz"
install -m 0644 "$src/deploy/web-config.yml" "$src/deploy/validator-stack.yml" "$src/deploy/validator.env" \
  "$doc/examples/"

# The man page, from --help-all of this very binary.
install -d "$root/usr/share/man/man1"
help2man --no-info --no-discard-stderr --version-string="$version" --help-option=--help-all \
  --name="monitoring agent for validator hosts" --section=1 \
  --include="$src/deploy/debian/vigil.h2m" --output="$work/vigil.1" "$root/usr/bin/vigil"
gzip -9n <"$work/vigil.1" >"$root/usr/share/man/man1/vigil.1.gz"
chmod 0644 "$root/usr/share/man/man1/vigil.1.gz" "$doc/changelog.gz"

# Control files.
install -d "$root/DEBIAN"
install -m 0755 "$src/deploy/debian/postinst" "$src/deploy/debian/prerm" "$src/deploy/debian/postrm" "$root/DEBIAN/"
printf '/etc/vigil/recovery-units\n/etc/vigil/vigil.yml\n' >"$root/DEBIAN/conffiles"
shlibs=$(cd "$work" && dpkg-shlibdeps -O debian/vigil/usr/bin/vigil | sed -n 's/^shlibs:Depends=//p')
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
  xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
size_kib=$(du -k -s --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$size_kib/" \
  -e "s/@SHLIBS_DEPENDS@/$shlibs/" "$src/deploy/debian/control.in" >"$root/DEBIAN/control"

find "$root" -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +
deb="$out/vigil_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"

if [ "$dbgsym" -eq 1 ]; then
  install -d "$dbg/usr/share/doc" "$dbg/DEBIAN"
  ln -s vigil "$dbg/usr/share/doc/vigil-dbgsym"
  (cd "$dbg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | xargs -0 md5sum >DEBIAN/md5sums)
  cat >"$dbg/DEBIAN/control" <<EOF
Package: vigil-dbgsym
Source: vigil
Version: $version
Auto-Built-Package: debug-symbols
Architecture: $arch
Maintainer: $(sed -n 's/^Maintainer: //p' "$root/DEBIAN/control")
Installed-Size: $(du -k -s --exclude=DEBIAN "$dbg" | cut -f1)
Depends: vigil (= $version)
Section: debug
Priority: optional
Description: debug symbols for vigil
Build-Ids: $build_id
EOF
  chmod 0644 "$dbg/DEBIAN/control" "$dbg/DEBIAN/md5sums"
  find "$dbg" -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +
  # Its sections are zlib-compressed already: xz would spend 40 s to save 2%.
  dpkg-deb --root-owner-group -Zgzip --build "$dbg" "$out/vigil-dbgsym_${version}_${arch}.deb" >/dev/null
  echo "$out/vigil-dbgsym_${version}_${arch}.deb"
fi
